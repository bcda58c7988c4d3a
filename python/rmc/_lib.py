"""ctypes bindings to librmc: every symbol of include/rmc.h, declared once.

Each binding carries its C prototype in a comment beside it. Nothing here is public API;
the rest of the package calls ``lib.rmc_*`` and converts failures with :func:`_check`.
Plain ``CDLL`` foreign calls release the GIL, so a long ``rmc_sample`` call lets other
Python threads run.
"""

import ctypes
import ctypes.util
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_int, c_int32,
                    c_int64, c_uint64, c_void_p)

# ------------------------------------------------------------------ locating the library

_HERE = os.path.dirname(os.path.abspath(__file__))
_BUILD_HINT = (
    "librmc.so was not found. Build it from the repository root with\n"
    "    cmake -S . -B build && cmake --build build -j2\n"
    "or point the RMC_LIBRARY environment variable at an existing librmc.so.")


def _candidates():
    """Paths to try, in order: $RMC_LIBRARY, the package folder, the repo's build/."""
    env = os.environ.get("RMC_LIBRARY")
    if env:
        yield env
    yield os.path.join(_HERE, "librmc.so")
    yield os.path.normpath(os.path.join(_HERE, "..", "..", "build", "librmc.so"))
    found = ctypes.util.find_library("rmc")
    if found:
        yield found


def _load():
    """Load the first library that exists, or raise ImportError saying how to build."""
    tried = []
    for path in _candidates():
        # find_library returns a bare soname ("librmc.so.0") that dlopen resolves itself.
        if os.path.sep in path and not os.path.exists(path):
            tried.append(path)
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as exc:
            tried.append("%s (%s)" % (path, exc))
    raise ImportError(_BUILD_HINT + "\nLooked at:\n    " + "\n    ".join(tried))


lib, library_path = _load()

# ------------------------------------------------------------------ enums (mirroring rmc.h)

RMC_NONE = -1
RMC_MAX_DIMS = 2

# rmc_status
STATUS_NAMES = ("RMC_OK", "RMC_ERR_ARGUMENT", "RMC_ERR_MODEL", "RMC_ERR_SHAPE",
                "RMC_ERR_DATA", "RMC_ERR_NOMEM", "RMC_ERR_INIT", "RMC_ERR_BACKEND",
                "RMC_ERR_CANCELLED", "RMC_ERR_CALLBACK", "RMC_ERR_INTERNAL")
RMC_OK = 0
RMC_ERR_CANCELLED = 8

# rmc_dtype
RMC_REAL, RMC_INT32, RMC_INT64 = 0, 1, 2

# rmc_op
OPS = {
    "add": 0, "sub": 1, "mul": 2, "div": 3, "pow": 4, "min": 5, "max": 6,
    "neg": 16, "exp": 17, "log": 18, "log1p": 19, "sqrt": 20, "square": 21,
    "logistic": 22, "lgamma": 23, "expm1": 24, "log1p_exp": 25, "tanh": 26, "abs": 27,
    "sum": 32, "dot": 33, "log_sum_exp": 34,
    "log_mix": 48,
}

# rmc_dist
DISTS = {
    "normal": 0, "half_normal": 1, "cauchy": 2, "half_cauchy": 3, "student_t": 4,
    "uniform": 5, "exponential": 6, "bernoulli": 7, "bernoulli_logit": 8,
}

# rmc_transform
TRANSFORMS = {"none": 0, "ordered": 1, "positive_ordered": 2, "simplex": 3,
              "cholesky_corr": 4}

# rmc_sampler, rmc_backend
SAMPLERS = {"nuts": 0, "hmc": 1, "chees": 2, "meads": 3, "auto": 4}
BACKENDS = {"auto": 0, "cpu": 1, "vulkan": 2}
BACKEND_NAMES = {v: k for k, v in BACKENDS.items()}
RMC_ERR_BACKEND = 7

# rmc_device_type
DEVICE_TYPES = {0: "other", 1: "integrated_gpu", 2: "discrete_gpu", 3: "virtual_gpu", 4: "cpu"}

# rmc_stat, in the order of the stats array
STAT_NAMES = ("lp", "accept_stat", "step_size", "tree_depth", "n_leapfrog", "divergent",
              "energy")

# rmc_summary_field, in the order of the summary array
SUMMARY_FIELDS = ("mean", "sd", "q5", "q50", "q95", "mcse_mean", "ess_bulk", "ess_tail",
                  "rhat")

