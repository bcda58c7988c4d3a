"""FitResult: draws, sampler statistics and diagnostics of a C fit (the draws are numpy views
into the fit's own memory, which lives as long as they do)."""

import ctypes

import numpy as np

from . import _lib
from ._lib import _check, lib

__all__ = ["FitResult"]

_INT_STATS = ("tree_depth", "n_leapfrog")


class _CFit:
    """Owns a C fit (``rmc_fit *``) and frees it when the last numpy view into its draws is
    gone: a fit of 100,000 chains then occupies its memory once, not twice."""

    def __init__(self, handle):
        self.handle = handle

    def __del__(self):
        handle, self.handle = self.handle, None
        if handle:
            try:
                lib.rmc_fit_free(handle)
            except Exception:   # interpreter shutdown: the library may be gone already
                pass


class _View:
    """An ``__array_interface__`` over C memory that keeps its owner alive: numpy keeps
    this object as the array's base, and this object keeps the owner."""

    def __init__(self, address, shape, owner):
        self.__array_interface__ = {"data": (address, False), "shape": tuple(shape),
                                    "typestr": "<f8", "version": 3}
        self._owner = owner


def _view_array(ptr, shape, owner):
    """A numpy view of ``prod(shape)`` doubles at a C pointer owned by ``owner``."""
    address = ctypes.cast(ptr, ctypes.c_void_p).value if ptr else None
    if int(np.prod(shape)) == 0 or not address:
        return np.empty(shape)
    return np.asarray(_View(address, shape, owner))


