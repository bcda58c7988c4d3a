#!/usr/bin/env python3
"""Side-by-side sampling efficiency: rmc against Stan (rstan), PyMC and nutpie.

    python3 bench/compare/run.py            # every posterior, 3 seeds; writes
                                            # bench/RESULTS-compare.md
    python3 bench/compare/run.py --quick    # 1 seed, 2 posteriors: a smoke test

Every sampler runs every posterior of models.py that rmc expresses (and the quick start)
with 4 chains x 1000 warmup x 1000 draws, the reference run's adapt_delta and
max_treedepth, for each seed. Each (seed, posterior, sampler) runs in a fresh process (a
fresh R for Stan), so compile times are cold: rstan compiles the C++ again, PyMC and nutpie
get an empty pytensor compile folder (unless --warm-pytensor-cache), numba compiles anew.

Measured per run:
- sampling: wall seconds of the sampling call alone: rmc.sample on a compiled Program,
  rstan's sampling(), the sampling loop of pm.sample (its own "sampling_time", which
  includes starting the worker processes), nutpie.sample. Chains run on --cores (2)
  threads / processes in every sampler.
- compile: rmc: building the model and rmc.Program (bind + compile); Stan: stan_model();
  PyMC: what pm.sample spends outside its sampling loop (compiling logp and gradient,
  initialisation, building the InferenceData); nutpie: compile_pymc_model().
- gradient evaluations, warmup included: rmc's own count (rmc_fit_num_gradients, which
  includes initialisation); for Stan, PyMC and nutpie the sum of n_leapfrog / n_steps over
  every chain and iteration, warmup included.
- min bulk-ESS over the reference's parameter elements, every sampler's draws through
  rmc's C estimator (rmc_ess_bulk; checked against arviz.ess(method="bulk") on every set
  of draws), and min bulk-ESS per second of sampling.
- a reference check: every element's posterior mean within 0.3 reference sd of the
  reference mean. A run that fails it is flagged in every table (!) and left out of the
  ratios, so a broken model or sampler is never benchmarked silently.

A missing sampler is skipped with a line saying why; the suite installs nothing (see
bench/README.md). Latency: `python3 quickstart.py` end to end (bench/quickstart_time.py)
and the C API from the first builder call to the first draw (first_draw.c).

Exit status: 0 when every run that was attempted succeeded and passed its reference
check, 1 otherwise (RESULTS-compare.md is written either way).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
if os.path.join(ROOT, "python") not in sys.path:
    sys.path.insert(1, os.path.join(ROOT, "python"))

import models  # noqa: E402

CHAINS, WARMUP, DRAWS = 4, 1000, 1000
SAMPLERS = ("rmc", "stan", "pymc", "nutpie")
RIVALS = ("stan", "pymc", "nutpie")
LABEL = {"rmc": "rmc", "stan": "Stan (rstan)", "pymc": "PyMC", "nutpie": "nutpie"}
QUICK_MODELS = ("quickstart", "eight_schools_noncentered")
MEAN_TOL = 0.3          # reference check: |mean - ref mean| <= MEAN_TOL * ref sd


# ====================================================================== workers
# Each runs in its own process: run.py --worker CONFIG.json, and writes result.json and
# draws.npz (element -> (chains, draws)) into the config's folder.

def _element_draws(arrays, element):
    """The (chains, draws) draws of ``element`` ("beta[2]", one-based) from a dict of
    arrays shaped (chains, draws, *shape)."""
    m = re.fullmatch(r"([^\[]+)(?:\[([0-9,]+)\])?", element)
    name, index = m.group(1), m.group(2)
    a = np.asarray(arrays[name])
    if index is None:
        return a.reshape(a.shape[:2])
    idx = tuple(int(i) - 1 for i in index.split(","))
    return a[(slice(None), slice(None)) + idx]


def _worker_rmc(post, cfg, data, control):
    import rmc
    t0 = time.perf_counter()
    program = rmc.Program(post.rmc(data), data)
    t1 = time.perf_counter()
    fit = rmc.sample(program, None, chains=cfg["chains"], warmup=cfg["warmup"],
                     draws=cfg["draws"], seed=cfg["seed"], threads=cfg["cores"],
                     backend=cfg["rmc_backend"],
                     target_accept=control["adapt_delta"],
                     max_treedepth=control["max_treedepth"])
    t2 = time.perf_counter()
    cols = {n: i for i, n in enumerate(fit.column_names)}
    draws = {e: fit.values[:, :, cols[e]] for e in cfg["elements"]}
    return draws, {
        "compile_s": t1 - t0, "sample_s": t2 - t1,
        "grad_evals": int(fit.gradient_evals),
        "leapfrog_kept": int(fit.stats["n_leapfrog"].sum()),
        "divergent": int(fit.num_divergent),
        "extra": {"rmc_fit_seconds": float(fit.seconds),
                  "backend": " / ".join(str(getattr(fit, a)) for a in
                                        ("backend", "device", "backend_reason")
                                        if getattr(fit, a, None))},
    }


def _r_value(v):
    a = np.asarray(v)
    if a.dtype == bool:
        a = a.astype(int)
    integer = np.issubdtype(a.dtype, np.integer)
    fmt = (lambda t: "%dL" % t) if integer else (lambda t: repr(float(t)))
    if a.ndim == 0:
        return fmt(a.item())
    flat = a.flatten(order="F")                     # R is column-major
    body = "c(%s)" % ", ".join(fmt(t) for t in flat.tolist())
    if a.ndim == 1:
        return body
    return "structure(%s, .Dim = c(%s))" % (body, ", ".join("%dL" % d for d in a.shape))


def write_rdump(data, path):
    """``data`` in Stan's R dump format (rstan::read_rdump reads it)."""
    with open(path, "w") as f:
        for key, value in data.items():
            f.write("%s <- %s\n" % (key, _r_value(value)))


