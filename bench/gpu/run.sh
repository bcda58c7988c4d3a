#!/bin/sh
# run.sh - the Vulkan figures of bench/vulkan_bench.py on this machine's GPU, in one command.
#
# Usage: bench/gpu/run.sh [--check] [extra vulkan_bench.py arguments]
#
# Builds librmc with the Vulkan backend into build-gpu/ (Release), lists the devices, then
# runs bench/vulkan_bench.py against the GPU that backend "auto" picks (RMC_VULKAN_DEVICE
# or --device NAME picks another) and writes bench/gpu/results-HOST.md. Takes well under
# five minutes on a machine with a GPU; most of it is the build.
#
# --check first runs the C equivalence and sampling test (tests/test_vulkan.c) on that
# device, which adds a few minutes.
#
# Needs: cmake, a C compiler, libvulkan-dev libvulkan-volk-dev libshaderc-dev glslang-dev
# (scripts/install-deps.sh), Python 3 with numpy, and a Vulkan driver for the GPU.
set -eu

root=$(cd "$(dirname "$0")/../.." && pwd)
build=${RMC_GPU_BUILD:-$root/build-gpu}
host=$(hostname -s 2>/dev/null || echo host)
out=$root/bench/gpu/results-$host.md
check=0
if [ "${1:-}" = "--check" ]; then
    check=1
    shift
fi

start=$(date +%s)
tests=OFF
[ "$check" -eq 1 ] && tests=ON
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRMC_VULKAN=ON \
    -DRMC_BUILD_TESTS=$tests -DRMC_BUILD_BENCH=OFF -DRMC_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
RMC_LIBRARY=$build/librmc.so
export RMC_LIBRARY

PYTHONPATH=$root/python "${PYTHON:-python3}" -c '
import rmc
ok, why = rmc.vulkan_status()
print("vulkan:", "available" if ok else why)
for d in rmc.devices():
    print("  device %(index)d: %(name)s (%(type)s, float64 %(float64)s, %(memory)d bytes)" % d)
'

device=${RMC_VULKAN_DEVICE:-auto}
if [ "$check" -eq 1 ]; then
    # the test asks for a device by name or index; "auto" means the first GPU
    index=$(PYTHONPATH=$root/python "${PYTHON:-python3}" -c '
import sys, rmc
gpus = [d["index"] for d in rmc.devices() if d["automatic"]]
print(sys.argv[1] if sys.argv[1] != "auto" else (gpus[0] if gpus else "none"))
' "$device")
    RMC_TEST_VULKAN_DEVICE=$index "$build/tests/test_vulkan"
fi

"${PYTHON:-python3}" "$root/bench/vulkan_bench.py" --device "$device" --out "$out" "$@"
# Many-chain throughput on the device (ChEES, 2 to 16,384 chains); ESS per gradient does not
# depend on the backend and is left to bench/bench_chees.py on the CPU.
if [ "$device" = auto ]; then chees_dev=""; else chees_dev="--device $device"; fi
# shellcheck disable=SC2086
"${PYTHON:-python3}" "$root/bench/bench_chees.py" --runs 1 --backend vulkan $chees_dev \
    --skip-efficiency --out "$root/bench/gpu/chees-$host.md"
echo "bench/gpu: done in $(( $(date +%s) - start )) s; wrote $out"
