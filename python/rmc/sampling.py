"""rmc.sample: run the C sampler on a model and data, return a FitResult."""

import ctypes
import numbers
import os
import threading
import warnings

import numpy as np

from . import _lib
from ._lib import RmcError, lib
from .fit import FitResult, _CFit
from .program import Program

__all__ = ["sample", "devices", "Evaluator"]


_INT32_MAX = 2 ** 31 - 1
# NUTS depth limit, as src/sample.c checks it; checked here too so that the message names
# the Python argument (the C one says max_depth).
_MAX_TREEDEPTH = 30


def _count(value, name, minimum, maximum=None):
    """Check an integer setting (a Python or numpy int) against its bounds. ``maximum``
    keeps a value meant for an int32 field from wrapping around in ctypes."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("%s must be an integer, got %r" % (name, value))
    if value < minimum:
        raise ValueError("%s must be >= %d, got %d" % (name, minimum, value))
    if maximum is not None and value > maximum:
        raise ValueError("%s must be <= %d, got %d" % (name, maximum, value))
    return int(value)


def _choice(value, name, options):
    if value not in options:
        raise ValueError("%s must be one of %s, got %r" % (name, ", ".join(map(repr, options)),
                                                           value))
    return options[value]


def _init_points(program, init, chains, seed, radius):
    """The rmc_config.init array [chains][dim], or None for random inits in C."""
    if init is None:
        return None
    if isinstance(init, dict):
        init = [init] * chains
    init = list(init)
    if len(init) != chains:
        raise ValueError("init: expected one dict per chain (%d), got %d" % (chains, len(init)))
    points = np.empty((chains, program.dim))
    for c, values in enumerate(init):
        if not isinstance(values, dict):
            raise TypeError("init: chain %d: expected a dict of parameter values, got %r"
                            % (c, values))
        # Missing parameters start where the sampler's own draw would put them.
        rng = np.random.default_rng([seed, c])
        points[c] = program.init_point(values, rng, radius)
    return points


def _draws_callback(keep, program, errors):
    """A C rmc_draws_fn calling ``keep(first, draws, stats)`` with numpy copies; an
    exception is kept in ``errors`` and stops the run."""
    variables = [(name, tuple(shape), int(first)) for name, shape, first in program.variables]

    def on_draws(first, count, chains, columns, values, stats, user):
        try:
            v = np.ctypeslib.as_array(values, shape=(chains, count, columns)).copy()
            s = np.ctypeslib.as_array(stats, shape=(chains, count, len(_lib.STAT_NAMES)))
            draws = {name: v[:, :, f:f + int(np.prod(shape))].reshape((chains, count) + shape)
                     for name, shape, f in variables}
            keep(int(first), draws, {n: s[:, :, k].copy()
                                     for k, n in enumerate(_lib.STAT_NAMES)})
            return 0
        except BaseException as exc:   # KeyboardInterrupt included: stop, raise later
            errors.append(exc)
            return 1

    return _lib.DRAWS_FN(on_draws)


def _run(program, config):
    """Call rmc_sample on a worker thread, so that Ctrl-C can cancel the run.

    The foreign call releases the GIL and runs no Python. rmc_last_error() is per thread,
    so the message is read on the worker. Returns (status, fit handle, message,
    interrupted).
    """
    fit = ctypes.c_void_p()
    result = {}
    done = threading.Event()

    def work():
        try:
            status = lib.rmc_sample(program._handle, ctypes.byref(config), ctypes.byref(fit))
            result["status"] = status
            result["message"] = _lib.last_error() if status != _lib.RMC_OK else ""
        finally:
            done.set()

    worker = threading.Thread(target=work, name="rmc_sample", daemon=True)
    worker.start()
    interrupted = False
    # Wait on an Event rather than Thread.join: an interrupted join can report the thread
    # finished before it is.
    while not done.is_set():
        try:
            done.wait(0.25)
        except KeyboardInterrupt:
            config.cancel[0] = 1   # the C run stops soon and keeps what it has drawn
            interrupted = True
    worker.join()
    return result["status"], fit, result["message"], interrupted


def devices():
    """The Vulkan devices this machine offers, as a list of dicts (index, name, type,
    driver, float64, automatic, memory, vendor_id, device_id, api_version).

    ``type`` is "discrete_gpu", "integrated_gpu", "virtual_gpu", "cpu" or "other";
    ``automatic`` tells whether ``backend="auto"`` may pick the device without being told
    (GPUs; a CPU-type device such as lavapipe is used only when named). The list is empty
    when Vulkan cannot be used here (no loader, no driver, or a librmc built without the
    backend); :func:`vulkan_status` says why.
    """
    count = ctypes.c_int32(0)
    status = lib.rmc_devices(None, 0, ctypes.byref(count))
    if status != _lib.RMC_OK or count.value == 0:
        return []
    infos = (_lib.DeviceInfo * count.value)()
    _lib._check(lib.rmc_devices(infos, count.value, ctypes.byref(count)))
    out = []
    for d in infos[:count.value]:
        out.append({
            "index": d.index, "name": d.name.decode(errors="replace"),
            "type": _lib.DEVICE_TYPES.get(d.type, "other"),
            "driver": d.driver.decode(errors="replace"), "float64": bool(d.float64),
            "automatic": bool(d.automatic), "memory": int(d.memory),
            "vendor_id": d.vendor_id, "device_id": d.device_id,
            "api_version": "%d.%d.%d" % ((d.api_version >> 22) & 0x7F,
                                         (d.api_version >> 12) & 0x3FF,
                                         d.api_version & 0xFFF),
        })
    return out


def vulkan_status():
    """(True, "") when Vulkan devices can be listed, else (False, the reason)."""
    count = ctypes.c_int32(0)
    status = lib.rmc_devices(None, 0, ctypes.byref(count))
    if status != _lib.RMC_OK:
        return False, _lib.last_error()
    return True, ""


def _device_arg(device):
    if device is None:
        return None
    if isinstance(device, bool) or not isinstance(device, (str, numbers.Integral)):
        raise TypeError("device must be a name filter (str) or an index (int), got %r"
                        % (device,))
    return str(device).encode()


class Evaluator:
    """Log density and gradient of a :class:`rmc.Program` for a batch of positions, on a
    chosen backend: ``Evaluator(program, backend="vulkan", device="llvmpipe")``.

    ``backend`` is "auto", "cpu" or "vulkan"; ``device`` a Vulkan device filter (index or
    part of the name); ``threads`` the CPU backend's threads (0: one per core). The
    attributes ``backend`` and ``device`` say what was chosen. The program must stay alive
    as long as the evaluator; one evaluation at a time.
    """

    def __init__(self, program, backend="auto", device=None, threads=0):
        self._handle = None
        if not isinstance(program, Program):
            raise TypeError("Evaluator needs an rmc.Program, got %r" % (program,))
        threads = _count(threads, "threads", 0, _INT32_MAX)
        handle = ctypes.c_void_p()
        _lib._check(lib.rmc_evaluator_create(program._handle,
                                             _choice(backend, "backend", _lib.BACKENDS),
                                             _device_arg(device), threads,
                                             ctypes.byref(handle)))
        self._handle = handle
        self._program = program
        self.dim = program.dim
        self.backend = _lib.BACKEND_NAMES[lib.rmc_evaluator_backend(handle)]
        self.device = lib.rmc_evaluator_device(handle).decode(errors="replace")

    def logp_grad(self, x):
        """lp (batch,) and gradient (batch, dim) at x (batch, dim); a 1-d x gives a scalar
        lp and a (dim,) gradient."""
        xb = np.ascontiguousarray(x, dtype=np.float64)
        single = xb.ndim == 1
        xb = xb.reshape(1, -1) if single else xb
        if xb.ndim != 2 or xb.shape[1] != self.dim:
            raise ValueError("x must have shape (batch, %d), got %s"
                             % (self.dim, np.shape(x)))
        lp = np.empty(xb.shape[0])
        grad = np.empty_like(xb)
        _lib._check(lib.rmc_evaluator_logp_grad(self._handle, xb.shape[0], _lib.as_dbl_p(xb),
                                                _lib.as_dbl_p(lp), _lib.as_dbl_p(grad)))
        return (lp[0], grad[0]) if single else (lp, grad)

    def close(self):
        if getattr(self, "_handle", None):
            lib.rmc_evaluator_free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()


def sample(model_spec, data, chains=4, draws=1000, warmup=1000, seed=None, thin=1,
           sampler=None, target_accept=None, max_treedepth=10, step_size=1.0,
           hmc_steps=16, init=None, init_radius=2.0, threads=0, backend="auto",
           adapt_metric=True, device=None, progress=True, keep="all", chunk_draws=0):
    """Draw from the posterior of ``model_spec`` given ``data``.

    Args:
        model_spec: an :class:`rmc.Model` (or a ModelBuilder, which is built, or an
            :class:`rmc.Program` already bound to data, in which case ``data`` is unused).
        data: dict name -> numpy array, list or number.
        chains, draws, warmup, thin: chains, kept draws per chain, warmup iterations per
            chain, keep every thin-th draw.
        seed: fixes every draw whatever the thread count; None draws one from os.urandom
            (recorded as ``fit.seed``).
        sampler: "nuts", "hmc" (static HMC with ``hmc_steps`` leapfrog steps), "chees"
            (ChEES-HMC: every chain in lockstep with one jittered trajectory length,
            adapted across chains; at least 2) or "meads" (generalized HMC tuned across
            4 folds of chains; at least 8). None or "auto": "chees" for 64 chains or
            more, else "nuts".
        target_accept, max_treedepth, step_size: dual-averaging target (None: 0.8, or for
            "chees" 0.651, which applies to the harmonic mean of the chains' acceptance
            probabilities), NUTS depth limit, initial step size.
        init: None (uniform in (-init_radius, init_radius) on the unconstrained scale), a
            dict of constrained parameter values for every chain, or a list of such
            dicts, one per chain. Parameters left out start at random.
        threads: CPU threads, 0 for one per core.
        backend: "auto" (a GPU through Vulkan when one is usable, else the CPU), "cpu" or
            "vulkan" (fails with RmcError when no device can be used). The fit's
            ``backend``, ``device`` and ``backend_reason`` say what ran and why.
        adapt_metric: estimate a diagonal mass matrix during warmup.
        device: which Vulkan device: an index into :func:`rmc.devices` or part of its
            name. CPU-type devices (lavapipe) are used only when named here or in the
            RMC_VULKAN_DEVICE environment variable.
        keep: the memory plan. "all" keeps every kept draw in the fit; "thin:K" keeps every
            K-th (the same as ``thin=K``); a callable ``keep(first, draws, stats)`` receives
            the draws chunk by chunk instead (draws ``first`` to ``first + count - 1`` of
            every chain: ``draws`` maps each variable to an array (chains, count, *shape),
            ``stats`` each statistic to (chains, count)), and the fit keeps none, so memory
            stays bounded whatever chains x draws (sampler "chees" only, for now). An
            exception in the callable stops the run and is raised after it.
        chunk_draws: draws per chunk for a callable ``keep``; 0 sizes chunks to 64 MiB.
        progress: show a progress bar on stderr (phase, draws, draws per second,
            divergences so far): True uses tqdm when it is installed and a small built-in
            bar otherwise; "text" or "tqdm" pick one; False shows none.

    Returns a :class:`rmc.FitResult`. Raises :class:`rmc.RmcError` (naming the culprit)
    when the data do not fit the model or no finite initial point is found, and
    ValueError/TypeError for bad settings. Ctrl-C cancels the run and returns the draws
    made so far, with a warning.
    """
    chains = _count(chains, "chains", 1)
    draws = _count(draws, "draws", 1)
    warmup = _count(warmup, "warmup", 0)
    thin = _count(thin, "thin", 1)
    max_treedepth = _count(max_treedepth, "max_treedepth", 1, _MAX_TREEDEPTH)
    hmc_steps = _count(hmc_steps, "hmc_steps", 1, _INT32_MAX)
    threads = _count(threads, "threads", 0, _INT32_MAX)
    if seed is None:
        seed = int.from_bytes(os.urandom(8), "little") >> 1
    seed = _count(seed, "seed", 0)
    if seed >= 2 ** 64:
        raise ValueError("seed must fit in 64 bits, got %d" % seed)

    program = model_spec if isinstance(model_spec, Program) else Program(model_spec, data)
    if sampler is None or sampler == "auto":   # many chains: NUTS would keep each batch waiting for its longest
        sampler = "chees" if chains >= 64 else "nuts"

    config = _lib.Config()
    lib.rmc_config_default(ctypes.byref(config))
    config.sampler = _choice(sampler, "sampler", _lib.SAMPLERS)
    config.backend = _choice(backend, "backend", _lib.BACKENDS)
    config.chains, config.draws, config.warmup, config.thin = chains, draws, warmup, thin
    config.seed = seed
    config.threads = threads
    config.max_depth = max_treedepth
    if target_accept is None:
        target_accept = 0.651 if sampler == "chees" else 0.8
    config.target_accept = float(target_accept)
    config.step_size = float(step_size)
    config.adapt_metric = 1 if adapt_metric else 0
    config.hmc_steps = hmc_steps
    config.init_radius = float(init_radius)
    streamed = []
    if callable(keep):
        config.draws_fn = streamed_draws = _draws_callback(keep, program, streamed)
        config.keep_draws = 0
        config.chunk_draws = _count(chunk_draws, "chunk_draws", 0)
    elif isinstance(keep, str) and keep.startswith("thin:"):
        try:
            k = int(keep[5:])
        except ValueError:
            k = 0
        if k < 1 or (thin != 1 and thin != k):
            raise ValueError("keep=%r: expected \"thin:K\" with K a positive integer "
                             "(and thin left at 1 or equal to K)" % keep)
        config.thin = thin = k
    elif keep != "all":
        raise ValueError("keep must be \"all\", \"thin:K\" or a callable, got %r" % (keep,))
    points = _init_points(program, init, chains, seed, float(init_radius))
    config.init = _lib.as_dbl_p(points)
    cancel = (ctypes.c_int32 * 1)(0)
    config.cancel = ctypes.cast(cancel, ctypes.POINTER(ctypes.c_int32))
    if device is not None and _lib.BACKENDS.get(backend) != _lib.BACKENDS["cpu"]:
        found = ctypes.c_int32(-1)
        status = lib.rmc_device_find(_device_arg(device), ctypes.byref(found))
        if status != _lib.RMC_OK and backend == "vulkan":
            raise RmcError(_lib.status_name(status), _lib.last_error())
        # Under auto, a device that is not there means the CPU, as with no GPU at all.
        config.device = found.value + 1 if status == _lib.RMC_OK else -1

    bar = None
    if progress:
        from .progress import ProgressBar
        bar = ProgressBar(chains, kind=progress if isinstance(progress, str) else "auto")
        report = bar.callback()     # referenced here until the run is over
        config.progress_info = report
    try:
        status, fit, message, interrupted = _run(program, config)
    finally:
        if bar is not None:
            bar.close(interrupted=bool(cancel[0]))
    if streamed:     # the callable raised: the run stopped there
        raise streamed[0]
    # A device lost under backend="vulkan" still returns the draws made so far.
    partial = status == _lib.RMC_ERR_BACKEND and fit.value
    if status not in (_lib.RMC_OK, _lib.RMC_ERR_CANCELLED) and not partial:
        raise RmcError(_lib.status_name(status), message)
    settings = {"num_warmup": warmup, "thin": thin, "sampler": sampler,
                "max_treedepth": max_treedepth, "target_accept": float(target_accept),
                "seed": seed,
                "backend": _lib.BACKEND_NAMES.get(lib.rmc_fit_backend(fit), "cpu"),
                "device": lib.rmc_fit_device(fit).decode(errors="replace"),
                "backend_reason": lib.rmc_fit_backend_reason(fit).decode(errors="replace")}
    # The result's arrays view the C fit's memory; _CFit frees it after the last of them.
    result = FitResult(_CFit(fit), program, settings)
    if partial:
        error = RmcError(_lib.status_name(status), message)
        error.fit = result
        raise error
    if interrupted or result.cancelled:
        warnings.warn("sampling was interrupted: the fit holds %d draws per chain"
                      % result.num_draws, RuntimeWarning, stacklevel=2)
    return result