def _worker_stan(post, cfg, data, control):
    folder = cfg["folder"]
    program = os.path.join(folder, "model.stan")
    with open(program, "w") as f:
        f.write(models.stan_program(post.stan, cfg["stan_version"]))
    data_file = os.path.join(folder, "data.R")
    write_rdump(data, data_file)
    out = os.path.join(folder, "stan")
    cmd = ["Rscript", os.path.join(HERE, "stan_run.R"), program, data_file, out,
           str(cfg["seed"]), str(cfg["chains"]), str(cfg["warmup"]), str(cfg["draws"]),
           str(cfg["cores"]), repr(float(control["adapt_delta"])),
           str(int(control["max_treedepth"]))]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("Rscript failed (status %d):\n%s"
                           % (proc.returncode, (proc.stdout + proc.stderr)[-4000:]))
    with open(out + ".draws.csv") as f:
        header = [h.strip().strip('"') for h in f.readline().split(",")]
    table = np.loadtxt(out + ".draws.csv", delimiter=",", skiprows=1, ndmin=2)
    chain = table[:, 0].astype(int)
    draws = {}
    for e in cfg["elements"]:
        col = table[:, header.index(e)]
        draws[e] = np.stack([col[chain == c] for c in range(1, cfg["chains"] + 1)])
    res = {}
    with open(out + ".result.txt") as f:
        for line in f:
            key, value = line.split()
            res[key] = float(value)
    return draws, {
        "compile_s": res["compile_s"], "sample_s": res["sample_s"],
        "grad_evals": int(res["leapfrog_all"]), "leapfrog_kept": int(res["leapfrog_kept"]),
        "divergent": int(res["divergent"]),
        "extra": {"stan_chain_s_max": res["chain_s_max"],
                  "stan_chain_s_sum": res["chain_s_sum"]},
    }


def _pymc_posterior(idata, elements):
    post = idata.posterior
    arrays = {name: post[name].values for name in post.data_vars}
    return {e: _element_draws(arrays, e) for e in elements}


def _steps(idata):
    """(n_steps warmup included, after warmup) and divergences after warmup."""
    kept = int(idata.sample_stats["n_steps"].values.sum())
    warm = 0
    if "warmup_sample_stats" in idata.groups():
        warm = int(idata.warmup_sample_stats["n_steps"].values.sum())
    div = int(idata.sample_stats["diverging"].values.sum())
    return kept + warm, kept, div, "warmup_sample_stats" in idata.groups()


def _worker_pymc(post, cfg, data, control):
    import pymc as pm
    model = post.pymc(data)
    t0 = time.perf_counter()
    idata = pm.sample(draws=cfg["draws"], tune=cfg["warmup"], chains=cfg["chains"],
                      cores=cfg["cores"], random_seed=cfg["seed"], progressbar=False,
                      nuts_sampler="pymc", discard_tuned_samples=False,
                      compute_convergence_checks=False, model=model,
                      nuts={"target_accept": control["adapt_delta"],
                            "max_treedepth": control["max_treedepth"]})
    total = time.perf_counter() - t0
    sample_s = float(idata.posterior.attrs["sampling_time"])
    grads, kept, div, with_warmup = _steps(idata)
    if not with_warmup:
        raise RuntimeError("pm.sample kept no warmup statistics")
    return _pymc_posterior(idata, cfg["elements"]), {
        "compile_s": total - sample_s, "sample_s": sample_s, "grad_evals": grads,
        "leapfrog_kept": kept, "divergent": div, "extra": {"pm_sample_total_s": total},
    }


def _worker_nutpie(post, cfg, data, control):
    import nutpie
    model = post.pymc(data)
    t0 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model)
    t1 = time.perf_counter()
    idata = nutpie.sample(compiled, draws=cfg["draws"], tune=cfg["warmup"],
                          chains=cfg["chains"], cores=cfg["cores"], seed=cfg["seed"],
                          save_warmup=True, progress_bar=False,
                          target_accept=control["adapt_delta"],
                          maxdepth=control["max_treedepth"])
    t2 = time.perf_counter()
    grads, kept, div, with_warmup = _steps(idata)
    if not with_warmup:
        raise RuntimeError("nutpie kept no warmup statistics")
    return _pymc_posterior(idata, cfg["elements"]), {
        "compile_s": t1 - t0, "sample_s": t2 - t1, "grad_evals": grads,
        "leapfrog_kept": kept, "divergent": div, "extra": {},
    }


WORKERS = {"rmc": _worker_rmc, "stan": _worker_stan, "pymc": _worker_pymc,
           "nutpie": _worker_nutpie}


