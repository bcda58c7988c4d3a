#!/usr/bin/env python3
"""Write the seed corpus of the model-file harness (fuzz_modelfile.c) and its dictionary.

The seeds are the model files of the tests (tests/data/model_*.json, which Python's
save_model wrote), the eight-schools file of docs/model-files.md, and a few small files
that must load (a version 1 file, scans without sequences) or be refused. Written compact,
one file per seed; deterministic. Inputs the fuzzer found (a crash, a leak, a run out of
memory) are kept next to them under names saying what they did (oom_*.json) and are not
rewritten here.

    python3 tests/fuzz/make_modelfile_corpus.py
"""

import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "corpus_modelfile")


def doc(records, version=2):
    return {"format": "rmc-model", "version": version, "records": records}


def param(name, shape=(), lower=None, upper=None, **extra):
    rec = {"op": "param", "name": name, "shape": list(shape), "lower": lower, "upper": upper}
    rec.update(extra)
    return rec


SMALL = {
    "version1": doc([param("a"), {"op": "const", "value": 0.0}, {"op": "const", "value": 1.0},
                     {"op": "tilde", "dist": "normal", "inputs": [0, 1, 2]}], version=1),
    "scan_counted": doc([
        param("w", [2]), {"op": "const", "value": 1.0},
        {"op": "scan_begin", "inputs": [1]},
        {"op": "index", "i": 0, "inputs": [0]},
        {"op": "op2", "fn": "mul", "inputs": [2, 3]},
        {"op": "scan_end", "inputs": [2, 4], "steps": 3, "steps_name": None},
        {"op": "op1", "fn": "sum", "inputs": [5]},
        {"op": "tilde", "dist": "normal", "inputs": [6, 1, 1]},
        {"op": "scan_begin", "inputs": [1]},
        {"op": "op1", "fn": "tanh", "inputs": [8]},
        {"op": "scan_end", "inputs": [8, 9], "steps": None, "steps_name": "K"},
        {"op": "deterministic", "name": "k", "inputs": [10]}]),
    "matrix_ops": doc([
        param("A", [3, 3]), param("v", [3]),
        {"op": "const_vector", "values": [1.0, 2.0, 3.0]},
        {"op": "matvec", "inputs": [0, 1]}, {"op": "vecmat", "inputs": [1, 0]},
        {"op": "matmul", "inputs": [0, 0]}, {"op": "transpose", "inputs": [5]},
        {"op": "row", "i": 1, "inputs": [6]}, {"op": "col", "j": 2, "inputs": [6]},
        {"op": "concat", "inputs": [7, 8]}, {"op": "slice", "begin": 1, "end": 4,
                                             "inputs": [9]},
        {"op": "drop", "first": 1, "last": 0, "inputs": [10]},
        {"op": "op2", "fn": "dot", "inputs": [11, 2]},
        {"op": "op3", "fn": "log_mix", "inputs": [12, 3, 4]},
        {"op": "op1", "fn": "log_sum_exp", "inputs": [13]},
        {"op": "target", "inputs": [14]},
        {"op": "data", "name": "y", "dtype": "real", "shape": [-1]},
        {"op": "lpdf", "dist": "cauchy", "inputs": [16, 12, 2]},
        {"op": "deterministic", "name": "l", "inputs": [17]}]),
    "refused_kind": doc([param("a"), {"op": "frobnicate", "inputs": [0]}]),
    "refused_input": doc([param("a"), {"op": "op1", "fn": "exp", "inputs": [1]}]),
    "refused_dist": doc([param("a"), {"op": "tilde", "dist": "normel", "inputs": [0]}]),
}

DICT = ['"format"', '"rmc-model"', '"version"', '"records"', '"op"', '"inputs"', '"name"',
        '"shape"', '"lower"', '"upper"', '"transform"', '"dtype"', '"value"', '"values"',
        '"fn"', '"dist"', '"base"', '"begin"', '"end"', '"i"', '"j"', '"first"', '"last"',
        '"delta"', '"k"', '"steps"', '"steps_name"', "null", "true", "false", "-1", "1e999",
        "[]", "{}", '"real"', '"int"', '"ordered"', '"positive_ordered"', '"simplex"',
        '"cholesky_corr"', '"none"']


def main():
    from_docs = open(os.path.join(ROOT, "docs", "model-files.md")).read()
    start = from_docs.index("```json\n") + len("```json\n")
    seeds = {"docs_eight_schools": json.loads(from_docs[start:from_docs.index("```", start)])}
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "model_*.json"))):
        seeds[os.path.basename(path)[len("model_"):-len(".json")]] = json.load(open(path))
    seeds.update(SMALL)
    for name, d in seeds.items():
        with open(os.path.join(OUT, "seed_%s.json" % name), "w") as f:
            f.write(json.dumps(d, separators=(",", ":")))
    kinds = ["param", "data", "const", "const_vector", "op1", "op2", "op3", "gather", "slice",
             "index", "matvec", "vecmat", "matmul", "transpose", "concat",
             "diag_pre_multiply", "cholesky", "tri_solve", "row", "col", "drop",
             "cov_exp_quad", "tilde", "lpdf", "target", "deterministic", "scan_begin",
             "scan_row", "scan_end"]
    with open(os.path.join(HERE, "modelfile.dict"), "w") as f:
        f.write("# libFuzzer dictionary for fuzz_modelfile (make_modelfile_corpus.py)\n")
        for k, word in enumerate(DICT + ['"%s"' % w for w in kinds]):
            f.write("w%d=%s\n" % (k, json.dumps(word)))
    print("wrote %d seeds to %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()
