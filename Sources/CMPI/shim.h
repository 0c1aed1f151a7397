// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are macros over addresses of C
// structs, which Swift cannot import; these functions return them.
#include <mpi.h>

static inline MPI_Comm sg_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype sg_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype sg_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Datatype sg_byte(void) { return MPI_BYTE; }
static inline MPI_Op sg_sum(void) { return MPI_SUM; }
static inline MPI_Op sg_max(void) { return MPI_MAX; }
static inline MPI_Op sg_min(void) { return MPI_MIN; }
static inline void *sg_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *sg_status_ignore(void) { return MPI_STATUS_IGNORE; }