# ------------------------------------------------------------------ types

# typedef void (*rmc_log_fn)(rmc_log_level level, const char *message, void *user);
LOG_FN = CFUNCTYPE(None, c_int, c_char_p, c_void_p)
# typedef int (*rmc_logp_fn)(int64_t batch, int64_t dim, const double *x, double *lp,
#                            double *grad, void *user);
LOGP_FN = CFUNCTYPE(c_int, c_int64, c_int64, POINTER(c_double), POINTER(c_double),
                    POINTER(c_double), c_void_p)
# typedef int (*rmc_progress_fn)(int64_t done, int64_t total, void *user);
PROGRESS_FN = CFUNCTYPE(c_int, c_int64, c_int64, c_void_p)


class ProgressInfo(Structure):
    """``struct rmc_progress_info``, field for field."""

    _fields_ = [
        ("done", c_int64),
        ("total", c_int64),
        ("warmup_done", c_int64),
        ("warmup_total", c_int64),
        ("divergent", c_int64),
        ("seconds", c_double),
    ]


# typedef int (*rmc_progress_info_fn)(const rmc_progress_info *info, void *user);
PROGRESS_INFO_FN = CFUNCTYPE(c_int, POINTER(ProgressInfo), c_void_p)
# typedef int (*rmc_draws_fn)(int64_t first, int64_t count, int64_t chains,
#                             int64_t columns, const double *values, const double *stats,
#                             void *user);
DRAWS_FN = CFUNCTYPE(c_int, c_int64, c_int64, c_int64, c_int64, POINTER(c_double),
                     POINTER(c_double), c_void_p)


class Config(Structure):
    """``struct rmc_config``, field for field."""

    _fields_ = [
        ("sampler", c_int32),
        ("backend", c_int32),
        ("chains", c_int64),
        ("draws", c_int64),
        ("warmup", c_int64),
        ("thin", c_int64),
        ("seed", c_uint64),
        ("threads", c_int32),
        ("max_depth", c_int32),
        ("target_accept", c_double),
        ("step_size", c_double),
        ("adapt_metric", c_int32),
        ("hmc_steps", c_int32),
        ("init_radius", c_double),
        ("init", POINTER(c_double)),
        ("init_tries", c_int32),
        ("device", c_int32),                 # 0: choose, k: device k - 1 of rmc_devices
        ("progress", PROGRESS_FN),
        ("progress_user", c_void_p),
        ("cancel", POINTER(c_int32)),        # const volatile int32_t *
        ("progress_info", PROGRESS_INFO_FN),
        ("draws_fn", DRAWS_FN),
        ("draws_user", c_void_p),
        ("chunk_draws", c_int64),
        ("keep_draws", c_int32),
    ]


class DeviceInfo(Structure):
    """``struct rmc_device_info``, field for field."""

    _fields_ = [
        ("index", c_int32),
        ("type", c_int32),
        ("name", ctypes.c_char * 256),
        ("driver", ctypes.c_char * 256),
        ("vendor_id", ctypes.c_uint32),
        ("device_id", ctypes.c_uint32),
        ("api_version", ctypes.c_uint32),
        ("float64", c_int32),
        ("automatic", c_int32),
        ("memory", c_int64),
    ]


# Opaque handles are plain void pointers.
_model_p = c_void_p
_data_p = c_void_p
_program_p = c_void_p
_fit_p = c_void_p
_node = c_int32
_status = c_int
_dbl_p = POINTER(c_double)
_i64_p = POINTER(c_int64)
_str_array = POINTER(c_char_p)


def _bind(name, restype, *argtypes):
    """Declare one symbol's result and argument types. A symbol the loaded library lacks
    (a librmc older than this package) becomes a stub that fails when called, saying so,
    so that the rest of the package still imports and works."""
    try:
        fn = getattr(lib, name)
    except AttributeError:
        def missing(*args, _name=name):
            raise RuntimeError("%s is not in %s: that librmc is older than this Python "
                               "package; rebuild it (cmake --build build)"
                               % (_name, library_path))
        setattr(lib, name, missing)
        return
    fn.restype = restype
    fn.argtypes = list(argtypes)


