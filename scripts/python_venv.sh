#!/usr/bin/env bash
# Creates (or reuses) a Python virtual environment at $1 and installs the packages named after it
# from the package registry. On a machine without python3 or its venv module (Debian's python3-venv)
# it installs them with apt-get first. Fails loudly: nothing is skipped.
set -euo pipefail
venv=${1:?usage: python_venv.sh DIR PACKAGE...}
shift

try_venv() { python3 -m venv "$venv" >/dev/null 2>&1 && [ -x "$venv/bin/pip" ]; }

if ! [ -x "$venv/bin/pip" ] && ! { command -v python3 >/dev/null 2>&1 && try_venv; }; then
    echo "python_venv: installing python3 and python3-venv" >&2
    rm -rf "$venv"
    bash "$(dirname "$0")/apt_install.sh" python3 python3-venv
    try_venv || { echo "python_venv: cannot create a virtual environment at $venv" >&2; exit 1; }
fi
"$venv/bin/pip" install -q --disable-pip-version-check "$@"
