"""Trace and posterior plots of a FitResult with matplotlib (optional dependency).

One row or panel per scalar column (``theta[3]``), so that vectors show element by
element; ``var_names`` picks variables and ``max_panels`` caps how many columns are
drawn, the first ones of each chosen variable in order.
"""

import warnings

import numpy as np

__all__ = ["plot_trace", "plot_posterior"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plots need matplotlib (python3 -m pip install matplotlib)") \
            from exc
    return plt


def _columns(fit, var_names, max_panels):
    """[(label, draws (chains, draws), column index)] for the chosen variables."""
    if var_names is None:
        names = [n for n, _, _ in fit.variables]
    else:
        names = [var_names] if isinstance(var_names, str) else list(var_names)
        unknown = [n for n in names if n not in fit.draws]
        if unknown:
            raise KeyError("no variable named %s in the fit (it has %s)"
                           % (", ".join(map(repr, unknown)), ", ".join(fit.draws)))
    layout = {n: (s, f) for n, s, f in fit.variables}
    out = []
    for name in names:
        shape, first = layout[name]
        for k in range(int(np.prod(shape))):
            j = first + k
            out.append((fit.column_names[j], fit.values[:, :, j], j))
    if len(out) > max_panels:
        warnings.warn("plotting the first %d of %d columns; pass var_names or max_panels "
                      "to choose" % (max_panels, len(out)), UserWarning, stacklevel=3)
        out = out[:max_panels]
    if not out:
        raise ValueError("nothing to plot: the chosen variables have no columns")
    return out


def _bins(x):
    finite = x[np.isfinite(x)]
    if finite.size == 0 or finite.min() == finite.max():
        return 10
    return min(60, max(10, int(np.sqrt(finite.size))))


def plot_trace(fit, var_names=None, max_panels=20, figsize=None):
    """Per column: each chain's density (left) and its draws in order (right), with
    divergent transitions marked below the trace. Returns the matplotlib Figure."""
    plt = _pyplot()
    cols = _columns(fit, var_names, max_panels)
    n = len(cols)
    fig, axes = plt.subplots(n, 2, figsize=figsize or (10, 1.8 * n + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 2]})
    divergent = fit.stats["divergent"]
    steps = np.arange(fit.num_draws)
    for row, (label, draws, _) in enumerate(cols):
        dens, trace = axes[row]
        bins = np.histogram_bin_edges(draws[np.isfinite(draws)], bins=_bins(draws)) \
            if np.isfinite(draws).any() else 10
        for c in range(fit.chains):
            color = "C%d" % (c % 10)
            dens.hist(draws[c], bins=bins, density=True, histtype="step", color=color)
            trace.plot(steps, draws[c], color=color, lw=0.6, alpha=0.8)
            hits = np.flatnonzero(divergent[c])
            if hits.size:
                low = np.nanmin(draws) if np.isfinite(draws).any() else 0.0
                trace.plot(hits, np.full(hits.size, low), "|", color="k", ms=8)
        dens.set_ylabel(label)
        dens.set_yticks([])
        trace.set_xlim(0, max(1, fit.num_draws - 1))
    axes[0][0].set_title("density by chain")
    axes[0][1].set_title("trace (| marks divergent draws)")
    axes[-1][1].set_xlabel("draw")
    fig.tight_layout()
    return fig


def plot_posterior(fit, var_names=None, max_panels=20, ncols=4, figsize=None):
    """Per column: a histogram of all chains' draws with the mean and the 5-95% interval
    (the summary's figures) marked. Returns the matplotlib Figure."""
    plt = _pyplot()
    cols = _columns(fit, var_names, max_panels)
    summary = fit.summary()
    n = len(cols)
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (3.2 * ncols, 2.6 * nrows),
                             squeeze=False)
    for k, (label, draws, j) in enumerate(cols):
        ax = axes[k // ncols][k % ncols]
        flat = draws.ravel()
        ax.hist(flat[np.isfinite(flat)], bins=_bins(flat), color="C0", alpha=0.6)
        mean, lo, hi = summary["mean"][j], summary["q5"][j], summary["q95"][j]
        ax.axvline(mean, color="k", lw=1)
        ax.plot([lo, hi], [0, 0], color="k", lw=4, solid_capstyle="butt")
        ax.set_title("%s\nmean %.3g, 90%% [%.3g, %.3g]" % (label, mean, lo, hi), fontsize=9)
        ax.set_yticks([])
    for k in range(n, nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    fig.tight_layout()
    return fig