# const char *rmc_version(void);
_bind("rmc_version", c_char_p)
# const char *rmc_status_string(rmc_status status);
_bind("rmc_status_string", c_char_p, _status)
# const char *rmc_last_error(void);
_bind("rmc_last_error", c_char_p)
# void rmc_set_log_callback(rmc_log_fn fn, void *user);
_bind("rmc_set_log_callback", None, LOG_FN, c_void_p)

# rmc_status rmc_model_create(rmc_model **out);
_bind("rmc_model_create", _status, POINTER(_model_p))
# void rmc_model_free(rmc_model *model);
_bind("rmc_model_free", None, _model_p)
# rmc_status rmc_model_status(const rmc_model *model);
_bind("rmc_model_status", _status, _model_p)
# const char *rmc_model_error(const rmc_model *model);
_bind("rmc_model_error", c_char_p, _model_p)
# rmc_status rmc_param(rmc_model *model, const char *name, int32_t ndim,
#                      const int64_t *dims, const char *const *dim_names,
#                      rmc_node lower, rmc_node upper, rmc_node *out);
_bind("rmc_param", _status, _model_p, c_char_p, c_int32, _i64_p, _str_array, _node, _node,
      POINTER(_node))
# rmc_status rmc_data_field(rmc_model *model, const char *name, rmc_dtype dtype,
#                           int32_t ndim, const int64_t *dims,
#                           const char *const *dim_names, rmc_node *out);
_bind("rmc_data_field", _status, _model_p, c_char_p, c_int, c_int32, _i64_p, _str_array,
      POINTER(_node))
# rmc_status rmc_const(rmc_model *model, double value, rmc_node *out);
_bind("rmc_const", _status, _model_p, c_double, POINTER(_node))
# rmc_status rmc_const_vector(rmc_model *model, const double *values, int64_t n,
#                             rmc_node *out);
_bind("rmc_const_vector", _status, _model_p, _dbl_p, c_int64, POINTER(_node))
# rmc_status rmc_op2(rmc_model *model, rmc_op op, rmc_node a, rmc_node b, rmc_node *out);
_bind("rmc_op2", _status, _model_p, c_int, _node, _node, POINTER(_node))
# rmc_status rmc_op1(rmc_model *model, rmc_op op, rmc_node a, rmc_node *out);
_bind("rmc_op1", _status, _model_p, c_int, _node, POINTER(_node))
# rmc_status rmc_gather(rmc_model *model, rmc_node vec, rmc_node index, int32_t base,
#                       rmc_node *out);
_bind("rmc_gather", _status, _model_p, _node, _node, c_int32, POINTER(_node))
# rmc_status rmc_slice(rmc_model *model, rmc_node vec, int64_t begin, int64_t end,
#                      rmc_node *out);
_bind("rmc_slice", _status, _model_p, _node, c_int64, c_int64, POINTER(_node))
# rmc_status rmc_index(rmc_model *model, rmc_node vec, int64_t i, rmc_node *out);
_bind("rmc_index", _status, _model_p, _node, c_int64, POINTER(_node))
# rmc_status rmc_matvec(rmc_model *model, rmc_node matrix, rmc_node vec, rmc_node *out);
_bind("rmc_matvec", _status, _model_p, _node, _node, POINTER(_node))
# rmc_status rmc_param_transform(rmc_model *model, const char *name, int32_t ndim,
#                                const int64_t *dims, const char *const *dim_names,
#                                rmc_transform transform, rmc_node *out);
_bind("rmc_param_transform", _status, _model_p, c_char_p, c_int32, _i64_p, _str_array, c_int,
      POINTER(_node))
