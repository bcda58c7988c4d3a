#!/usr/bin/env bash
# Install what rmc needs to build and test, skipping whatever is already there.
# Debian packages: compiler, CMake, cmocka (C tests), cJSON (tests read posteriordb JSON).
# Python: numpy and pytest from PyPI for the `python3` on PATH (see README, "Python").
set -euo pipefail

debs=(build-essential cmake pkg-config libcmocka-dev libcjson-dev)
missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

py=${PYTHON:-python3}
if ! "$py" -c 'import numpy, pytest' 2>/dev/null; then
  echo "install-deps: installing numpy and pytest for $("$py" -c 'import sys; print(sys.executable)')"
  "$py" -m pip install --quiet --disable-pip-version-check numpy pytest
fi
