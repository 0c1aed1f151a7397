#!/usr/bin/env bash
# Installs the system libraries Sketchgrad links against (OpenBLAS, LAPACKE) when they are missing;
# with --mpi also Open MPI (libopenmpi-dev, openmpi-bin) for `swift build --traits MPI`.
# Safe to run repeatedly: it does nothing when everything asked for is present.
set -euo pipefail

mpi=0
for arg in "$@"; do
    case "$arg" in
        --mpi) mpi=1 ;;
        *) echo "bootstrap: unknown option $arg (usage: bootstrap.sh [--mpi])" >&2; exit 2 ;;
    esac
done

have_libs() {
    pkg-config --exists openblas 2>/dev/null && [ -f /usr/include/lapacke.h ]
}

have_mpi() {
    pkg-config --exists ompi-c 2>/dev/null && command -v mpirun >/dev/null 2>&1
}

if ! have_libs; then
    echo "bootstrap: installing libopenblas-dev and liblapacke-dev" >&2
    bash "$(dirname "$0")/apt_install.sh" libopenblas-dev liblapacke-dev pkg-config
    have_libs || { echo "bootstrap: OpenBLAS/LAPACKE still not found after install" >&2; exit 1; }
fi

if [ "$mpi" = 1 ] && ! have_mpi; then
    echo "bootstrap: installing libopenmpi-dev and openmpi-bin" >&2
    bash "$(dirname "$0")/apt_install.sh" libopenmpi-dev openmpi-bin pkg-config
    have_mpi || { echo "bootstrap: Open MPI (pkg-config ompi-c, mpirun) still not found after install" >&2; exit 1; }
fi
exit 0