# rmc_status rmc_vecmat(rmc_model *model, rmc_node vec, rmc_node matrix, rmc_node *out);
_bind("rmc_vecmat", _status, _model_p, _node, _node, POINTER(_node))
# rmc_status rmc_matmul(rmc_model *model, rmc_node a, rmc_node b, rmc_node *out);
_bind("rmc_matmul", _status, _model_p, _node, _node, POINTER(_node))
# rmc_status rmc_transpose(rmc_model *model, rmc_node matrix, rmc_node *out);
_bind("rmc_transpose", _status, _model_p, _node, POINTER(_node))
# rmc_status rmc_row(rmc_model *model, rmc_node matrix, int64_t i, rmc_node *out);
_bind("rmc_row", _status, _model_p, _node, c_int64, POINTER(_node))
# rmc_status rmc_col(rmc_model *model, rmc_node matrix, int64_t j, rmc_node *out);
_bind("rmc_col", _status, _model_p, _node, c_int64, POINTER(_node))
# rmc_status rmc_drop(rmc_model *model, rmc_node vec, int64_t first, int64_t last,
#                     rmc_node *out);
_bind("rmc_drop", _status, _model_p, _node, c_int64, c_int64, POINTER(_node))
# rmc_status rmc_concat(rmc_model *model, rmc_node a, rmc_node b, rmc_node *out);
_bind("rmc_concat", _status, _model_p, _node, _node, POINTER(_node))
# rmc_status rmc_diag_pre_multiply(rmc_model *model, rmc_node vec, rmc_node matrix,
#                                  rmc_node *out);
_bind("rmc_diag_pre_multiply", _status, _model_p, _node, _node, POINTER(_node))
# rmc_status rmc_cholesky(rmc_model *model, rmc_node matrix, rmc_node *out);
_bind("rmc_cholesky", _status, _model_p, _node, POINTER(_node))
# rmc_status rmc_tri_solve(rmc_model *model, rmc_node lower, rmc_node b, rmc_node *out);
_bind("rmc_tri_solve", _status, _model_p, _node, _node, POINTER(_node))
# rmc_status rmc_cov_exp_quad(rmc_model *model, rmc_node x, rmc_node alpha, rmc_node rho,
#                             double delta, rmc_node *out);
_bind("rmc_cov_exp_quad", _status, _model_p, _node, _node, _node, c_double, POINTER(_node))
# rmc_status rmc_tilde(rmc_model *model, rmc_dist dist, rmc_node value, int32_t nargs,
#                      const rmc_node *args);
_bind("rmc_tilde", _status, _model_p, c_int, _node, c_int32, POINTER(_node))
# rmc_status rmc_op3(rmc_model *model, rmc_op op, rmc_node a, rmc_node b, rmc_node c,
#                    rmc_node *out);
_bind("rmc_op3", _status, _model_p, c_int, _node, _node, _node, POINTER(_node))
# rmc_status rmc_lpdf(rmc_model *model, rmc_dist dist, rmc_node value, int32_t nargs,
#                     const rmc_node *args, rmc_node *out);
_bind("rmc_lpdf", _status, _model_p, c_int, _node, c_int32, POINTER(_node), POINTER(_node))
# rmc_status rmc_target(rmc_model *model, rmc_node node);
_bind("rmc_target", _status, _model_p, _node)
# rmc_status rmc_scan_begin(rmc_model *model, rmc_node init, int32_t n_seq,
#                           const rmc_node *seqs, rmc_node *state, rmc_node *inputs);
_bind("rmc_scan_begin", _status, _model_p, _node, c_int32, POINTER(_node), POINTER(_node),
      POINTER(_node))
# rmc_status rmc_scan_end(rmc_model *model, rmc_node next, int64_t steps,
#                         const char *steps_name, rmc_node *out);
_bind("rmc_scan_end", _status, _model_p, _node, c_int64, c_char_p, POINTER(_node))
# rmc_status rmc_deterministic(rmc_model *model, const char *name, rmc_node node);
_bind("rmc_deterministic", _status, _model_p, c_char_p, _node)
# rmc_status rmc_model_load_json(const char *text, size_t len, rmc_model **out);
_bind("rmc_model_load_json", _status, c_char_p, ctypes.c_size_t, POINTER(_model_p))
# rmc_status rmc_model_load_file(const char *path, rmc_model **out);
_bind("rmc_model_load_file", _status, c_char_p, POINTER(_model_p))
# rmc_status rmc_model_save_json(const rmc_model *model, char **out);
# (the text comes back as a void pointer: it must reach rmc_model_json_free unchanged)
_bind("rmc_model_save_json", _status, _model_p, POINTER(c_void_p))
# void rmc_model_json_free(char *text);
_bind("rmc_model_json_free", None, c_void_p)

# rmc_status rmc_data_create(rmc_data **out);
_bind("rmc_data_create", _status, POINTER(_data_p))
# void rmc_data_free(rmc_data *data);
_bind("rmc_data_free", None, _data_p)
# rmc_status rmc_data_set(rmc_data *data, const char *name, rmc_dtype dtype,
#                         const void *ptr, int32_t ndim, const int64_t *shape);
_bind("rmc_data_set", _status, _data_p, c_char_p, c_int, c_void_p, c_int32, _i64_p)