class FitResult:
    """The result of :func:`rmc.sample`.

    Attributes:
        draws: dict name -> array shaped (chains, draws, *shape), for every parameter
            (constrained scale) and deterministic; ``fit["theta"]`` is the same.
        stats: dict with lp, accept_stat, step_size, tree_depth, n_leapfrog, divergent
            and energy, each shaped (chains, draws).
        column_names: the flat output columns, one-based ("theta[1]").
        values: every column's draws, shaped (chains, draws, columns).
        step_size, inv_metric: adapted step size (chains,) and diagonal inverse metric
            (chains, dim) of each chain.
        chains, num_draws, num_warmup, thin, sampler, max_treedepth, seed: the settings.
        gradient_evals: gradient evaluations over all chains, warmup included.
        seconds: sampling wall time.
        cancelled: True if the run was interrupted; the draws are then truncated to the
            draws every chain completed.
    """

    def __init__(self, owner, program, settings):
        """Read the C fit that ``owner`` (a ``_CFit``) holds; the draws stay in its memory
        and the fit is freed when the last array viewing it is."""
        c_fit = owner.handle
        for key, value in settings.items():
            setattr(self, key, value)
        self.chains = int(lib.rmc_fit_chains(c_fit))
        full = int(lib.rmc_fit_draws(c_fit))
        ncol = int(lib.rmc_fit_num_columns(c_fit))
        self.column_names = [lib.rmc_fit_column_name(c_fit, c).decode() for c in range(ncol)]
        self.cancelled = bool(lib.rmc_fit_cancelled(c_fit))
        ndraws = full
        if self.cancelled:   # keep the draws every chain completed
            ndraws = min(int(lib.rmc_fit_completed(c_fit, c)) for c in range(self.chains))

        values = _view_array(lib.rmc_fit_values(c_fit), (self.chains, full, ncol), owner)
        stats = _view_array(lib.rmc_fit_stats(c_fit), (self.chains, full, len(_lib.STAT_NAMES)),
                            owner)
        self.num_draws = ndraws
        self.values = values[:, :ndraws]
        self.stats = {}
        for k, name in enumerate(_lib.STAT_NAMES):
            col = stats[:, :ndraws, k]
            if name in _INT_STATS:
                col = col.astype(np.int64)
            elif name == "divergent":
                col = col != 0
            self.stats[name] = col

        self.variables = [(name, tuple(shape), int(first))
                          for name, shape, first in program.variables]
        self._make_draws()

        summary = np.empty((ncol, len(_lib.SUMMARY_FIELDS)))
        if ncol:
            _check(lib.rmc_fit_summary(c_fit, _lib.as_dbl_p(summary)))
        self._summary = summary

        self.step_size = np.empty(self.chains)
        self.inv_metric = np.empty((self.chains, program.dim))
        step = ctypes.c_double()
        for c in range(self.chains):
            _check(lib.rmc_fit_adaptation(c_fit, c, ctypes.byref(step),
                                          _lib.as_dbl_p(self.inv_metric[c])))
            self.step_size[c] = step.value
        self.gradient_evals = int(lib.rmc_fit_num_gradients(c_fit))
        self.seconds = float(lib.rmc_fit_seconds(c_fit))
        # lockstep batches on a device: share of batch slots idle (NaN on CPU threads)
        self.idle_fraction = float(lib.rmc_fit_idle_fraction(c_fit))

    def _make_draws(self):
        """Views of ``values`` per variable: draws[name] shaped (chains, draws, *shape)."""
        self.draws = {}
        for name, shape, first in self.variables:
            size = int(np.prod(shape))
            block = self.values[:, :, first:first + size]
            self.draws[name] = block.reshape((self.chains, self.num_draws) + shape)

    @classmethod
    def _from_arrays(cls, values, stats, column_names, variables, settings, step_size,
                     inv_metric, gradient_evals, seconds, cancelled):
        """A fit rebuilt from its arrays (files read back); the summary is recomputed in C
        by rmc_summary, which gives what rmc_fit_summary gave for the same draws."""
        self = cls.__new__(cls)
        for key, value in settings.items():
            setattr(self, key, value)
        self.values = np.ascontiguousarray(values, dtype=np.float64)
        self.chains, self.num_draws = self.values.shape[:2]
        self.column_names = list(column_names)
        self.variables = [(n, tuple(int(d) for d in s), int(f)) for n, s, f in variables]
        self.stats = dict(stats)
        self.step_size = np.asarray(step_size, dtype=np.float64)
        self.inv_metric = np.asarray(inv_metric, dtype=np.float64)
        self.gradient_evals = int(gradient_evals)
        self.seconds = float(seconds)
        self.idle_fraction = float("nan")
        self.cancelled = bool(cancelled)
        self._make_draws()
        ncol = self.values.shape[2]
        self._summary = np.full((ncol, len(_lib.SUMMARY_FIELDS)), np.nan)
        if self.num_draws:
            for j in range(ncol):
                col = np.ascontiguousarray(self.values[:, :, j])
                _check(lib.rmc_summary(_lib.as_dbl_p(col), self.chains, self.num_draws,
                                       _lib.as_dbl_p(self._summary[j])))
        return self

    # ---------------------------------------------------------------- files and other tools

    def to_csv(self, directory, basename="output", model_name="rmc_model"):
        """Write one CmdStan-compatible CSV file per chain, ``directory/basename_<k>.csv``
        (k from 1), and return their paths. Values are written in full precision, so
        :func:`rmc.read_csv` gives back identical draws. See docs/outputs.md."""
        from . import outputs
        return outputs.write_csv(self, directory, basename, model_name)

    def to_dict(self):
        """The fit as plain dicts of numpy arrays, in ArviZ's layout: ``{"posterior":
        {name: (chains, draws, *shape)}, "sample_stats": {lp, acceptance_rate, step_size,
        tree_depth, n_steps, diverging, energy}, "attrs": {...}}``;
        ``arviz.from_dict(**fit.to_dict())`` makes an InferenceData of it."""
        from . import outputs
        return outputs.to_dict(self)

    def to_arviz(self):
        """An ``arviz.InferenceData`` with the posterior and the sample statistics under
        ArviZ's standard names. Raises ImportError when arviz is not installed."""
        from . import outputs
        return outputs.to_arviz(self)

    def save(self, path):
        """Save the whole fit losslessly to an ``.npz`` file (no pickling); read it back
        with :func:`rmc.load`."""
        from . import outputs
        return outputs.save(self, path)

    def plot_trace(self, var_names=None, max_panels=20, figsize=None):
        """Each column's per-chain density and trace, divergent draws marked (matplotlib;
        ImportError without it). ``var_names`` picks variables; at most ``max_panels``
        columns are drawn. Returns the Figure: ``fit.plot_trace().savefig("trace.png")``."""
        from . import plots
        return plots.plot_trace(self, var_names, max_panels, figsize)

    def plot_posterior(self, var_names=None, max_panels=20, ncols=4, figsize=None):
        """Each column's posterior histogram with its mean and 5-95% interval (matplotlib;
        ImportError without it). Returns the Figure."""
        from . import plots
        return plots.plot_posterior(self, var_names, max_panels, ncols, figsize)

    # ---------------------------------------------------------------- access

    def __getitem__(self, name):
        """The draws of one variable, shaped (chains, draws, *shape)."""
        return self.draws[name]

    def __contains__(self, name):
        return name in self.draws

    @property
    def interrupted(self):
        """True when the run was stopped early (Ctrl-C, the cancel flag or a progress
        callback): the fit then holds the draws every chain completed."""
        return self.cancelled

    def nested_rhat(self, superchains=None):
        """Nested R-hat (Margossian et al. 2023) of every column, as an array in
        ``column_names`` order: the convergence diagnostic for many short chains.

        Chains are grouped into ``superchains`` consecutive groups of equal size; None takes
        the divisor of ``chains`` nearest its square root (32 groups of 32 for 1,024 chains).
        Below 1.01 the groups agree."""
        if superchains is None:
            divisors = [k for k in range(2, self.chains + 1) if self.chains % k == 0]
            if not divisors:
                raise ValueError("nested R-hat needs at least 2 chains")
            superchains = min(divisors, key=lambda k: abs(k - self.chains ** 0.5))
        superchains = int(superchains)
        if superchains < 2 or self.chains % superchains:
            raise ValueError("superchains must divide chains (%d) and be at least 2, got %d"
                             % (self.chains, superchains))
        out = np.empty(self.values.shape[2])
        for j in range(out.size):
            col = np.ascontiguousarray(self.values[:, :, j])
            out[j] = lib.rmc_nested_rhat(_lib.as_dbl_p(col), self.chains, self.num_draws,
                                         superchains)
        return out

    @property
    def num_divergent(self):
        """Number of divergent transitions after warmup, over all chains."""
        return int(self.stats["divergent"].sum())

    def mean(self):
        """Posterior means: dict name -> float (scalars) or ndarray (vectors, matrices)."""
        out = {}
        for name, d in self.draws.items():
            m = d.mean(axis=(0, 1))
            out[name] = float(m) if m.ndim == 0 else m
        return out

    def summary(self):
        """Per-column summary computed in C, as a dict of columns.

        Keys: name (list of str), mean, sd, q5, q50, q95, mcse_mean, ess_bulk, ess_tail
        and rhat (float arrays, one value per column). ``pandas.DataFrame(fit.summary())``
        makes a table of it.
        """
        out = {"name": list(self.column_names)}
        for k, field in enumerate(_lib.SUMMARY_FIELDS):
            out[field] = self._summary[:, k].copy()
        return out

    def warnings(self):
        """Plain-language warnings about this run (divergences, R-hat, tree depth)."""
        out = []
        total = self.chains * self.num_draws
        if self.cancelled:
            out.append("The run was cancelled after %d draws per chain." % self.num_draws)
        if self.num_divergent:
            out.append("%d of %d draws (%.1f%%) diverged: raise target_accept or "
                       "reparameterise." % (self.num_divergent, total,
                                            100.0 * self.num_divergent / total))
        rhat = self._summary[:, _lib.SUMMARY_FIELDS.index("rhat")]
        high = [n for n, r in zip(self.column_names, rhat) if not r <= 1.01] if total else []
        if high:
            shown = ", ".join(high[:8]) + (", ..." if len(high) > 8 else "")
            out.append("R-hat above 1.01 (or undefined) for %d column(s): %s; the chains "
                       "have not mixed." % (len(high), shown))
        if self.sampler == "nuts" and total:
            hits = int((self.stats["tree_depth"] >= self.max_treedepth).sum())
            if hits:
                share = 100.0 * hits / total
                out.append("%d of %d draws (%.1f%%) hit the maximum tree depth of %d: "
                           "raise max_treedepth." % (hits, total, share, self.max_treedepth))
        return out

    def __str__(self):
        if self.num_draws == 0 and not self.cancelled:
            return ("%d chains (warmup %d, thin %d, %s), %d gradient evaluations, %.2f s, "
                    "seed %d: the draws were streamed to keep(), the fit holds none"
                    % (self.chains, self.num_warmup, self.thin, self.sampler,
                       self.gradient_evals, self.seconds, self.seed))
        s = self.summary()
        width = max([len("name")] + [len(n) for n in s["name"]])
        head = ("%-*s %10s %10s %10s %10s %10s %9s %9s %9s %7s"
                % (width, "name", "mean", "sd", "5%", "50%", "95%", "mcse", "ess_bulk",
                   "ess_tail", "r_hat"))
        lines = [head]
        for i, name in enumerate(s["name"]):
            lines.append("%-*s %10.4g %10.4g %10.4g %10.4g %10.4g %9.3g %9.0f %9.0f %7.3f"
                         % (width, name, s["mean"][i], s["sd"][i], s["q5"][i], s["q50"][i],
                            s["q95"][i], s["mcse_mean"][i], s["ess_bulk"][i],
                            s["ess_tail"][i], s["rhat"][i]))
        lines.append("")
        lines.append("%d chains x %d draws (warmup %d, thin %d, %s), %d divergences, "
                     "%d gradient evaluations, %.2f s, seed %d"
                     % (self.chains, self.num_draws, self.num_warmup, self.thin,
                        self.sampler, self.num_divergent, self.gradient_evals,
                        self.seconds, self.seed))
        lines.extend("Warning: " + w for w in self.warnings())
        return "\n".join(lines)

    def __repr__(self):
        return self.__str__()
