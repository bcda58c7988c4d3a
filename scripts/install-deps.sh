#!/usr/bin/env bash
# Install what rmc needs to build and test, skipping whatever is already there.
# Debian packages: compiler, CMake, cmocka (C tests), cJSON (tests read posteriordb JSON),
# clang and valgrind (scripts/sanitize.sh: sanitizers, libFuzzer, memcheck).
# Python: numpy, pytest, scipy, arviz, matplotlib, wheel from PyPI for the `python3` on PATH
# (see README, "Python").
set -euo pipefail

debs=(build-essential cmake pkg-config libcmocka-dev libcjson-dev clang valgrind libvulkan-dev libvulkan-volk-dev libshaderc-dev glslc glslang-dev glslang-tools mesa-vulkan-drivers)
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

# Debian's clang only recommends its sanitizer and libFuzzer runtimes (libclang-rt-N-dev):
# ask for them by name when a fuzzer cannot be linked.
if command -v clang >/dev/null 2>&1 &&
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
     clang -fsanitize=fuzzer,address -x c - -o /dev/null 2>/dev/null; then
  major=$(clang -dumpversion | cut -d. -f1)
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: installing libclang-rt-$major-dev"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "libclang-rt-$major-dev" >/dev/null
fi

py=${PYTHON:-python3}
# arviz (which brings matplotlib) is for the output tests: from_cmdstan, to_arviz, plots;
# wheel lets the packaging test run `pip install ./python` offline.
if ! "$py" -c 'import numpy, pytest, scipy, arviz, matplotlib, wheel' 2>/dev/null; then
  echo "install-deps: installing numpy, pytest, scipy, arviz, matplotlib and wheel for" \
    "$("$py" -c 'import sys; print(sys.executable)')"
  "$py" -m pip install --quiet --disable-pip-version-check numpy pytest scipy arviz \
    matplotlib wheel
fi