# rmc_status rmc_program_create(const rmc_model *model, const rmc_data *data,
#                               rmc_program **out);
_bind("rmc_program_create", _status, _model_p, _data_p, POINTER(_program_p))
# rmc_status rmc_program_from_callback(int64_t dim, rmc_logp_fn fn, void *user,
#                                      rmc_program **out);
_bind("rmc_program_from_callback", _status, c_int64, LOGP_FN, c_void_p, POINTER(_program_p))
# void rmc_program_free(rmc_program *program);
_bind("rmc_program_free", None, _program_p)
# int64_t rmc_program_dim(const rmc_program *program);
_bind("rmc_program_dim", c_int64, _program_p)
# rmc_status rmc_program_logp_grad(const rmc_program *program, int64_t batch,
#                                  const double *x, double *lp, double *grad);
_bind("rmc_program_logp_grad", _status, _program_p, c_int64, _dbl_p, _dbl_p, _dbl_p)
# int64_t rmc_program_num_columns(const rmc_program *program);
_bind("rmc_program_num_columns", c_int64, _program_p)
# const char *rmc_program_column_name(const rmc_program *program, int64_t column);
_bind("rmc_program_column_name", c_char_p, _program_p, c_int64)
# int64_t rmc_program_num_vars(const rmc_program *program);
_bind("rmc_program_num_vars", c_int64, _program_p)
# rmc_status rmc_program_var(const rmc_program *program, int64_t var, const char **name,
#                            int32_t *ndim, int64_t dims[RMC_MAX_DIMS],
#                            int64_t *first_column);
_bind("rmc_program_var", _status, _program_p, c_int64, POINTER(c_char_p), POINTER(c_int32),
      _i64_p, _i64_p)
# rmc_status rmc_program_constrain(const rmc_program *program, const double *x,
#                                  double *columns);
_bind("rmc_program_constrain", _status, _program_p, _dbl_p, _dbl_p)
# rmc_status rmc_program_unconstrain(const rmc_program *program, const double *params,
#                                    double *x);
_bind("rmc_program_unconstrain", _status, _program_p, _dbl_p, _dbl_p)

# void rmc_config_default(rmc_config *config);
_bind("rmc_config_default", None, POINTER(Config))
# rmc_status rmc_sample(const rmc_program *program, const rmc_config *config,
#                       rmc_fit **out);
_bind("rmc_sample", _status, _program_p, POINTER(Config), POINTER(_fit_p))
# void rmc_fit_free(rmc_fit *fit);
_bind("rmc_fit_free", None, _fit_p)
# int64_t rmc_fit_chains(const rmc_fit *fit);
_bind("rmc_fit_chains", c_int64, _fit_p)
# int64_t rmc_fit_draws(const rmc_fit *fit);
_bind("rmc_fit_draws", c_int64, _fit_p)
# int64_t rmc_fit_completed(const rmc_fit *fit, int64_t chain);
_bind("rmc_fit_completed", c_int64, _fit_p, c_int64)
# int64_t rmc_fit_num_columns(const rmc_fit *fit);
_bind("rmc_fit_num_columns", c_int64, _fit_p)
# const char *rmc_fit_column_name(const rmc_fit *fit, int64_t column);
_bind("rmc_fit_column_name", c_char_p, _fit_p, c_int64)
# int32_t rmc_fit_cancelled(const rmc_fit *fit);
_bind("rmc_fit_cancelled", c_int32, _fit_p)
# const double *rmc_fit_values(const rmc_fit *fit);
_bind("rmc_fit_values", _dbl_p, _fit_p)
# const double *rmc_fit_stats(const rmc_fit *fit);
_bind("rmc_fit_stats", _dbl_p, _fit_p)
# rmc_status rmc_fit_adaptation(const rmc_fit *fit, int64_t chain, double *step_size,
#                               double *inv_metric);
_bind("rmc_fit_adaptation", _status, _fit_p, c_int64, _dbl_p, _dbl_p)
# int64_t rmc_fit_num_gradients(const rmc_fit *fit);
_bind("rmc_fit_num_gradients", c_int64, _fit_p)
# double rmc_fit_seconds(const rmc_fit *fit);
_bind("rmc_fit_seconds", c_double, _fit_p)
# double rmc_fit_idle_fraction(const rmc_fit *fit);
_bind("rmc_fit_idle_fraction", c_double, _fit_p)
# rmc_status rmc_fit_summary(const rmc_fit *fit, double *out);
_bind("rmc_fit_summary", _status, _fit_p, _dbl_p)
# const char *rmc_fit_summary_text(rmc_fit *fit);
_bind("rmc_fit_summary_text", c_char_p, _fit_p)

