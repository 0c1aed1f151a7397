#!/usr/bin/env bash
# Installs the system libraries Sketchgrad links against (OpenBLAS, LAPACKE) when they are missing.
# Safe to run repeatedly: it does nothing when both are present.
set -euo pipefail

have_libs() {
    pkg-config --exists openblas 2>/dev/null && [ -f /usr/include/lapacke.h ]
}

if have_libs; then exit 0; fi

echo "bootstrap: installing libopenblas-dev and liblapacke-dev" >&2
bash "$(dirname "$0")/apt_install.sh" libopenblas-dev liblapacke-dev pkg-config
have_libs || { echo "bootstrap: OpenBLAS/LAPACKE still not found after install" >&2; exit 1; }
