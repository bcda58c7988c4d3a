"""Fits in other tools' formats: CmdStan CSV (written and read), ArviZ, plain dicts, npz.

The CSV layout follows CmdStan's output files, one per chain: ``#`` comment lines with the
settings, a header row (``lp__, accept_stat__, stepsize__, treedepth__, n_leapfrog__,
divergent__, energy__`` then the variables, ``theta.1``, ``L.2.3``), the adaptation block,
one row per draw and the elapsed time. ArviZ's ``from_cmdstan`` and R's posterior and
cmdstanr readers take these files. Numbers are written with Python's shortest exact repr,
so that reading a file back gives the very same doubles. docs/outputs.md describes it all.
"""

import glob
import json
import os
import re

import numpy as np

from . import _lib

__all__ = ["write_csv", "read_csv", "to_dict", "to_arviz", "save", "load"]

# rmc's stat name -> CmdStan's column, in CmdStan's order.
CSV_STATS = (("lp", "lp__"), ("accept_stat", "accept_stat__"), ("step_size", "stepsize__"),
             ("tree_depth", "treedepth__"), ("n_leapfrog", "n_leapfrog__"),
             ("divergent", "divergent__"), ("energy", "energy__"))
# rmc's stat name -> ArviZ's sample_stats name.
ARVIZ_STATS = {"lp": "lp", "accept_stat": "acceptance_rate", "step_size": "step_size",
               "tree_depth": "tree_depth", "n_leapfrog": "n_steps", "divergent": "diverging",
               "energy": "energy"}
_INT_STATS = ("tree_depth", "n_leapfrog")
_SETTINGS = ("num_warmup", "thin", "sampler", "max_treedepth", "target_accept", "seed",
             "backend", "device", "backend_reason")
# The version of the npz layout written by save(); load() refuses newer ones.
NPZ_FORMAT = 1


def _num(x):
    """A double as its shortest exact text (repr round-trips; CmdStan spells nan/inf so)."""
    return repr(float(x))


def _csv_name(column):
    """rmc's one-based column name ("theta[2,3]") as CmdStan spells it ("theta.2.3")."""
    m = re.fullmatch(r"(.*)\[([0-9,]+)\]", column)
    if not m:
        return column
    return m.group(1) + "." + m.group(2).replace(",", ".")


def _split_csv_name(column):
    """CmdStan's "theta.2.3" as ("theta", (2, 3)); a scalar "mu" as ("mu", ())."""
    parts = column.split(".")
    k = len(parts)
    while k > 1 and parts[k - 1].isdigit():
        k -= 1
    return ".".join(parts[:k]), tuple(int(p) for p in parts[k:])


def _shape_text(shape):
    return ",".join(str(d) for d in shape)


# ------------------------------------------------------------------ CSV: writing


def write_csv(fit, directory, basename="output", model_name="rmc_model"):
    """Write ``fit`` as CmdStan CSV files ``directory/basename_<chain>.csv``; return the
    paths. The folder is created when missing; existing files of those names are
    replaced."""
    os.makedirs(directory, exist_ok=True)
    columns = [stat for _, stat in CSV_STATS] + [_csv_name(c) for c in fit.column_names]
    variables = ";".join("%s:%s" % (n, _shape_text(s)) for n, s, _ in fit.variables)
    paths = []
    for c in range(fit.chains):
        path = os.path.join(directory, "%s_%d.csv" % (basename, c + 1))
        head = _header(fit, c, model_name, os.path.basename(path), variables)
        with open(path, "w") as f:
            f.write("\n".join("# " + line if line else "#" for line in head) + "\n")
            f.write(",".join(columns) + "\n")
            f.write("# Adaptation terminated\n")
            f.write("# Step size = %s\n" % _num(fit.step_size[c]))
            f.write("# Diagonal elements of inverse mass matrix:\n")
            f.write("# " + ", ".join(_num(v) for v in fit.inv_metric[c]) + "\n")
            stats = [fit.stats[name][c] for name, _ in CSV_STATS]
            for d in range(fit.num_draws):
                row = []
                for name, col in zip((n for n, _ in CSV_STATS), stats):
                    v = col[d]
                    row.append(str(int(v)) if name in _INT_STATS or name == "divergent"
                               else _num(v))
                row.extend(_num(v) for v in fit.values[c, d].tolist())
                f.write(",".join(row) + "\n")
            # rmc times the run as a whole: warmup and sampling are not told apart.
            f.write("#\n#  Elapsed Time: 0 seconds (Warm-up)\n")
            f.write("#                %s seconds (Sampling)\n" % _num(fit.seconds))
            f.write("#                %s seconds (Total)\n#\n" % _num(fit.seconds))
        paths.append(path)
    return paths


