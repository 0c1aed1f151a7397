#include "CLAPACKErrors.h"

// LAPACK reports an illegal argument by calling `xerbla_`, whose reference version (weak in
// OpenBLAS, so this definition replaces it) prints to stdout and returns, leaving the driver to
// carry on with a result that cannot be trusted. Recording the report instead lets the caller
// fall back to another routine or fail with an error, and keeps stdout (JSON) clean.

static _Thread_local int lastArgument;
static _Thread_local char lastName[16];

// The hidden length of the Fortran string is read as 32 bits: C callers pass an int.
void xerbla_(const char *name, const int *info, unsigned int length) {
    unsigned int n = 0;
    while (n < length && n < sizeof lastName - 1 && name[n] != ' ' && name[n] != '\0') {
        lastName[n] = name[n];
        n++;
    }
    lastName[n] = '\0';
    lastArgument = (info && *info != 0) ? *info : -1;
}

int sketchgrad_lapack_take_report(char *name) {
    int argument = lastArgument;
    for (unsigned int i = 0; i < sizeof lastName; i++) name[i] = lastName[i];
    lastArgument = 0;
    lastName[0] = '\0';
    return argument;
}
