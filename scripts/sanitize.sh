#!/usr/bin/env bash
# Reliability jobs (docs/RELIABILITY.md): the C tests under AddressSanitizer (with
# LeakSanitizer and allocation fault injection), UndefinedBehaviorSanitizer and, for the
# threaded tests, ThreadSanitizer; valgrind memcheck on the quick C suite; a bounded
# libFuzzer run from the seed corpus; and the draws of a -march=native build against the
# portable one. Each job builds in its own folder (build-asan, build-ubsan, ...).
#
#   scripts/sanitize.sh                 # every job (ASan and UBSan in one build)
#   scripts/sanitize.sh asan ubsan fuzz # some of them, each sanitizer on its own
#   FUZZ_SECONDS=600 scripts/sanitize.sh fuzz     # a longer fuzzing run
#   (FUZZ_MODELFILE_SECONDS, 60 by default, is the model-file harness's share)
#
# Known open defects are tests named known_bug_* that ctest expects to fail; a job fails on
# anything else. A summary of the time each job took is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# clang with its sanitizer and libFuzzer runtimes, valgrind, cmocka: as test.sh does, so
# that this also runs first on a fresh machine (it returns at once when all is there).
scripts/install-deps.sh

JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-90}
# A fixed libFuzzer seed: CI then walks the same sequence of mutations every run, so a red
# fuzz job means a change broke something, not that chance found an old defect on the day.
# FUZZ_SEED=0 picks a fresh random seed (the longer runs of tests/fuzz/README.md).
FUZZ_SEED=${FUZZ_SEED:-1}
export CC=${SANITIZE_CC:-clang}
export XDG_CACHE_HOME="${XDG_CACHE_HOME:-$(mktemp -d)}"
# Sanitizer reports must fail the run, as an exit status (not an abort, which ctest counts
# as a crash even for the known_bug_* tests it expects to fail); huge requests return NULL
# as without ASan, so that the library's own out-of-memory paths are what is tested.
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:${TSAN_OPTIONS:-}"

summary=()

# configure DIR [cmake options...]: a test build without benchmarks or examples. -O1 keeps
# sanitizer builds quick to compile and their stacks readable; BUILD_TYPE overrides. The
# Vulkan backend is left out: these jobs check the library's own C, and a GPU driver
# (lavapipe) neither runs under the sanitizers' runtimes nor fits in their time.
configure() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" -DRMC_BUILD_BENCH=OFF -DRMC_BUILD_EXAMPLES=OFF \
    -DRMC_VULKAN=OFF "$@" >/dev/null
}

# build DIR [cmake --build options...]: quiet unless it fails.
build() {
  if ! cmake --build "$1" -j"$JOBS" "${@:2}" >"$1/build.log" 2>&1; then
    tail -40 "$1/build.log"
    return 1
  fi
}

timed() {
  local name=$1 t0=$SECONDS
  shift
  echo "== sanitize: $name"
  "$@"
  summary+=("$(printf '%-12s %4d s' "$name" $((SECONDS - t0)))")
  echo "== sanitize: $name took $((SECONDS - t0)) s"
}

# ASan and UBSan in one build by default: one compile and one run of the suite instead of
# two, which keeps CI within its time; each is also a job of its own.
job_asan-ubsan() {
  configure build-asan-ubsan -DRMC_SANITIZE=address,undefined -DRMC_FAULT_INJECTION=ON
  build build-asan-ubsan
  (cd build-asan-ubsan && ctest --output-on-failure -j"$JOBS")
}

job_asan() {
  configure build-asan -DRMC_SANITIZE=address -DRMC_FAULT_INJECTION=ON
  build build-asan
  (cd build-asan && ctest --output-on-failure -j"$JOBS")
}

job_ubsan() {
  configure build-ubsan -DRMC_SANITIZE=undefined
  build build-ubsan
  (cd build-ubsan && ctest --output-on-failure -j"$JOBS")
}

job_tsan() {
  configure build-tsan -DRMC_SANITIZE=thread
  build build-tsan --target test_concurrency
  (cd build-tsan && ctest --output-on-failure -L threads)
}

# valgrind on a plain build (it cannot run under the sanitizers' runtimes): the quick
# tests, as ctest would run them, each under memcheck; an error or a definite or possible
# leak fails it. Built with the default compiler, as users build.
job_valgrind() {
  CC=${VALGRIND_CC:-cc} configure build-valgrind
  build build-valgrind
  (cd build-valgrind && ctest --show-only=json-v1 -L quick -LE known_bug >tests.json)
  python3 - build-valgrind/tests.json <<'PY'
import json, subprocess, sys, time
tests = json.load(open(sys.argv[1]))["tests"]
flags = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
         "--errors-for-leak-kinds=definite,possible", "--show-leak-kinds=definite,possible",
         "--track-origins=yes"]