def worker_main(config_path):
    with open(config_path) as f:
        cfg = json.load(f)
    post = models.by_name(cfg["model"])
    data = post.data()
    control = cfg["control"]
    draws, result = WORKERS[cfg["sampler"]](post, cfg, data, control)
    arrays = {e: np.asarray(draws[e], dtype=np.float64) for e in cfg["elements"]}
    for e, a in arrays.items():
        if a.shape != (cfg["chains"], cfg["draws"]):
            raise RuntimeError("%s: draws shaped %s, expected %s"
                               % (e, a.shape, (cfg["chains"], cfg["draws"])))
    np.savez(os.path.join(cfg["folder"], "draws.npz"), **arrays)
    with open(os.path.join(cfg["folder"], "result.json"), "w") as f:
        json.dump(result, f)
    return 0


# ====================================================================== availability

def _probe(cmd, timeout=300):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, str(err)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        return None, lines[-1] if lines else "exit status %d" % proc.returncode
    return proc.stdout.strip(), ""


SKIPPED = {}   # sampler -> why it did not run (filled by detect)


def _skip(sampler, why):
    SKIPPED[sampler] = why
    print("skipped: %s: %s" % (LABEL[sampler], why))


def detect(wanted):
    """{sampler: version text} for the samplers that can run; print why others cannot
    (and keep it in SKIPPED for the report)."""
    found, versions = {}, {}
    py = sys.executable
    env_path = os.pathsep.join([os.path.join(ROOT, "python"), os.environ.get("PYTHONPATH", "")])
    os.environ["PYTHONPATH"] = env_path.rstrip(os.pathsep)
    if "rmc" in wanted:
        out, err = _probe([py, "-c", "import rmc; print(rmc.version(), rmc._lib.library_path)"])
        if out:
            found["rmc"] = "rmc %s (%s)" % tuple(out.split(None, 1))
        else:
            _skip("rmc", "the package does not import from %s/python (%s); build librmc "
                  "first (see README.md)" % (ROOT, err))
    if "stan" in wanted:
        if shutil.which("Rscript") is None:
            _skip("stan", "Rscript is not on PATH (apt-get install r-base-core "
                  "r-cran-rstan r-cran-posterior; see bench/README.md)")
        else:
            out, err = _probe(["Rscript", "-e",
                               "suppressPackageStartupMessages(library(rstan)); "
                               "cat(R.version$major, R.version$minor, "
                               "as.character(packageVersion('rstan')), stan_version())"])
            if out:
                r_major, r_minor, rstan_v, stan_v = out.split()[-4:]
                found["stan"] = "R %s.%s, rstan %s, Stan %s" % (r_major, r_minor, rstan_v,
                                                                stan_v)
                versions["stan_version"] = stan_v
            else:
                _skip("stan", "R cannot load rstan (%s); apt-get install r-cran-rstan "
                      "(see bench/README.md)" % err)
    for name in ("pymc", "nutpie"):
        if name not in wanted:
            continue
        mods = ["pymc", "pytensor"] + (["nutpie"] if name == "nutpie" else [])
        out, err = _probe([py, "-c", "import %s; print(' '.join(m.__name__ + ' ' + "
                           "m.__version__ for m in (%s)))" % (", ".join(mods), ", ".join(mods))])
        if out:
            found[name] = out.splitlines()[-1]
        else:
            _skip(name, "%s does not import (%s); python3 -m pip install %s (see "
                  "bench/README.md)" % (" or ".join(mods), err, " ".join(mods[:1] + mods[2:])))
    return found, versions


# ====================================================================== running

def run_one(sampler, post, seed, args, versions, workroot):
    """Run one (sampler, posterior, seed) in a fresh process; returns a record."""
    folder = os.path.join(workroot, "%s-%s-%d" % (post.short, sampler, seed))
    os.makedirs(folder)
    ref = post.reference()
    cfg = {"sampler": sampler, "model": post.name, "seed": seed, "chains": CHAINS,
           "warmup": WARMUP, "draws": DRAWS, "cores": args.cores,
           "control": ref["control"], "elements": ref["elements"], "folder": folder,
           "stan_version": versions.get("stan_version", "2.21"),
           "rmc_backend": args.rmc_backend}
    config_path = os.path.join(folder, "config.json")
    with open(config_path, "w") as f:
        json.dump(cfg, f)
    env = dict(os.environ)
    if sampler in ("pymc", "nutpie") and not args.warm_pytensor_cache:
        # Cold compile: a pytensor compile folder of its own, as on a first run.
        env["PYTENSOR_FLAGS"] = ",".join(
            filter(None, [env.get("PYTENSOR_FLAGS", ""),
                          "compiledir=%s" % os.path.join(folder, "pytensor")]))
    record = {"sampler": sampler, "model": post.short, "seed": seed, "ok": False,
              "error": None}
    log_path = os.path.join(folder, "log.txt")
    t0 = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                                 config_path], stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
        try:
            status = proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)      # the worker's own process group
            proc.wait()
            status = None
    record["process_s"] = time.perf_counter() - t0
    if status != 0:
        with open(log_path) as f:
            tail = f.read()[-3000:]
        record["error"] = ("timed out after %d s" % args.timeout if status is None
                           else "exit status %d" % status) + "\n" + tail
        return record
    with open(os.path.join(folder, "result.json")) as f:
        record.update(json.load(f))
    with np.load(os.path.join(folder, "draws.npz")) as z:
        draws = {e: z[e] for e in ref["elements"]}
    analyse(record, draws, ref)
    record["ok"] = True
    return record


