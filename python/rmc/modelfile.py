"""Models as files: the JSON form of :meth:`rmc.Model.to_json`, saved, loaded and checked.

A model file is ``{"format": "rmc-model", "version": 2, "records": [...]}``; each record
is ``{"op": kind, "inputs": [earlier record indexes], ...attributes}`` as
``rmc/builder.py`` describes, and docs/model-files.md documents. :func:`load_model`
checks every record against the schema below before building, so that a hand-edited or
damaged file fails with a message naming the record and the attribute, not a KeyError.
"""

import ctypes
import json
import numbers
import os

from . import _lib
from .builder import FORMAT_VERSION, Model, _CModel

__all__ = ["save_model", "load_model", "validate_model_doc", "ModelFileError",
           "model_to_json_c"]


class ModelFileError(ValueError):
    """A model file that cannot be read: the message names the file, record and field."""


def _is_int(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_num(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _shape_ok(v):
    return v is None or (isinstance(v, list) and len(v) <= _lib.RMC_MAX_DIMS and all(
        (isinstance(s, str) and s) or (_is_int(s) and (s >= 1 or s == -1)) for s in v))


def _opt_int(v):
    return v is None or _is_int(v)


_NAME = ("name", lambda v: isinstance(v, str) and bool(v), "a non-empty string")
_SHAPE = ("shape", _shape_ok, "null or a list of at most 2 sizes (ints >= 1, -1, or "
                              "data names)")


def _choice(key, options):
    return (key, lambda v: v in options, "one of " + ", ".join(sorted(map(str, options))))


def _int(key):
    return (key, _is_int, "an integer")


# kind -> (number of inputs: an int, or (minimum, maximum or None)), required attributes
_SCHEMA = {
    "param": (0, [_NAME, _SHAPE]),
    "data": (0, [_NAME, _SHAPE, _choice("dtype", ("real", "int"))]),
    "const": (0, [("value", _is_num, "a number")]),
    "const_vector": (0, [("values", lambda v: isinstance(v, list) and all(map(_is_num, v)),
                          "a list of numbers")]),
    "op1": (1, [_choice("fn", _lib.OPS)]),
    "op2": (2, [_choice("fn", _lib.OPS)]),
    "op3": (3, [_choice("fn", _lib.OPS)]),
    "gather": (2, [_int("base")]),
    "slice": (1, [_int("begin"), _int("end")]),
    "index": (1, [_int("i")]),
    "matvec": (2, []), "vecmat": (2, []), "matmul": (2, []), "transpose": (1, []),
    "concat": (2, []), "diag_pre_multiply": (2, []), "cholesky": (1, []),
    "tri_solve": (2, []),
    "row": (1, [_int("i")]),
    "col": (1, [_int("j")]),
    "drop": (1, [_int("first"), _int("last")]),
    "cov_exp_quad": (3, [("delta", _is_num, "a number")]),
    "tilde": ((1, None), [_choice("dist", _lib.DISTS)]),
    "lpdf": ((1, None), [_choice("dist", _lib.DISTS)]),
    "target": (1, []),
    "deterministic": (1, [_NAME]),
    "scan_begin": ((1, 3), []),
    "scan_row": (2, [_int("k")]),
    "scan_end": ((2, 4), []),
}


def validate_model_doc(doc, where="model"):
    """Check a parsed model file; raise :class:`ModelFileError` naming the first problem.

    Checks the header (format, a supported version), then each record: a known kind, the
    right number of inputs, each an earlier record, the attributes the kind needs with
    values of the right type, and parameter bounds that name earlier records. What the C
    builder checks (shapes agreeing, names unique) is reported when the model is built.
    """
    if not isinstance(doc, dict) or doc.get("format") != "rmc-model":
        raise ModelFileError("%s: not an rmc model file (no \"format\": \"rmc-model\")"
                             % where)
    version = doc.get("version")
    if version not in (1, FORMAT_VERSION):
        raise ModelFileError("%s: model file version %r is not supported (this rmc reads "
                             "versions 1 and %d)" % (where, version, FORMAT_VERSION))
    records = doc.get("records")
    if not isinstance(records, list) or not records:
        raise ModelFileError("%s: \"records\" must be a non-empty list" % where)
    for i, rec in enumerate(records):
        _check_record(rec, i, where)


def _check_record(rec, i, where):
    if not isinstance(rec, dict) or not isinstance(rec.get("op"), str):
        raise ModelFileError("%s: record %d must be an object with an \"op\"" % (where, i))
    op = rec["op"]
    what = "%s: record %d (%s)" % (where, i, op)
    if op not in _SCHEMA:
        raise ModelFileError("%s: unknown kind; known kinds: %s"
                             % (what, ", ".join(sorted(_SCHEMA))))
    count, attrs = _SCHEMA[op]
    inputs = rec.get("inputs", [])
    if not isinstance(inputs, list) or not all(_is_int(j) for j in inputs):
        raise ModelFileError("%s: \"inputs\" must be a list of record indexes" % what)
    lo, hi = (count, count) if _is_int(count) else count
    if len(inputs) < lo or (hi is not None and len(inputs) > hi):
        want = str(lo) if lo == hi else "%d to %s" % (lo, "any" if hi is None else hi)
        raise ModelFileError("%s: takes %s input(s), got %d" % (what, want, len(inputs)))
    for j in inputs:
        if not 0 <= j < i:
            raise ModelFileError("%s: input %d is not an earlier record" % (what, j))
    for key, ok, desc in attrs:
        if key not in rec:
            raise ModelFileError("%s: missing \"%s\" (%s)" % (what, key, desc))
        if not ok(rec[key]):
            raise ModelFileError("%s: \"%s\" must be %s, got %r" % (what, key, desc,
                                                                   rec[key]))
    if op == "param":
        for key in ("lower", "upper"):
            if key not in rec and rec.get("transform") is None:
                raise ModelFileError("%s: missing \"%s\" (null or an earlier record)"
                                     % (what, key))
            b = rec.get(key)
            if not _opt_int(b) or (b is not None and not 0 <= b < i):
                raise ModelFileError("%s: \"%s\" must be null or an earlier record, got %r"
                                     % (what, key, b))
        if rec.get("transform") is not None and rec["transform"] not in _lib.TRANSFORMS:
            raise ModelFileError("%s: \"transform\" must be one of %s, got %r"
                                 % (what, ", ".join(_lib.TRANSFORMS), rec["transform"]))
    if op == "scan_end":
        if not _opt_int(rec.get("steps")) or not (
                rec.get("steps_name") is None or isinstance(rec["steps_name"], str)):
            raise ModelFileError("%s: \"steps\" must be an integer and \"steps_name\" a "
                                 "string, where given" % what)


def load_model(path, loader="python"):
    """Read, check and build a model file written by :func:`save_model` (or
    :meth:`rmc.Model.to_json`). Raises :class:`ModelFileError` (a ValueError) saying what
    is wrong and where; errors the C builder finds are reported the same way.

    ``loader="c"`` checks and builds the file with librmc's ``rmc_model_load_file`` (the
    loader C programs use) instead; the model is the same, and the messages name the
    record and field in the C loader's words."""
    where = os.fspath(path)
    if loader == "c":
        return _load_model_c(where)
    if loader != "python":
        raise ValueError("loader must be \"python\" or \"c\", got %r" % (loader,))
    try:
        with open(where) as f:
            doc = json.load(f)
    except json.JSONDecodeError as exc:
        raise ModelFileError("%s: not valid JSON: %s" % (where, exc)) from None
    return model_from_doc(doc, where)


def model_from_doc(doc, where="model"):
    """Check a parsed model file and build it (see :func:`load_model`)."""
    validate_model_doc(doc, where)
    try:
        return Model.from_json(json.dumps(doc))
    except (ValueError, _lib.RmcError) as exc:
        raise ModelFileError("%s: the model does not build: %s" % (where, exc)) from None


def save_model(model, path):
    """Write ``model`` (an :class:`rmc.Model` or a ModelBuilder, which is built) as JSON;
    returns the path."""
    if not isinstance(model, Model):
        model = model.build()
    path = os.fspath(path)
    with open(path, "w") as f:
        f.write(model.to_json() + "\n")
    return path


def _load_model_c(where):
    """load_model(loader="c"): C checks and builds; Python keeps the records it read."""
    handle = ctypes.c_void_p()
    status = _lib.lib.rmc_model_load_file(os.fsencode(where), ctypes.byref(handle))
    if status != _lib.RMC_OK:
        raise ModelFileError(_lib.last_error()) from None
    c_model = _CModel.__new__(_CModel)
    c_model._handle = handle
    with open(where) as f:   # valid JSON: the C loader has just read it
        records = json.load(f)["records"]
    model = Model.__new__(Model)
    model._records = tuple(records)
    model._c_model = c_model
    return model


def model_to_json_c(model):
    """The model as the C library writes it (``rmc_model_save_json``): the same model as
    :meth:`rmc.Model.to_json`, though deterministics come last and a data field declared
    twice is written once."""
    if not isinstance(model, Model):
        model = model.build()
    text = ctypes.c_void_p()
    _lib._check(_lib.lib.rmc_model_save_json(model.c_model()._handle, ctypes.byref(text)))
    try:
        return ctypes.string_at(text.value).decode()
    finally:
        _lib.lib.rmc_model_json_free(text)