failed = []
for t in tests:
    t0 = time.time()
    rc = subprocess.run(flags + t["command"], stdout=subprocess.DEVNULL).returncode
    print("valgrind %-20s %s (%.0f s)" % (t["name"], "ok" if rc == 0 else "FAILED rc=%d" % rc,
                                         time.time() - t0), flush=True)
    if rc != 0:
        failed.append(t["name"])
sys.exit(1 if failed else 0)
PY
}

# libFuzzer from the seed corpus for FUZZ_SECONDS; a crash, leak or time-out fails the job
# and leaves its input in build-fuzz/artifacts/ (make it a regression test: README there).
job_fuzz() {
  configure build-fuzz -DRMC_SANITIZE=address,undefined -DRMC_FUZZ=ON
  build build-fuzz --target fuzz_model fuzz_modelfile
  rm -rf build-fuzz/corpus build-fuzz/corpus_modelfile build-fuzz/artifacts
  mkdir -p build-fuzz/corpus build-fuzz/corpus_modelfile build-fuzz/artifacts
  cp tests/fuzz/corpus/* build-fuzz/corpus/
  cp tests/fuzz/corpus_modelfile/* build-fuzz/corpus_modelfile/
  build-fuzz/tests/fuzz/fuzz_model -max_total_time="$FUZZ_SECONDS" -seed="$FUZZ_SEED" \
    -rss_limit_mb=2048 -timeout=20 -artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 \
    build-fuzz/corpus >build-fuzz/fuzz.log 2>&1 || { tail -60 build-fuzz/fuzz.log; exit 1; }
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)" \
    build-fuzz/fuzz.log
  echo "corpus: $(ls build-fuzz/corpus | wc -l) inputs"
  # Model files (rmc_model_load_json): FUZZ_MODELFILE_SECONDS, 60 by default.
  build-fuzz/tests/fuzz/fuzz_modelfile -max_total_time="${FUZZ_MODELFILE_SECONDS:-60}" \
    -seed="$FUZZ_SEED" -rss_limit_mb=2048 -timeout=20 -dict=tests/fuzz/modelfile.dict \
    -artifact_prefix=build-fuzz/artifacts/ -print_final_stats=1 build-fuzz/corpus_modelfile \
    >build-fuzz/fuzz_modelfile.log 2>&1 || { tail -60 build-fuzz/fuzz_modelfile.log; exit 1; }
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)" \
    build-fuzz/fuzz_modelfile.log
  echo "model-file corpus: $(ls build-fuzz/corpus_modelfile | wc -l) inputs"
}

# Same seed, same draws, whatever the CPU's vector width: the portable library against one
# built with -march=native, both with the default flags (no FMA contraction, which the
# library's CMakeLists sets); a difference fails the job. A third build lets the compiler
# contract a*b+c (-DRMC_FP_CONTRACT=ON): its draws differ with clang on FMA machines,
# which is reported, not failed, to show that the default flag is what keeps the promise.
job_determinism() {
  local dir
  for variant in portable native native-fma; do
    dir=build-det-$variant
    case $variant in
      portable) BUILD_TYPE=Release configure "$dir" ;;
      native) BUILD_TYPE=Release configure "$dir" -DRMC_NATIVE=ON ;;
      native-fma) BUILD_TYPE=Release configure "$dir" -DRMC_NATIVE=ON -DRMC_FP_CONTRACT=ON ;;
    esac
    build "$dir" --target determinism_digest
    "$dir/tests/determinism_digest" --digest >"$dir/digest.txt"
  done
  if cmp -s build-det-portable/digest.txt build-det-native/digest.txt; then
    echo "native: the same draws as the portable build"
  else
    echo "native differs from the portable build:"
    diff build-det-portable/digest.txt build-det-native/digest.txt || true
    exit 1
  fi
  if cmp -s build-det-portable/digest.txt build-det-native-fma/digest.txt; then
    echo "native with FMA contraction allowed ($CC): the same draws too"
  else
    echo "native with FMA contraction allowed ($CC): other draws (why it is off by default)"
  fi
}

all=(asan-ubsan tsan valgrind fuzz determinism)
for job in "${@:-${all[@]}}"; do
  case $job in
    asan-ubsan | asan | ubsan | tsan | valgrind | fuzz | determinism) timed "$job" "job_$job" ;;
    *) echo "sanitize.sh: unknown job '$job' (jobs: ${all[*]} asan ubsan)" >&2; exit 2 ;;
  esac
done

echo "== sanitize: done"
printf '%s\n' "${summary[@]}"