def analyse(record, draws, ref):
    """ESS by rmc (and ArviZ as a check), and the reference check of the means."""
    from ess import arviz_ess_bulk, ess_bulk
    ess, worst_rel, bad = {}, 0.0, []
    worst_z = 0.0
    for e, d in draws.items():
        ess[e] = ess_bulk(d)
        other = arviz_ess_bulk(d)
        if other is not None and np.isfinite(ess[e]) and other > 0:
            worst_rel = max(worst_rel, abs(ess[e] - other) / other)
        z = abs(float(d.mean()) - ref["mean"][e]) / ref["sd"][e]
        worst_z = max(worst_z, z)
        if not z <= MEAN_TOL:
            bad.append("%s mean %.6g vs reference %.6g (%.2f sd)"
                       % (e, float(d.mean()), ref["mean"][e], z))
    worst = min(ess, key=ess.get)
    record["min_ess"] = ess[worst]
    record["min_ess_element"] = worst
    record["ess_per_s"] = ess[worst] / record["sample_s"]
    record["ess_per_kgrad"] = 1000.0 * ess[worst] / record["grad_evals"]
    record["arviz_rel_diff"] = worst_rel
    record["ref_max_z"] = worst_z
    record["ref_problems"] = bad


# ====================================================================== latency

def latency(runs):
    """Lines of text: quickstart.py end to end, and the C API to the first draw."""
    lines = []
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "quickstart_time.py"),
                           "--runs", str(runs)], capture_output=True, text=True, env=env)
    lines.append("Python quick start (bench/quickstart_time.py --runs %d; it runs 8 chains x "
                 "(500 warmup + 1000 draws) as quickstart.py does):" % runs)
    lines += ["    " + l for l in (proc.stdout + proc.stderr).strip().splitlines()]
    if proc.returncode not in (0, 77):
        lines.append("    (failed with exit status %d)" % proc.returncode)

    cc = os.environ.get("CC", "cc")
    # The library the Python package loads (RMC_LIBRARY, as bench/run.sh sets it), else
    # build/.
    lib_env = os.environ.get("RMC_LIBRARY")
    build = os.path.dirname(os.path.abspath(lib_env)) if lib_env else os.path.join(ROOT,
                                                                                   "build")
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "first_draw")
        comp = subprocess.run([cc, "-O2", "-std=c11", "-I", os.path.join(ROOT, "include"),
                               os.path.join(HERE, "first_draw.c"), "-L", build, "-lrmc",
                               "-Wl,-rpath," + build, "-lm", "-o", exe],
                              capture_output=True, text=True)
        lines.append("")
        lines.append("C API, quick-start model (N = 1000): first builder call to the first "
                     "draw (first_draw.c; %d runs, each a fresh process):" % runs)
        if comp.returncode != 0:
            lines.append("    not measured: %s does not build against %s/librmc.so:\n    %s"
                         % (os.path.basename(HERE) + "/first_draw.c", build,
                            comp.stderr.strip()[-600:]))
            return lines
        for backend in ("auto", "cpu"):
            lines.append("  backend %s%s:" % (backend, " (the default)" if backend == "auto"
                                               else ""))
            failed = _first_draw_runs(exe, backend, runs, lines)
            if failed:
                break
    return lines