# int32_t rmc_fit_backend(const rmc_fit *fit);
_bind("rmc_fit_backend", c_int32, _fit_p)
# const char *rmc_fit_device(const rmc_fit *fit);
_bind("rmc_fit_device", c_char_p, _fit_p)
# const char *rmc_fit_backend_reason(const rmc_fit *fit);
_bind("rmc_fit_backend_reason", c_char_p, _fit_p)

# rmc_status rmc_devices(rmc_device_info *out, int32_t capacity, int32_t *count);
_bind("rmc_devices", _status, POINTER(DeviceInfo), c_int32, POINTER(c_int32))
# rmc_status rmc_device_find(const char *filter, int32_t *index);
_bind("rmc_device_find", _status, c_char_p, POINTER(c_int32))
# rmc_status rmc_evaluator_create(const rmc_program *program, int32_t backend,
#                                 const char *device, int32_t threads, rmc_evaluator **out);
_bind("rmc_evaluator_create", _status, _program_p, c_int32, c_char_p, c_int32,
      POINTER(c_void_p))
# rmc_status rmc_evaluator_logp_grad(rmc_evaluator *ev, int64_t batch, const double *x,
#                                    double *lp, double *grad);
_bind("rmc_evaluator_logp_grad", _status, c_void_p, c_int64, _dbl_p, _dbl_p, _dbl_p)
# int32_t rmc_evaluator_backend(const rmc_evaluator *ev);
_bind("rmc_evaluator_backend", c_int32, c_void_p)
# const char *rmc_evaluator_device(const rmc_evaluator *ev);
_bind("rmc_evaluator_device", c_char_p, c_void_p)
# void rmc_evaluator_free(rmc_evaluator *ev);
_bind("rmc_evaluator_free", None, c_void_p)

# double rmc_rhat(const double *draws, int64_t chains, int64_t draws_per_chain);
_bind("rmc_rhat", c_double, _dbl_p, c_int64, c_int64)
# double rmc_nested_rhat(const double *draws, int64_t chains, int64_t draws_per_chain,
#                        int64_t superchains);
_bind("rmc_nested_rhat", c_double, _dbl_p, c_int64, c_int64, c_int64)
# double rmc_ess_bulk(const double *draws, int64_t chains, int64_t draws_per_chain);
_bind("rmc_ess_bulk", c_double, _dbl_p, c_int64, c_int64)
# double rmc_ess_tail(const double *draws, int64_t chains, int64_t draws_per_chain);
_bind("rmc_ess_tail", c_double, _dbl_p, c_int64, c_int64)
# rmc_status rmc_summary(const double *draws, int64_t chains, int64_t draws_per_chain,
#                        double *out);
_bind("rmc_summary", _status, _dbl_p, c_int64, c_int64, _dbl_p)

# ------------------------------------------------------------------ errors


class RmcError(RuntimeError):
    """A failure reported by librmc.

    ``status`` is the C status name (``"RMC_ERR_DATA"``...), and the message is the
    library's text, which names the culprit (parameter, data field, index).
    """

    def __init__(self, status, message):
        self.status = status
        self.message = message
        super().__init__("%s: %s" % (status, message))


def status_name(status):
    """The constant name of a status code, as the C library spells it."""
    return lib.rmc_status_string(status).decode()


def last_error():
    """This thread's last librmc error message."""
    return (lib.rmc_last_error() or b"").decode(errors="replace")


def _check(status):
    """Raise :class:`RmcError` with the library's message unless ``status`` is RMC_OK."""
    if status != RMC_OK:
        raise RmcError(status_name(status), last_error())


def as_dbl_p(array):
    """A ``double *`` to a C-contiguous float64 numpy array (None for None)."""
    if array is None:
        return None
    return array.ctypes.data_as(_dbl_p)


def as_i64_p(array):
    """An ``int64_t *`` to a C-contiguous int64 numpy array (None for None)."""
    if array is None:
        return None
    return array.ctypes.data_as(_i64_p)
