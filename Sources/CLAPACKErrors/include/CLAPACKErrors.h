#ifndef CLAPACK_ERRORS_H
#define CLAPACK_ERRORS_H

/// Takes the last report LAPACK made on this thread through `xerbla_` (a routine called with an
/// illegal argument, most often an inner routine of a driver that was given valid input) and
/// clears it. Returns the argument number (0: no report) and copies the routine's name, NUL
/// terminated, into `name` (at least 16 bytes).
int sketchgrad_lapack_take_report(char *name);

#endif