def _first_draw_runs(exe, backend, runs, lines):
    """Run first_draw ``runs`` times with ``backend`` and append the figures to ``lines``;
    True if a run failed."""
    phases = {"build": [], "program": [], "first_draw": [], "total": [], "process": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run([exe, backend], capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
        if p.returncode != 0:
            lines.append("    failed: %s" % p.stderr.strip())
            return True
        words = p.stdout.split()
        for key, value in zip(words[::2], words[1::2]):
            phases[key].append(float(value))
        phases["process"].append(elapsed)
    what = {"build": "model building (rmc_model_create .. rmc_tilde)",
            "program": "data binding + rmc_program_create",
            "first_draw": "rmc_sample, 1 chain, no warmup, 1 draw",
            "total": "first builder call to first draw",
            "process": "whole process, exec to exit"}
    for key in ("build", "program", "first_draw", "total", "process"):
        lines.append("    %-48s %s" % (what[key], fmt_ms(phases[key])))
    return False


def fmt_ms(v):
    return "median %.3f ms [%.3f, %.3f]" % (1e3 * statistics.median(v), 1e3 * min(v),
                                            1e3 * max(v))


# ====================================================================== report

def machine_lines():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = ", %.1f GiB memory" % (kb / 2 ** 20)
    except (OSError, ValueError, IndexError):
        pass
    return "%d logical CPUs, %s%s; %s %s" % (os.cpu_count() or 0, cpu, mem, platform.system(),
                                            platform.release())


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def med(values, fmt="%.3g"):
    values = [v for v in values if v is not None and np.isfinite(v)]
    if not values:
        return "-"
    if len(values) == 1:
        return fmt % values[0]
    return (fmt + " [" + fmt + ", " + fmt + "]") % (statistics.median(values), min(values),
                                                 max(values))


def write_report(path, records, samplers, found, posts, args, meta, lat):
    by = {}
    for r in records:
        by.setdefault((r["model"], r["sampler"]), []).append(r)
    rivals = [s for s in RIVALS if s in samplers]

    def good(model, sampler):
        return [r for r in by.get((model, sampler), []) if r["ok"]]

    def flagged(model, sampler):
        rs = by.get((model, sampler), [])
        return any(not r["ok"] or r["ref_problems"] for r in rs)

    def cell(model, sampler, key, fmt):
        rs = good(model, sampler)
        if not rs and not by.get((model, sampler)):
            return "-"
        if not rs:
            return "failed"
        text = med([r[key] for r in rs], fmt)
        return text + (" !" if flagged(model, sampler) else "")

    def paired(model, rival, key, invert=False):
        """rmc / rival per seed (rival / rmc when invert), over seeds both passed."""
        a = {r["seed"]: r for r in good(model, "rmc") if not r["ref_problems"]}
        b = {r["seed"]: r for r in good(model, rival) if not r["ref_problems"]}
        out = []
        for s in sorted(set(a) & set(b)):
            num, den = (b[s][key], a[s][key]) if invert else (a[s][key], b[s][key])
            if den > 0 and np.isfinite(num):
                out.append(num / den)
        return out

    lines = ["# rmc against Stan, PyMC and nutpie", "",
             "Written by `bench/compare/run.py%s`; rerun it to refresh. Each figure is the "
             "median [min, max] over %d seed%s (seeds %s), every run a fresh process. "
             "%d chains x (%d warmup + %d draws) everywhere, with each posterior's reference "
             "adapt_delta and max_treedepth; chains on %d cores in every sampler "
             "(rmc threads, rstan cores, PyMC cores, nutpie cores)."
             % (" --quick" if args.quick else "", len(args.seed_list),
                "" if len(args.seed_list) == 1 else "s",
                ", ".join(map(str, args.seed_list)), CHAINS, WARMUP, DRAWS, args.cores),
             "",
             "- date: %s" % meta["date"],
             "- machine: %s" % machine_lines(),
             "- load average at start: %s; at end: %s" % (meta["load_start"], meta["load_end"]),
             "- commit: %s" % meta["commit"],
             "- Python %s, numpy %s%s" % (platform.python_version(), np.__version__,
                                          meta.get("arviz", "")),
             ]
    for s in SAMPLERS:
        lines.append("- %s: %s" % (LABEL[s], found.get(s, "not run (%s)" % (
            "not selected" if s not in args.sampler_list else "not available"))))
    backends = sorted({r["extra"].get("backend", "") for r in records
                       if r["ok"] and r["sampler"] == "rmc"} - {""})
    lines.append("- rmc backend: %s (asked: %s)" % ("; ".join(backends) or "-",
                                                    args.rmc_backend))
    lines.append("- PyMC/nutpie compile: %s" % (
        "the user's pytensor cache (--warm-pytensor-cache)" if args.warm_pytensor_cache
        else "cold (an empty pytensor compile folder per run)"))
    lines.append("- wall time of the whole suite: %.0f s" % meta["suite_s"])
    lines += ["",
              "`!` marks a posterior/sampler with a failed run or a posterior mean more than "
              "%.1f reference sd from the reference (listed under Reference check); such "
              "runs are kept out of every ratio. Ratios are rmc's figure over the rival's, "
              "paired by seed." % MEAN_TOL, ""]

    model_names = [p.short for p in posts]

    def table(title, note, key, fmt, ratio=True, invert=False, unit=""):
        out = ["## " + title, "", note, ""]
        head = ["posterior"] + [LABEL[s] + unit for s in samplers]
        if ratio and "rmc" in samplers:
            head += ["rmc / %s" % LABEL[s] if not invert else "%s / rmc" % LABEL[s]
                     for s in rivals]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + " --- |" * len(head))
        for m in model_names:
            row = [m] + [cell(m, s, key, fmt) for s in samplers]
            if ratio and "rmc" in samplers:
                row += [med(paired(m, s, key, invert), "%.3g") for s in rivals]
            out.append("| " + " | ".join(row) + " |")
        return out + [""]

    lines += table("Min bulk-ESS per second of sampling",
                   "min over the reference's parameter elements of bulk-ESS (rmc's C "
                   "estimator for every sampler), over the sampling wall time. Higher is "
                   "better; ratio > 1: rmc is more efficient.", "ess_per_s", "%.4g")
    ratio_lines = ["## Median over posteriors of rmc's ESS/s ratio", "",
                   "median (min, max) over posteriors of the per-posterior median ratio "
                   "above; posteriors with a flagged run are left out.", ""]
    for s in rivals:
        if "rmc" not in samplers:
            break
        per = [statistics.median(v) for v in (paired(m, s, "ess_per_s") for m in model_names)
               if v]
        if per:
            ratio_lines.append("- rmc / %s: **%.3g** (min %.3g, max %.3g; %d posteriors)"
                               % (LABEL[s], statistics.median(per), min(per), max(per), len(per)))
        else:
            ratio_lines.append("- rmc / %s: no posterior with runs of both" % LABEL[s])
    lines += ratio_lines + [""]
    lines += table("Sampling wall time (s)",
                   "the sampling call alone, warmup included, compilation excluded; Stan's "
                   "and PyMC's figures include starting their worker processes. Lower is "
                   "better.", "sample_s", "%.3g")
    lines += table("Compile time (s)",
                   "rmc: model building + rmc.Program (bind, compile); Stan: stan_model() "
                   "(C++ compilation); PyMC: pm.sample outside its sampling loop (compiling, "
                   "initialisation, InferenceData); nutpie: compile_pymc_model() (numba).",
                   "compile_s", "%.3g")
    lines += table("Gradient evaluations (warmup included)",
                   "rmc: rmc_fit_num_gradients (every evaluation, initialisation included); "
                   "Stan: sum of n_leapfrog__ over all chains and iterations, warmup "
                   "included; PyMC and nutpie: sum of n_steps over sample_stats and "
                   "warmup_sample_stats.", "grad_evals", "%.4g")
    lines += table("Min bulk-ESS", "over the reference's parameter elements (rmc's C "
                   "estimator for every sampler).", "min_ess", "%.4g")
    lines += table("Min bulk-ESS per 1000 gradient evaluations",
                   "sampler efficiency independent of the speed of the gradient.",
                   "ess_per_kgrad", "%.3g")
    lines += table("Divergent transitions after warmup", "summed over the 4 chains.",
                   "divergent", "%.0f", ratio=False)
    if "stan" in samplers:
        stan_rows = ["## Stan's own chain times (s)", "",
                     "rstan's get_elapsed_time: warmup + sampling of the slowest chain and "
                     "the sum over chains, without R's worker start-up that the wall time "
                     "above includes.", "",
                     "| posterior | slowest chain | sum over chains | wall (above) | "
                     "min ESS / (sum over chains / cores) |",
                     "| --- | --- | --- | --- | --- |"]
        for m in model_names:
            rs = good(m, "stan")
            stan_rows.append("| %s | %s | %s | %s | %s |" % (
                m, med([r["extra"]["stan_chain_s_max"] for r in rs], "%.3g"),
                med([r["extra"]["stan_chain_s_sum"] for r in rs], "%.3g"),
                med([r["sample_s"] for r in rs], "%.3g"),
                med([r["min_ess"] / (r["extra"]["stan_chain_s_sum"] / args.cores)
                     for r in rs], "%.4g")))
        stan_rows += ["", "The last column estimates Stan's ESS/s were its start-up free "
                      "(chains spread evenly over the cores); the tables above use the "
                      "wall time, as a user waits for it."]
        lines += stan_rows + [""]

    lines += ["## Reference check", "",
              "Every element's mean within %.1f reference sd of the reference mean "
              "(posteriordb reference draws; the quick start's exact conjugate posterior). "
              "Largest |mean - ref| / ref sd per posterior and sampler, median [min, max] "
              "over seeds:" % MEAN_TOL, ""]
    head = ["posterior"] + [LABEL[s] for s in samplers]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + " --- |" * len(head))
    for m in model_names:
        lines.append("| " + " | ".join([m] + [cell(m, s, "ref_max_z", "%.2f")
                                             for s in samplers]) + " |")
    lines.append("")
    problems = []
    for r in records:
        if not r["ok"]:
            problems.append("- %s / %s / seed %d: run failed: %s"
                            % (r["model"], LABEL[r["sampler"]], r["seed"],
                               r["error"].strip().splitlines()[0]
                               + (" ... " + r["error"].strip().splitlines()[-1]
                                  if len(r["error"].strip().splitlines()) > 1 else "")))
        elif r["ref_problems"]:
            problems.append("- %s / %s / seed %d: %s" % (r["model"], LABEL[r["sampler"]],
                                                        r["seed"], "; ".join(r["ref_problems"])))
    lines += (problems or ["Every run passed."]) + [""]

    ok = [r for r in records if r["ok"] and r.get("arviz_rel_diff") is not None]
    lines += ["## ESS estimator check", ""]
    if meta.get("arviz"):
        worst = max(ok, key=lambda r: r["arviz_rel_diff"]) if ok else None
        lines.append("rmc_ess_bulk against arviz.ess(method=\"bulk\") on the same draws, every "
                     "element of every run (%d runs): largest relative difference %s."
                     % (len(ok), "%.2e (%s / %s)" % (worst["arviz_rel_diff"], worst["model"],
                                                      LABEL[worst["sampler"]]) if worst else "-"))
    else:
        lines.append("not checked: arviz is not installed.")
    lines.append("")
    if lat:
        lines += ["## Latency", "", "```"] + lat + ["```", "",
                  "The rivals' counterpart is compile + sampling of the quickstart row above.",
                  ""]
    notes = [p for p in posts if p.note]
    if notes:
        lines += ["## Notes", ""] + ["- %s: %s" % (p.short, p.note) for p in notes] + [""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def write_table(path, records, samplers, found, posts, args, meta):
    """--one-table: the figures of every posterior in one table (issue 3's closing note),
    one row per posterior and sampler."""
    by = {}
    for r in records:
        by.setdefault((r["model"], r["sampler"]), []).append(r)
    lines = ["# rmc on the posteriordb posteriors", "",
             "Written by `bench/compare/run.py %s`; rerun it to refresh. Every (posterior, "
             "sampler, seed) runs in a fresh process: %d chains x (%d warmup + %d draws), with "
             "the reference run's adapt_delta and max_treedepth (NAME.reference.json), chains "
             "on %d cores. Figures are the median [min, max] over %d seed%s (seeds %s)."
             % (" ".join(args.argv), CHAINS, WARMUP, DRAWS, args.cores, len(args.seed_list),
                "" if len(args.seed_list) == 1 else "s", ", ".join(map(str, args.seed_list))),
             "",
             "- date: %s" % meta["date"],
             "- machine: %s" % machine_lines(),
             "- load average at start: %s; at end: %s (1, 5 and 15 minutes)"
             % (meta["load_start"], meta["load_end"]),
             "- commit: %s" % meta["commit"],
             "- Python %s, numpy %s%s" % (platform.python_version(), np.__version__,
                                          meta.get("arviz", ""))]
    for s in SAMPLERS:
        if s in found:
            lines.append("- %s: %s" % (LABEL[s], found[s]))
        elif s in SKIPPED:
            lines.append("- %s: not run: %s" % (LABEL[s], SKIPPED[s]))
    backends = sorted({r["extra"].get("backend", "") for r in records
                       if r["ok"] and r["sampler"] == "rmc"} - {""})
    if "rmc" in samplers:
        lines.append("- rmc backend: %s (asked: %s)" % ("; ".join(backends) or "-",
                                                        args.rmc_backend))
    lines.append("- wall time of the whole suite: %.0f s" % meta["suite_s"])
    if "stan" not in found:
        lines += ["", "Stan's figures on the same machine are not in the table: %s."
                  % SKIPPED.get("stan", "Stan was not selected (--samplers)").rstrip(".")]
    lines += ["",
              "- **wall time**: the sampling call alone (rmc.sample on a compiled "
              "rmc.Program), warmup included, compilation excluded.",
              "- **gradient evaluations**: warmup and initialisation included, all chains "
              "(rmc_fit_num_gradients; for a rival, the sum of its leapfrog steps).",
              "- **min bulk-ESS**: the smallest bulk-ESS (rmc_ess_bulk) over the reference's "
              "parameter elements, and which element; **per second** of wall time.",
              "- **divergences**: divergent transitions after warmup, over the 4 chains.",
              "- **mean check**: the largest |mean - reference mean| / reference sd over the "
              "elements; a run above %.1f, or a failed run, is marked `!`. (The tests hold "
              "each posterior to the stricter reference rule of tests/support/posteriordb.c.)"
              % MEAN_TOL, ""]
    head = ["posterior", "sampler", "adapt_delta / max_treedepth", "wall time (s)",
            "gradient evaluations", "min bulk-ESS (element)", "min bulk-ESS / s",
            "divergences", "mean check"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + " --- |" * len(head))
    for post in posts:
        control = post.reference()["control"]
        for sampler in samplers:
            rs = by.get((post.short, sampler), [])
            if not rs:
                continue
            good = [r for r in rs if r["ok"]]
            flag = " !" if any(not r["ok"] or r["ref_problems"] for r in rs) else ""
            if not good:
                row = ["failed"] * 6
            else:
                elements = sorted({r["min_ess_element"] for r in good})
                row = [med([r["sample_s"] for r in good], "%.3g"),
                       med([r["grad_evals"] for r in good], "%.4g"),
                       "%s (%s)" % (med([r["min_ess"] for r in good], "%.4g"),
                                    ", ".join(elements)),
                       med([r["ess_per_s"] for r in good], "%.4g"),
                       med([r["divergent"] for r in good], "%.0f"),
                       med([r["ref_max_z"] for r in good], "%.2f") + flag]
            lines.append("| " + " | ".join([post.short, LABEL[sampler], "%g / %d" % (
                control["adapt_delta"], control["max_treedepth"])] + row) + " |")
    lines.append("")
    problems = []
    for r in records:
        if not r["ok"]:
            err = r["error"].strip().splitlines()
            problems.append("- %s / %s / seed %d: run failed: %s" % (
                r["model"], LABEL[r["sampler"]], r["seed"],
                err[0] + (" ... " + err[-1] if len(err) > 1 else "")))
        elif r["ref_problems"]:
            problems.append("- %s / %s / seed %d: %s" % (r["model"], LABEL[r["sampler"]],
                                                        r["seed"], "; ".join(r["ref_problems"])))
    lines += ["## Failures and reference check", ""] + (problems or ["Every run passed."])
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


# ====================================================================== main

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per posterior (3)")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds are N, N+1, ... (1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 seed, posteriors %s, 2 latency runs"
                        % " and ".join(QUICK_MODELS))
    parser.add_argument("--models", help="comma-separated posteriors (short or full names)")
    parser.add_argument("--samplers", default=",".join(SAMPLERS),
                        help="comma-separated subset of %s" % ",".join(SAMPLERS))
    parser.add_argument("--cores", type=int, default=2,
                        help="threads / processes for the chains in every sampler (2)")
    parser.add_argument("--pending", action="store_true",
                        help="also run the rivals on the posteriors rmc cannot express yet")
    parser.add_argument("--timeout", type=int, default=1800,
                        help="seconds allowed to one run, compilation included (1800)")
    parser.add_argument("--latency-runs", type=int, default=5)
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--rmc-backend", default="auto",
                        help="rmc.sample's backend (auto, the default a user gets: it looks "
                        "for a Vulkan GPU first, once per process; cpu skips that)")
    parser.add_argument("--warm-pytensor-cache", action="store_true",
                        help="let PyMC and nutpie use the user's pytensor cache")
    parser.add_argument("--one-table", action="store_true",
                        help="write only the figures of every posterior in one table (wall "
                        "time, gradient evaluations, min bulk-ESS, ESS/s, divergences), by "
                        "default to bench/RESULTS-posteriors.md; no latency runs")
    parser.add_argument("--out", help="the report (bench/RESULTS-compare.md, or "
                        "bench/RESULTS-posteriors.md with --one-table)")
    parser.add_argument("--json", help="also write every run's record to this file")
    parser.add_argument("--keep", help="keep each run's folder (draws, logs) under this path")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args.worker)
    args.argv = sys.argv[1:]
    if args.out is None:
        args.out = os.path.join(ROOT, "bench", "RESULTS-posteriors.md" if args.one_table
                                else "RESULTS-compare.md")
    if args.one_table:
        args.no_latency = True

    if args.quick:
        args.seeds = 1
        args.latency_runs = min(args.latency_runs, 2)
        if not args.models:
            args.models = ",".join(QUICK_MODELS)
    args.seed_list = list(range(args.first_seed, args.first_seed + args.seeds))
    args.sampler_list = [s.strip() for s in args.samplers.split(",") if s.strip()]
    for s in args.sampler_list:
        if s not in SAMPLERS:
            parser.error("unknown sampler %r" % s)
    if args.models:
        posts = [models.by_name(n.strip()) for n in args.models.split(",") if n.strip()]
    else:
        posts = [p for p in models.POSTERIORS if p.rmc is not None or args.pending]
        if args.one_table:       # the posteriordb posteriors, not the simulated quick start
            posts = [p for p in posts if not p.simulated]
    for p in list(posts):
        if not p.available():
            print("skipped: %s: its files are not in %s" % (p.name, models.posteriordb_folder()))
            posts.remove(p)

    start = time.perf_counter()
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_start": loadavg()}
    # RMC_BENCH_COMMIT names the commit of a tree without .git (an export of a commit,
    # built apart from a busy checkout); else git says, and whether the library is edited.
    meta["commit"] = os.environ.get("RMC_BENCH_COMMIT", "unknown")
    if not os.environ.get("RMC_BENCH_COMMIT"):
        try:
            meta["commit"] = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short",
                                             "HEAD"], capture_output=True, text=True
                                            ).stdout.strip() or "unknown"
            dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src",
                                    "include", "python"], capture_output=True,
                                   text=True).stdout
            if dirty.strip():
                meta["commit"] += " (with uncommitted changes to the library)"
        except OSError:
            pass
    try:
        import arviz
        meta["arviz"] = ", ArviZ %s (ESS check)" % arviz.__version__
    except ImportError:
        print("note: arviz is not installed: the ESS estimator is not cross-checked")

    # rmc is always probed: every ESS goes through its C estimator.
    found, versions = detect(sorted(set(args.sampler_list) | {"rmc"}))
    samplers = [s for s in args.sampler_list if s in found]
    if "rmc" not in found:
        print("error: rmc is needed (every ESS goes through rmc_ess_bulk)")
        return 1
    for s in samplers:
        print("%-8s %s" % (s, found[s]))

    records = []
    workroot = args.keep or tempfile.mkdtemp(prefix="rmc-compare-")
    os.makedirs(workroot, exist_ok=True)
    try:
        for seed in args.seed_list:
            for post in posts:
                for sampler in samplers:
                    if sampler == "rmc" and post.rmc is None:
                        continue
                    r = run_one(sampler, post, seed, args, versions, workroot)
                    records.append(r)
                    if r["ok"]:
                        print("%-28s %-7s seed %d: sample %7.2f s  compile %7.2f s  grads %8d"
                              "  min ESS %7.0f  ESS/s %9.1f%s"
                              % (post.short, sampler, seed, r["sample_s"], r["compile_s"],
                                 r["grad_evals"], r["min_ess"], r["ess_per_s"],
                                 "  REFERENCE: " + "; ".join(r["ref_problems"])
                                 if r["ref_problems"] else ""), flush=True)
                    else:
                        err = r["error"].strip().splitlines()
                        print("%-28s %-7s seed %d: FAILED: %s\n    %s"
                              % (post.short, sampler, seed, err[0],
                                 "\n    ".join(err[-8:])), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)

    lat = None
    if not args.no_latency:
        lat = latency(args.latency_runs)
        print("\n".join(lat))
    meta["load_end"] = loadavg()
    meta["suite_s"] = time.perf_counter() - start
    if args.one_table:
        write_table(args.out, records, samplers, found, posts, args, meta)
    else:
        write_report(args.out, records, samplers, found, posts, args, meta, lat)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=1)
    print("wrote %s" % args.out)
    bad = [r for r in records if not r["ok"] or r["ref_problems"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
