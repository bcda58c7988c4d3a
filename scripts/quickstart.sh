#!/usr/bin/env bash
# Fresh machine to first posterior: install what is missing, build, run the quick start.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" ${PYTHON:-python3} quickstart.py
