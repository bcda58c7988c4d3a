#!/usr/bin/env python3
"""Vulkan backend figures: time to the first gradient, and gradients per second by batch.

    python3 bench/vulkan_bench.py [--device llvmpipe] [--out bench/vulkan_results.md]

1. Model to first gradient, in fresh interpreters, with every cache empty (first run) and
   then warm (cached run): instance (loader, drivers, device list), device and pipeline
   (logical device, SPIR-V compile or cache, pipeline, data upload), and the first
   dispatch (lavapipe compiles the shader to machine code there; Mesa caches that too).
2. Chain-gradient evaluations per second against batch size (1, 64, 1024, 16384) for the
   quick-start model (1000 observations) and eight schools, CPU backend (all cores) and
   Vulkan side by side, each timed for about --seconds.

The library comes from $RMC_LIBRARY (else the package's usual search). --device names the
Vulkan device (default: $RMC_VULKAN_DEVICE, else "llvmpipe" for lavapipe; "auto" lets the
library choose a GPU). Exit status 77 when no Vulkan device can be used.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import numpy as np  # noqa: E402
import rmc  # noqa: E402
from rmc import _lib  # noqa: E402

BATCHES = (1, 64, 1024, 16384)


def quickstart():
    rng = np.random.default_rng(42)
    n = 1000
    x = rng.normal(size=n)
    y = 2.5 * x + rng.normal(size=n)
    b = rmc.ModelBuilder()
    beta = b.normal_prior("beta", mu=0.0, sigma=1.0)
    b.normal_likelihood("obs", mu_expr=beta * "x", sigma=1.0, observed_key="y")
    return b.build(), {"x": x, "y": y}


def eight_schools():
    b = rmc.ModelBuilder()
    mu = b.param("mu", prior=rmc.Normal(0, 5))
    tau = b.param("tau", prior=rmc.HalfCauchy(5))
    theta_trans = b.param("theta_trans", shape="J", prior=rmc.Normal(0, 1))
    theta = b.deterministic("theta", mu + tau * theta_trans)
    b.observe("y", rmc.Normal(theta, "sigma"))
    data = {"J": 8, "y": np.array([28.0, 8, -3, 7, -1, 1, 18, 12]),
            "sigma": np.array([15.0, 10, 16, 11, 9, 11, 10, 18])}
    return b.build(), data


MODELS = {"quickstart": quickstart, "eight_schools": eight_schools}

# Runs in a fresh interpreter: one model to its first gradient, phases timed; the
# library's log gives the split of the device step.
FIRST = r"""
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import numpy as np, rmc
from rmc import _lib
from vulkan_bench import MODELS
log = []
keep = _lib.LOG_FN(lambda level, msg, user: log.append(msg.decode()))
_lib.lib.rmc_set_log_callback(keep, None)
model, data = MODELS[sys.argv[3]]()
program = rmc.Program(model, data)
t1 = time.perf_counter()
rmc.devices()
t2 = time.perf_counter()
device = None if sys.argv[4] == "auto" else sys.argv[4]
ev = rmc.Evaluator(program, backend="vulkan", device=device)
t3 = time.perf_counter()
ev.logp_grad(np.zeros(program.dim))
t4 = time.perf_counter()
print(json.dumps({"import_and_bind": t1 - t0, "instance": t2 - t1, "setup": t3 - t2,
                  "first_dispatch": t4 - t3, "device": ev.device, "log": log}))
