#!/usr/bin/env bash
# Every test: the C suite through ctest (cmocka), then the Python suite through pytest.
# posteriordb tests read ../shared/posteriordb or $RMC_POSTERIORDB and skip without it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

# Keep tests from writing caches into the home folder.
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$(mktemp -d)}"

(cd build && ctest --output-on-failure -j2)

PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" ${PYTHON:-python3} -m pytest -q tests/python
