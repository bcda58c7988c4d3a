#!/usr/bin/env python3
"""Time the Python quick-start: `python3 quickstart.py` end to end, and rmc.sample alone.

Run from anywhere: python3 bench/quickstart_time.py [--runs 5]

1. Runs `python3 quickstart.py` in the repository root --runs times, each in a fresh
   interpreter, and reports the median (and min, max) wall time: what a user waits for,
   interpreter start, imports and compilation included.
2. Runs the same script --runs more times with rmc.sample (and any `sample` method of a
   class the rmc package exports) wrapped in a timer, and reports the median time spent
   inside the outermost sample calls of each run. Wrapping instead of rewriting the model
   here keeps the measurement honest to whatever quickstart.py does.

The rmc Python package is found at <root>/python (prepended to PYTHONPATH).
Exit status: 0 on success, 1 if a run fails, 77 if quickstart.py or the package is missing.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP = 77

# Runs inside the child interpreter: wrap the sample entry points, run quickstart.py as
# __main__, then write the times of the outermost sample calls to the file named by argv[1].
WRAPPER = r"""
import inspect, json, runpy, sys, time
import rmc

times = []
depth = [0]

def timed(fn):
    def wrapper(*args, **kwargs):
        # Only the outermost call counts: a method may call the module function.
        depth[0] += 1
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                times.append(time.perf_counter() - start)
    wrapper.__wrapped__ = fn
    return wrapper

patched = []
if callable(getattr(rmc, "sample", None)):
    rmc.sample = timed(rmc.sample)
    patched.append("rmc.sample")
for name, obj in list(vars(rmc).items()):
    if inspect.isclass(obj) and inspect.isfunction(obj.__dict__.get("sample")):
        setattr(obj, "sample", timed(obj.__dict__["sample"]))
        patched.append("rmc.%s.sample" % name)

out_path = sys.argv[1]
sys.argv = ["quickstart.py"]
runpy.run_path("quickstart.py", run_name="__main__")
with open(out_path, "w") as f:
    json.dump({"times": times, "patched": patched}, f)
"""


def child_env():
    env = dict(os.environ)
    pythonpath = os.path.join(ROOT, "python")
    if env.get("PYTHONPATH"):
        pythonpath += os.pathsep + env["PYTHONPATH"]
    env["PYTHONPATH"] = pythonpath
    return env


def run_checked(cmd, env):
    """Run cmd in the repository root, output discarded; return its wall time."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise RuntimeError("%s exited with status %d" % (" ".join(cmd), proc.returncode))
    return elapsed


def describe(values):
    return "median %.3f s (min %.3f, max %.3f, n=%d)" % (
        statistics.median(values), min(values), max(values), len(values))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each kind (5)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    env = child_env()
    if not os.path.isfile(os.path.join(ROOT, "quickstart.py")):
        print("skipped: %s does not exist" % os.path.join(ROOT, "quickstart.py"))
        return SKIP
    probe = subprocess.run([sys.executable, "-c", "import rmc"], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    if probe.returncode != 0:
        print("skipped: the rmc Python package does not import from %s/python:\n%s"
              % (ROOT, probe.stderr.strip()))
        return SKIP

    try:
        # End to end, exactly as a user runs it.
        wall = [run_checked([sys.executable, "quickstart.py"], env)
                for _ in range(args.runs)]

        # The sample calls alone.
        sample_totals, calls, patched = [], set(), []
        with tempfile.TemporaryDirectory() as tmp:
            out_path = os.path.join(tmp, "times.json")
            for _ in range(args.runs):
                run_checked([sys.executable, "-c", WRAPPER, out_path], env)
                with open(out_path) as f:
                    result = json.load(f)
                patched = result["patched"]
                calls.add(len(result["times"]))
                sample_totals.append(sum(result["times"]))
    except RuntimeError as err:
        print("failed: %s" % err)
        return 1

    print("python3 quickstart.py, end to end: %s" % describe(wall))
    if calls == {0}:
        print("rmc.sample alone: not measured: quickstart.py made no call through %s"
              % (", ".join(patched) or "any sample entry point found in rmc"))
        return 0
    print("rmc.sample alone:                  %s" % describe(sample_totals))
    print("  (timed via %s; sample calls per run: %s)"
          % (", ".join(patched), ", ".join(str(c) for c in sorted(calls))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
