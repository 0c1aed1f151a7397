#!/usr/bin/env bash
# Installs the system libraries Sketchgrad links against (OpenBLAS, LAPACKE) when they are missing.
# Safe to run repeatedly: it does nothing when both are present.
set -euo pipefail

have_libs() {
    pkg-config --exists openblas 2>/dev/null && [ -f /usr/include/lapacke.h ]
}

if have_libs; then exit 0; fi

echo "bootstrap: installing libopenblas-dev and liblapacke-dev" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "bootstrap: need root or sudo to install libopenblas-dev liblapacke-dev" >&2; exit 1; }
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq libopenblas-dev liblapacke-dev pkg-config >/dev/null
have_libs || { echo "bootstrap: OpenBLAS/LAPACKE still not found after install" >&2; exit 1; }
