"""The ``rmc`` command: sample a model file, summarise CSV files, list devices.

    rmc sample --model m.json --data d.json --chains 4 --output out/
    rmc summary out/*.csv
    rmc devices

Installed as a console script by ``pip install ./python``; ``python3 -m rmc`` is the same.
Model files are :func:`rmc.save_model`'s JSON; data files use CmdStan's JSON layout (an
object of numbers and nested lists), as posteriordb's ``*.data.json`` do.
"""

import argparse
import json
import os
import sys

__all__ = ["main"]


def _parser():
    from . import version
    p = argparse.ArgumentParser(
        prog="rmc", description="Many-chain Bayesian sampling from the command line.")
    p.add_argument("--version", action="version", version="rmc %s" % version())
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser(
        "sample", help="sample a model file on a data file, write CmdStan CSV files",
        description="Sample MODEL on DATA, write one CmdStan-compatible CSV file per chain "
                    "to OUTPUT and print the summary (mean, sd, quantiles, MCSE, ESS, "
                    "R-hat).")
    s.add_argument("--model", required=True, help="model file (JSON, from rmc.save_model)")
    s.add_argument("--data", help="data file (JSON in CmdStan's layout); none for a model "
                                  "without data")
    s.add_argument("--output", default="output", help="folder for the CSV files (made "
                                                      "when missing; default: output)")
    s.add_argument("--basename", default="output", help="file names: BASENAME_<chain>.csv")
    s.add_argument("--chains", type=int, default=4)
    s.add_argument("--draws", type=int, default=1000, help="kept draws per chain")
    s.add_argument("--warmup", type=int, default=1000, help="warmup iterations per chain")
    s.add_argument("--thin", type=int, default=1)
    s.add_argument("--seed", type=int, default=None, help="default: a random seed, "
                                                           "written to the files")
    s.add_argument("--sampler", choices=("nuts", "hmc"), default="nuts")
    s.add_argument("--target-accept", type=float, default=0.8)
    s.add_argument("--max-treedepth", type=int, default=10)
    s.add_argument("--threads", type=int, default=0, help="CPU threads (0: one per core)")
    s.add_argument("--backend", choices=("auto", "cpu", "vulkan"), default="auto")
    s.add_argument("--device", default=None, help="Vulkan device: index or part of name")
    s.add_argument("--save", default=None, help="also save the whole fit to this .npz")
    s.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    s.set_defaults(run=_sample)

    m = sub.add_parser(
        "summary", help="summarise CmdStan CSV files (rmc's or CmdStan's)",
        description="Read CSV files, one per chain, and print the summary table that "
                    "rmc.sample prints.")
    m.add_argument("files", nargs="+", help="CSV files, folders or glob patterns")
    m.set_defaults(run=_summary)

    d = sub.add_parser("devices", help="list the Vulkan devices rmc can use",
                       description="List the Vulkan devices rmc can use, or say why there "
                                   "are none; sampling then runs on the CPU.")
    d.add_argument("--json", action="store_true", help="print the list as JSON")
    d.set_defaults(run=_devices)
    return p


def _load_data(path):
    if path is None:
        return {}
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        raise ValueError("%s: not valid JSON: %s" % (path, exc)) from None
    if not isinstance(data, dict):
        raise ValueError("%s: a data file holds one JSON object of named values" % path)
    return data


def _sample(args):
    from . import sample
    from .modelfile import load_model
    model = load_model(args.model)
    data = _load_data(args.data)
    fit = sample(model, data, chains=args.chains, draws=args.draws, warmup=args.warmup,
                 thin=args.thin, seed=args.seed, sampler=args.sampler,
                 target_accept=args.target_accept, max_treedepth=args.max_treedepth,
                 threads=args.threads, backend=args.backend, device=args.device,
                 progress=not args.no_progress)
    name = os.path.splitext(os.path.basename(args.model))[0]
    paths = fit.to_csv(args.output, basename=args.basename, model_name=name)
    for p in paths:
        print("wrote %s" % p, file=sys.stderr)
    if args.save:
        print("wrote %s" % fit.save(args.save), file=sys.stderr)
    print(fit)
    return 0


def _summary(args):
    from . import read_csv
    print(read_csv(args.files))
    return 0


def _devices(args):
    from . import devices, vulkan_status
    found = devices()
    if args.json:
        print(json.dumps(found, indent=1))
        return 0
    if not found:
        ok, why = vulkan_status()
        print("no Vulkan devices%s; rmc samples on the CPU" % ("" if ok else ": " + why))
        return 0
    for d in found:
        print("%d: %s (%s, %s, float64 %s, %.1f GiB%s)"
              % (d["index"], d["name"], d["type"], d["driver"] or "driver ?",
                 "yes" if d["float64"] else "no", d["memory"] / 2 ** 30,
                 "" if d["automatic"] else ", used only when named"))
    return 0


def main(argv=None):
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage)."""
    args = _parser().parse_args(argv)
    from ._lib import RmcError
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError, KeyError, RmcError) as exc:
        print("rmc %s: error: %s" % (args.command, exc), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