"""


def first_gradient(model, device, cache):
    env = dict(os.environ, XDG_CACHE_HOME=cache)
    env.pop("RMC_CACHE_DIR", None)
    env.pop("RMC_SPIRV_CACHE", None)
    env.pop("MESA_SHADER_CACHE_DISABLE", None)
    out = subprocess.run([sys.executable, "-c", FIRST, os.path.join(ROOT, "python"),
                          os.path.join(ROOT, "bench"), model, device], env=env,
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    # "vulkan: narrow form ...: compile 12.3 ms (compiled), pipeline 4.5 ms"
    res["compile"] = res["pipeline"] = float("nan")
    res["cached"] = ""
    for line in res["log"]:
        if " form of " in line and "compile" in line:
            part = line.split("compile ")[1]
            res["compile"] = float(part.split(" ms")[0]) / 1e3
            res["cached"] = "cache" if "cache" in part else "compiled"
            res["pipeline"] = float(line.split("pipeline ")[1].split(" ms")[0]) / 1e3
        if "ready on" in line and "(device " in line:
            res["device_time"] = float(line.split("(device ")[1].split(" ms")[0]) / 1e3
    return res


def rate(evaluator, dim, batch, seconds):
    """Chain-gradient evaluations per second at this batch size."""
    x = np.random.default_rng(batch).uniform(-1, 1, (batch, dim))
    evaluator.logp_grad(x)                    # warm: buffers, the other shader form
    calls, start = 0, time.perf_counter()
    while True:
        evaluator.logp_grad(x)
        calls += 1
        spent = time.perf_counter() - start
        if spent >= seconds and calls >= 2:
            return calls * batch / spent


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=os.environ.get("RMC_VULKAN_DEVICE") or "llvmpipe")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "vulkan_results.md"))
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--batches", default=",".join(map(str, BATCHES)))
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    device = None if args.device == "auto" else args.device

    ok, why = rmc.vulkan_status()
    if not ok:
        print("no Vulkan here: %s" % why)
        return 77
    if device is None and not any(d["automatic"] for d in rmc.devices()):
        print("no GPU among the Vulkan devices (%s); name one with --device"
              % ", ".join(d["name"] for d in rmc.devices()))
        return 77
    lines = ["# Vulkan backend figures", "",
             "Written by `bench/vulkan_bench.py`; rerun it to refresh.", "",
             "- date: %s" % datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
             "- machine: %d logical CPUs, %s; load average at start %s"
             % (os.cpu_count(), platform.processor() or platform.machine(),
                " ".join(open("/proc/loadavg").read().split()[:3])),
             "- library: %s" % _lib.library_path]
    for d in rmc.devices():
        lines.append("- Vulkan device %d: %s (%s, float64 %s)" % (d["index"], d["name"],
                                                                  d["type"], d["float64"]))
    lines.append("")

    # 1. time to the first gradient
    lines += ["## Model to first gradient", "",
              "Fresh interpreter each time; caches (rmc's SPIR-V, Mesa's shaders) in an "
              "empty folder for the first run, kept for the cached run. Seconds.", "",
              "| model | run | instance | device | compile | pipeline + upload | first "
              "dispatch | total to first gradient |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name in MODELS:
        cache = tempfile.mkdtemp(prefix="rmc-bench-cache-")
        try:
            for run in ("first", "cached"):
                r = first_gradient(name, args.device, cache)
                setup_rest = r["setup"] - r.get("device_time", 0) - r["compile"] - r["pipeline"]
                total = r["instance"] + r["setup"] + r["first_dispatch"]
                lines.append("| %s | %s (%s) | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f |"
                             % (name, run, r["cached"], r["instance"], r.get("device_time", 0),
                                r["compile"], r["pipeline"] + setup_rest, r["first_dispatch"],
                                total))
                print(lines[-1], flush=True)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    lines.append("")

    # 2. throughput by batch size
    lines += ["## Chain-gradient evaluations per second", "",
              "Each cell: evaluations of lp and gradient per second at that batch size "
              "(higher is better); CPU backend on all cores against Vulkan on the named "
              "device, in the same run.", "",
              "| model | backend | " + " | ".join("batch %d" % b for b in batches) + " |",
              "|---|---|" + "---:|" * len(batches)]
    for name, make in MODELS.items():
        model, data = make()
        program = rmc.Program(model, data)
        cpu = rmc.Evaluator(program, backend="cpu")
        vk = rmc.Evaluator(program, backend="vulkan", device=device)
        for label, ev in (("cpu: " + cpu.device, cpu), ("vulkan: " + vk.device, vk)):
            cells = []
            for b in batches:
                cells.append("%.3g" % rate(ev, program.dim, b, args.seconds))
                print(name, label, b, cells[-1], flush=True)
            lines.append("| %s | %s | %s |" % (name, label, " | ".join(cells)))
        cpu.close()
        vk.close()
    lines.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("wrote %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