def _header(fit, chain, model_name, file_name, variables):
    """The configuration comment lines, in CmdStan's indented key = value form; rmc's own
    settings follow as rmc_* keys, which other readers ignore."""
    from . import version
    nuts = fit.sampler == "nuts"
    lines = [
        "stan_version_major = 2",
        "stan_version_minor = 33",
        "stan_version_patch = 0",
        "(the stan_version lines give the CmdStan CSV layout this file follows)",
        "model = %s" % model_name,
        "method = sample (Default)",
        "  sample",
        "    num_samples = %d" % fit.num_draws,
        "    num_warmup = %d" % fit.num_warmup,
        "    save_warmup = 0",
        "    thin = %d" % fit.thin,
        "    adapt",
        "      engaged = 1",
        "      delta = %s" % _num(fit.target_accept),
        "    algorithm = hmc (Default)",
        "      hmc",
        "        engine = %s" % ("nuts" if nuts else "static"),
    ]
    if nuts:
        lines += ["          nuts", "            max_depth = %d" % fit.max_treedepth]
    lines += [
        "        metric = diag_e (Default)",
        "    num_chains = 1",
        "id = %d" % (chain + 1),
        "random",
        "  seed = %d" % fit.seed,
        "output",
        "  file = %s" % file_name,
        "rmc_version = %s" % version(),
        "rmc_sampler = %s" % fit.sampler,
        "rmc_chains = %d" % fit.chains,
        "rmc_chain = %d" % (chain + 1),
        "rmc_max_treedepth = %d" % fit.max_treedepth,
        "rmc_target_accept = %s" % _num(fit.target_accept),
        "rmc_backend = %s" % fit.backend,
        "rmc_device = %s" % fit.device,
        "rmc_backend_reason = %s" % fit.backend_reason,
        "rmc_gradient_evals = %d" % fit.gradient_evals,
        "rmc_seconds = %s" % _num(fit.seconds),
        "rmc_cancelled = %d" % int(fit.cancelled),
        "rmc_variables = %s" % variables,
        "",
    ]
    return [line.replace("\n", " ") for line in lines]


# ------------------------------------------------------------------ CSV: reading


