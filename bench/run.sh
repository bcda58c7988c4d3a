#!/bin/sh
# run.sh - build and run every benchmark, and write bench/RESULTS.md.
#
# Usage: bench/run.sh            (from anywhere)
# Environment: RMC_BENCH_BUILD   build folder (default <root>/build-bench, kept apart from
#                                build/ so that reconfiguring here never disturbs it)
#              RMC_BENCH_CMAKE   extra cmake arguments, e.g. -DRMC_NATIVE=ON
#
# Exits non-zero if any benchmark fails; RESULTS.md is written either way, saying which.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${RMC_BENCH_BUILD:-$root/build-bench}
results=$root/bench/RESULTS.md
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Tests are off: they need cmocka, which the benchmarks do not.
# shellcheck disable=SC2086
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DRMC_BUILD_TESTS=OFF \
    -DRMC_BUILD_BENCH=ON -DRMC_BUILD_EXAMPLES=OFF ${RMC_BENCH_CMAKE:-} >/dev/null
cmake --build "$build" -j2 --target bench_grad bench_threads

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
compiler=$(${CC:-cc} --version 2>/dev/null | head -n 1)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "none (uncommitted tree)")
failed=0

{
    echo "# rmc benchmark results"
    echo
    echo "Written by \`bench/run.sh\`; rerun it to refresh. Timings are medians, so a noisy,"
    echo "shared machine moves them less than single runs would, but they still move."
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- machine: $(nproc) logical CPUs, ${cpu:-unknown CPU}"
    echo "- load average at start: $(cut -d ' ' -f 1-3 /proc/loadavg)"
    echo "- compiler: ${compiler:-unknown}"
    echo "- commit: $commit"
    echo "- rmc built -O2 (Release); hand-written densities -O3; extra cmake arguments:" \
        "${RMC_BENCH_CMAKE:-none}"
    echo "- Python: $(${PYTHON:-python3} --version 2>&1)"
    echo
} >"$results"

# run_section TITLE COMMAND...: run a benchmark, echo its output, append it to RESULTS.md.
run_section() {
    title=$1
    shift
    echo "== $title"
    status=0
    "$@" >"$log" 2>&1 || status=$?
    cat "$log"
    {
        echo "## $title"
        echo
        echo '```'
        cat "$log"
        echo '```'
        echo
        if [ "$status" -eq 77 ]; then
            echo "Skipped (exit status 77)."
            echo
        elif [ "$status" -ne 0 ]; then
            echo "**Failed with exit status $status.**"
            echo
            failed=1
        fi
    } >>"$results"
}

run_section "Gradient evaluations per second (bench_grad)" "$build/bench/bench_grad"
run_section "NUTS threads, eight schools (bench_threads)" "$build/bench/bench_threads"
# The Python package loads librmc.so at run time: point it at the library just built, so
# that C and Python figures come from the same code (an RMC_LIBRARY set by the caller wins).
RMC_LIBRARY=${RMC_LIBRARY:-$build/librmc.so}
export RMC_LIBRARY
run_section "Python quick-start (quickstart_time.py)" \
    "${PYTHON:-python3}" "$root/bench/quickstart_time.py"

# Optional, and long (it compiles every posterior in Stan, PyMC and nutpie): the
# side-by-side comparison, with the library built above. It writes its own
# bench/RESULTS-compare.md; see bench/README.md. RMC_BENCH_COMPARE_ARGS passes options on.
if [ "${RMC_BENCH_COMPARE:-0}" != 0 ]; then
    echo "== rmc against Stan, PyMC and nutpie (bench/compare/run.py)"
    status=0
    # shellcheck disable=SC2086
    "${PYTHON:-python3}" "$root/bench/compare/run.py" ${RMC_BENCH_COMPARE_ARGS:-} || status=$?
    {
        echo "## rmc against Stan, PyMC and nutpie"
        echo
        echo "See \`bench/RESULTS-compare.md\` (exit status $status)."
        echo
    } >>"$results"
    [ "$status" -eq 0 ] || failed=1
fi

echo "wrote $results"
exit "$failed"
