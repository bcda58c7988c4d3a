"""Many-chain sampling: ChEES and MEADS against NUTS, and throughput against chains.

    python3 bench/bench_chees.py [--runs 3] [--out bench/RESULTS-chees.md]
                                 [--backend cpu|vulkan --device NAME] [--skip-efficiency]

1. ESS per gradient evaluation and min bulk-ESS per second, ChEES (1,024 chains x (500
   warmup + 200 draws)) and MEADS (1,024 x (1000 + 1000)) against NUTS (4 chains x
   (1000 + 1000)), on eight schools (non-centred), kidiq (mom_iq) and sblrc-blr from
   posteriordb. Gradients count warmup.
2. Chain-gradient evaluations per second of ChEES for 2, 64, 1,024 and 16,384 chains
   (eight schools and the quick-start model) on the chosen backend, and the wall time to a
   min bulk-ESS of 10,000.

Every figure is a median over --runs runs (seeds 1..runs) with min and max. The library is
the one the package finds (python/, or RMC_LIBRARY)."""

import argparse
import os
import platform
import subprocess
import sys
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))

import rmc  # noqa: E402
from posteriordb import load_data  # noqa: E402
import test_chees as models  # noqa: E402

warnings.simplefilter("ignore")   # unused data fields of the posteriordb files

POSTERIORS = [("eight_schools-eight_schools_noncentered", models.eight_schools),
              ("kidiq-kidscore_momiq", models.kidiq),
              ("sblrc-blr", models.blr)]


def quickstart():
    rng = np.random.default_rng(42)
    x = rng.normal(size=1000)
    y = 2.5 * x + rng.normal(size=1000)
    b = rmc.ModelBuilder()
    beta = b.param("beta", prior=rmc.Normal(0, 1))
    b.observe("y", rmc.Normal(beta * "x", 1.0))
    return b.build(), {"x": x, "y": y}


def med(xs):
    xs = sorted(xs)
    return "%.4g [%.4g, %.4g]" % (np.median(xs), xs[0], xs[-1])


BACKEND = {}


def one_fit(model, data, sampler, chains, warmup, draws, seed):
    t0 = time.perf_counter()
    fit = rmc.sample(model, data, chains=chains, warmup=warmup, draws=draws, seed=seed,
                     sampler=sampler, progress=False, **BACKEND)
    wall = time.perf_counter() - t0
    ess = float(np.min(fit.summary()["ess_bulk"]))
    return {"wall": wall, "grads": fit.gradient_evals, "ess": ess,
            "ess_per_grad": ess / fit.gradient_evals, "ess_per_s": ess / wall,
            "rhat": float(np.max(fit.summary()["rhat"]))}


def efficiency(runs, lines):
    lines += ["## ESS per gradient: ChEES against NUTS", "",
              "ChEES: 1,024 chains x (500 warmup + 200 draws); MEADS: 1,024 x (1000 + 1000); "
              "NUTS: 4 chains x (1000 + 1000). Gradients include warmup. Median [min, max] "
              "over %d seeds." % runs, "",
              "| posterior | sampler | gradients | min bulk-ESS | ESS / gradient | wall s "
              "| ESS / s |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, build in POSTERIORS:
        data = load_data(name)
        for sampler, chains, warmup, draws in (("chees", 1024, 500, 200),
                                               ("meads", 1024, 1000, 1000),
                                               ("nuts", 4, 1000, 1000)):
            rs = [one_fit(build(), data, sampler, chains, warmup, draws, s)
                  for s in range(1, runs + 1)]
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                name, sampler, med([r["grads"] for r in rs]), med([r["ess"] for r in rs]),
                med([r["ess_per_grad"] for r in rs]), med([r["wall"] for r in rs]),
                med([r["ess_per_s"] for r in rs])))
            print(lines[-1], flush=True)
    lines.append("")


def throughput(runs, lines):
    lines += ["## ChEES throughput against the number of chains (%s)"
              % BACKEND.get("backend", "cpu"), "",
              "Chain-gradient evaluations per second over a whole run (200 warmup + 100 "
              "draws), and the wall time to a min bulk-ESS of 10,000 at the run's min bulk-ESS "
              "per second, warmup included (10,000 x wall / ESS; above 1 when the run "
              "itself reached more).", "",
              "| model | chains | gradients / s | wall s | time to ESS 10,000 (s) |",
              "| --- | --- | --- | --- | --- |"]
    es_data = load_data(POSTERIORS[0][0])
    qs_model, qs_data = quickstart()
    for label, model, data in (("eight schools", models.eight_schools(), es_data),
                               ("quick start (N=1000)", qs_model, qs_data)):
        for chains in (2, 64, 1024, 16384):
            rate, walls, to_ess = [], [], []
            for s in range(1, runs + 1):
                t0 = time.perf_counter()
                fit = rmc.sample(model, data, chains=chains, warmup=200, draws=100, seed=s,
                                 sampler="chees", progress=False, **BACKEND)
                wall = time.perf_counter() - t0
                rate.append(fit.gradient_evals / wall)
                walls.append(wall)
                ess = float(np.min(fit.summary()["ess_bulk"]))
                to_ess.append(10000.0 * wall / max(ess, 1e-9))
            lines.append("| %s | %d | %s | %s | %s |" % (label, chains, med(rate), med(walls),
                                                           med(to_ess)))
            print(lines[-1], flush=True)
    lines.append("")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS-chees.md"))
    ap.add_argument("--backend", default="cpu", choices=("cpu", "vulkan", "auto"))
    ap.add_argument("--device", default=None, help="Vulkan device name or index")
    ap.add_argument("--skip-efficiency", action="store_true",
                    help="only the throughput table (ESS per gradient does not depend on "
                         "the backend)")
    args = ap.parse_args()
    BACKEND["backend"] = args.backend
    if args.device is not None:
        BACKEND["device"] = args.device
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    lines = ["# Many-chain sampling (ChEES)", "",
             "Written by `bench/bench_chees.py --runs %d`; rerun it to refresh." % args.runs,
             "",
             "- date: %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
             "- machine: %d logical CPUs, %s" % (os.cpu_count(), platform.processor() or
                                                 platform.machine()),
             "- load average at start: %s" % " ".join(open("/proc/loadavg").read().split()[:3]),
             "- commit: %s" % commit,
             "- backend: %s%s" % (args.backend, " (device %s)" % args.device
                                  if args.device else ""), ""]
    if not args.skip_efficiency:
        efficiency(args.runs, lines)
    throughput(args.runs, lines)
    lines.insert(9, "- load average at end: %s"
                 % " ".join(open("/proc/loadavg").read().split()[:3]))
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