def _expand(paths):
    """A path, a glob pattern, a folder (its *.csv) or a list of those -> file list."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out = []
    for p in paths:
        p = os.fspath(p)
        if os.path.isdir(p):
            out.extend(sorted(glob.glob(os.path.join(p, "*.csv"))))
        elif any(ch in p for ch in "*?["):
            out.extend(sorted(glob.glob(p)))
        else:
            out.append(p)
    if not out:
        raise ValueError("read_csv: no CSV files in %r" % (paths,))
    return out


def _read_one(path):
    """(config dict, column names, rows array, step size, inverse metric, seconds)."""
    config, columns, rows = {}, None, []
    step, metric, seconds = np.nan, [], {}
    with open(path) as f:
        lines = iter(f.read().splitlines())
    for line in lines:
        if line.startswith("#"):
            text = line[1:].strip()
            m = re.fullmatch(r"(\S+) =(?: (.*?))?(?: \(Default\))?", text)
            if text.startswith("Step size"):
                step = float(text.split("=", 1)[1])
            elif "inverse mass matrix" in text:
                if text.startswith("Diagonal"):
                    row = next(lines, "#")[1:].strip()
                    metric = [float(v) for v in row.split(",")] if row else []
            elif "seconds (" in text:
                m2 = re.search(r"([-+0-9.eEnainf]+) seconds \((\S+)\)", text)
                if m2:
                    seconds[m2.group(2)] = float(m2.group(1))
            elif m and m.group(1) not in config:
                config[m.group(1)] = m.group(2) or ""
            continue
        if not line.strip():
            continue
        if columns is None:
            columns = [c.strip() for c in line.split(",")]
            continue
        fields = line.split(",")
        if len(fields) != len(columns):
            raise ValueError("%s: a row has %d fields, the header %d"
                             % (path, len(fields), len(columns)))
        rows.append([float(v) for v in fields])
    if columns is None:
        raise ValueError("%s: no header row: not a CmdStan CSV file" % path)
    data = np.array(rows, dtype=np.float64).reshape(len(rows), len(columns))
    # With save_warmup = 1 the warmup draws come first; a fit holds the kept draws only.
    if config.get("save_warmup", "0") in ("1", "true"):
        skip = int(config.get("num_warmup", 0)) // max(1, int(config.get("thin", 1)))
        data = data[skip:]
    return config, columns, data, step, metric, seconds


def _variables_from(names):
    """Variables (name, shape) in order of appearance, shapes from the largest indices."""
    order, shapes = [], {}
    for col in names:
        base, idx = _split_csv_name(col)
        if base not in shapes:
            order.append(base)
            shapes[base] = idx
        elif len(idx) == len(shapes[base]):
            shapes[base] = tuple(max(a, b) for a, b in zip(shapes[base], idx))
        else:
            raise ValueError("column %r does not match the other columns of %r"
                             % (col, base))
    return [(n, shapes[n]) for n in order]


def _parse_variables(text):
    """The rmc_variables header ("mu:;theta:8;L:3,3") as [(name, shape)]."""
    out = []
    for item in filter(None, text.split(";")):
        name, _, dims = item.rpartition(":")
        out.append((name, tuple(int(d) for d in dims.split(",") if d)))
    return out


def _column_name(name, idx):
    return "%s[%s]" % (name, ",".join(str(i) for i in idx)) if idx else name


def read_csv(paths):
    """Read CmdStan CSV files (rmc's own or CmdStan's), one per chain, into a FitResult.

    ``paths``: a file, a folder (its ``*.csv``), a glob pattern or a list of those. Chains
    are ordered by the files' ``id`` (else as given). Variables are laid out as rmc lays
    them out (row-major, columns named ``theta[1]``); files written by
    :meth:`FitResult.to_csv` give back identical draws, statistics and settings. Sample
    statistics a file lacks (static HMC files have no ``treedepth__``) read as NaN (0 for
    the integer ones). Raises ValueError for files that do not agree with each other.
    """
    from .fit import FitResult
    files = _expand(paths)
    pairs = sorted(((p, _read_one(p)) for p in files),
                   key=lambda pc: int(pc[1][0].get("id", 0) or 0))
    files = [p for p, _ in pairs]
    chains = [ch for _, ch in pairs]
    config, columns = chains[0][0], chains[0][1]
    for p, ch in zip(files, chains):
        if ch[1] != columns:
            raise ValueError("%s: its columns differ from those of the first file" % p)
    lengths = [ch[2].shape[0] for ch in chains]
    ndraws = min(lengths)

    stat_cols = {c: j for j, c in enumerate(columns) if c.endswith("__")}
    param_cols = {c: j for j, c in enumerate(columns) if not c.endswith("__")}
    if "rmc_variables" in config:
        variables = _parse_variables(config["rmc_variables"])
    else:
        variables = _variables_from(list(param_cols))
    # Columns in rmc's order: variable after variable, each row-major (CmdStan writes
    # matrices column-major, so foreign files are reordered here).
    take, names, layout, first = [], [], [], 0
    for name, shape in variables:
        for flat in range(int(np.prod(shape))):
            idx = tuple(int(i) + 1 for i in np.unravel_index(flat, shape)) if shape else ()
            csv = name + "".join("." + str(i) for i in idx)
            if csv not in param_cols:
                raise ValueError("%s: no column %r" % (files[0], csv))
            take.append(param_cols[csv])
            names.append(_column_name(name, idx))
        layout.append((name, shape, first))
        first += int(np.prod(shape))

    nchains = len(chains)
    values = np.empty((nchains, ndraws, len(take)))
    stats = {}
    for name, col in CSV_STATS:
        arr = np.full((nchains, ndraws), np.nan)
        if col in stat_cols:
            for c, ch in enumerate(chains):
                arr[c] = ch[2][:ndraws, stat_cols[col]]
        if name in _INT_STATS:
            arr = np.nan_to_num(arr, nan=0.0).astype(np.int64)
        elif name == "divergent":
            arr = np.nan_to_num(arr, nan=0.0) != 0
        stats[name] = arr
    for c, ch in enumerate(chains):
        values[c] = ch[2][:ndraws][:, take]

    dims = {len(ch[4]) for ch in chains}
    dim = dims.pop() if len(dims) == 1 else 0
    inv_metric = np.array([ch[4] for ch in chains]) if dim else np.empty((nchains, 0))
    step_size = np.array([ch[3] for ch in chains])

    nuts = config.get("engine", "nuts") == "nuts"
    sampler = config.get("rmc_sampler", "nuts" if nuts else "hmc")
    target = config.get("rmc_target_accept", config.get("delta", "0.8"))
    settings = {
        "num_warmup": int(config.get("num_warmup", 0)),
        "thin": int(config.get("thin", 1)),
        "sampler": sampler,
        "max_treedepth": int(config.get("rmc_max_treedepth", config.get("max_depth", 10))),
        "target_accept": float(target),
        "seed": int(config.get("seed", 0)),
        "backend": config.get("rmc_backend", ""),
        "device": config.get("rmc_device", ""),
        "backend_reason": config.get("rmc_backend_reason", ""),
    }
    if "rmc_gradient_evals" in config:
        gradient_evals = int(config["rmc_gradient_evals"])
    else:   # a lower bound: the files hold no warmup counts
        gradient_evals = int(stats["n_leapfrog"].sum())
    if "rmc_seconds" in config:
        seconds = float(config["rmc_seconds"])
    else:
        seconds = max(ch[5].get("Total", 0.0) for ch in chains)
    cancelled = config.get("rmc_cancelled", "0") == "1" or len(set(lengths)) > 1
    return FitResult._from_arrays(values, stats, names, layout, settings, step_size,
                                  inv_metric, gradient_evals, seconds, cancelled)


# ------------------------------------------------------------------ ArviZ and dicts


def _attrs(fit):
    from . import version
    attrs = {k: getattr(fit, k) for k in _SETTINGS}
    attrs.update(inference_library="rmc", inference_library_version=version(),
                 gradient_evals=fit.gradient_evals, sampling_time=fit.seconds,
                 cancelled=int(fit.cancelled))
    return attrs


def to_dict(fit):
    """See :meth:`FitResult.to_dict`."""
    return {
        "posterior": {name: np.array(arr) for name, arr in fit.draws.items()},
        "sample_stats": {ARVIZ_STATS[k]: np.array(v) for k, v in fit.stats.items()},
        "attrs": _attrs(fit),
    }


def to_arviz(fit):
    """See :meth:`FitResult.to_arviz`."""
    try:
        import arviz as az
    except ImportError as exc:
        raise ImportError("FitResult.to_arviz needs arviz (python3 -m pip install arviz); "
                          "FitResult.to_dict gives the same arrays without it") from exc
    d = to_dict(fit)
    return az.from_dict(posterior=d["posterior"], sample_stats=d["sample_stats"],
                        attrs=d["attrs"])


# ------------------------------------------------------------------ npz


def save(fit, path):
    """See :meth:`FitResult.save`. Returns the path written."""
    meta = {
        "format": NPZ_FORMAT, "settings": {k: getattr(fit, k) for k in _SETTINGS},
        "column_names": fit.column_names,
        "variables": [[n, list(s), f] for n, s, f in fit.variables],
        "gradient_evals": fit.gradient_evals, "seconds": fit.seconds,
        "cancelled": bool(fit.cancelled),
    }
    arrays = {"values": np.ascontiguousarray(fit.values), "step_size": fit.step_size,
              "inv_metric": fit.inv_metric, "meta": np.array(json.dumps(meta))}
    for name, arr in fit.stats.items():
        arrays["stat_" + name] = arr
    path = os.fspath(path)
    with open(path, "wb") as f:   # a file object keeps numpy from appending ".npz"
        np.savez_compressed(f, **arrays)
    return path


def load(path):
    """Read a fit written by :meth:`FitResult.save`; the draws, statistics, adaptation,
    settings and summary are those of the saved fit."""
    from .fit import FitResult
    with np.load(os.fspath(path), allow_pickle=False) as z:
        meta = json.loads(str(z["meta"][()]))
        if meta.get("format", 0) > NPZ_FORMAT:
            raise ValueError("%s: npz format %s is newer than this rmc reads (%d)"
                             % (path, meta.get("format"), NPZ_FORMAT))
        stats = {name: z["stat_" + name] for name in _lib.STAT_NAMES}
        return FitResult._from_arrays(z["values"], stats, meta["column_names"],
                                      meta["variables"], meta["settings"], z["step_size"],
                                      z["inv_metric"], meta["gradient_evals"],
                                      meta["seconds"], meta["cancelled"])
