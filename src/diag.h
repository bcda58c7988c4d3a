/* diag.h - convergence diagnostics: rank-normalised split R-hat, bulk, tail and mean ESS,
 * and the per-quantity summary (Vehtari, Gelman, Simpson, Carpenter, Buerkner 2021).
 *
 * Every function takes the draws of one quantity as draws[chains][n], chain-major and
 * contiguous. R-hat and ESS are NaN when they are undefined: fewer than DIAG_MIN_DRAWS
 * draws per chain, any non-finite draw, or all draws equal (all those kept by the split,
 * which drops the middle draw of an odd-length chain). Functions returning int give
 * 0 on success and -1 when memory runs out (their outputs are then NaN).
 */
#ifndef RMC_DIAG_H
#define RMC_DIAG_H

#include <stdint.h>

#include "rmc.h"

/* Fewest draws per chain for which R-hat and ESS are computed: each split half then holds
 * at least two draws, so within-sequence variances exist. */
#define DIAG_MIN_DRAWS 4

/* Summary of one quantity from draws[chains][n] (chain-major, contiguous): writes
 * out[RMC_SUM_COUNT] in rmc_summary_field order. Returns 0, or -1 if out of memory (or
 * out is NULL).
 *
 * mean and sd (n - 1 denominator) and the 5/50/95% quantiles (linear interpolation, R
 * type 7) pool all draws. They follow IEEE arithmetic when draws are infinite; the
 * quantiles are NaN when any draw is NaN. MCSE of the mean is sd / sqrt(ESS of the raw
 * split chains); it is NaN whenever the diagnostics are (constant draws included). */
int diag_summary(const double *draws, int64_t chains, int64_t n, double *out);

/* Fills buf[chains][n] with the draws of column `column`; called from worker threads,
 * each column once, so it must be safe to call concurrently for different columns. */
typedef void (*diag_fill_fn)(void *ctx, int64_t column, double *buf);

/* Most worker threads diag_summary_columns starts. */
#define DIAG_MAX_THREADS 64

/* diag_summary of `columns` quantities into out[columns][RMC_SUM_COUNT], the draws of each
 * obtained from fill, on up to `threads` threads (fewer when their scratch, about 56 bytes
 * per draw each, would pass a quarter of physical memory). The results do not depend on
 * the number of threads. Returns 0, or -1 for bad arguments or when memory runs out (the
 * columns not summarised are then NaN). */
int diag_summary_columns(int64_t chains, int64_t n, int64_t columns, diag_fill_fn fill,
                         void *ctx, int threads, double *out);

/* max(split R-hat of the rank-normalised draws, split R-hat of the rank-normalised folded
 * draws |x - median|). The median is that of the draws kept by the split (the middle draw
 * of an odd-length chain is dropped), as in ArviZ. A single chain is split into two
 * sequences like any other. */
int diag_rhat(const double *draws, int64_t chains, int64_t n, double *rhat);

/* ESS of the rank-normalised split chains. */
int diag_ess_bulk(const double *draws, int64_t chains, int64_t n, double *ess);

/* min(ESS of I(x <= q05), ESS of I(x <= q95)) over split chains, the quantiles taken over
 * all draws. An indicator that is constant (say I(x <= q95) for 0/1 draws) counts as
 * fully efficient (ESS = number of split draws), as in ArviZ, so the other tail decides. */
int diag_ess_tail(const double *draws, int64_t chains, int64_t n, double *ess);

/* ESS of the raw (not rank-normalised) split chains, the one behind the MCSE of the mean. */
int diag_ess_mean(const double *draws, int64_t chains, int64_t n, double *ess);

/* Quantile p in [0, 1] of sorted[0..n-1] (ascending, no NaN) by linear interpolation
 * between order statistics (R type 7, numpy's default). NaN if n < 1 or p is outside
 * [0, 1]. Equal neighbours give their value exactly. */
double diag_quantile(const double *sorted, int64_t n, double p);

/* The standard normal quantile Phi^{-1}(p) (Wichura's AS241, about 1e-16 relative):
 * -inf at 0, +inf at 1, NaN outside [0, 1]. */
double diag_normal_quantile(double p);

/* Biased autocovariance of x[0..n-1] at lags 0..n-1 (divided by n, mean removed), written
 * to acov[n], computed with a zero-padded FFT. */
int diag_autocov(const double *x, int64_t n, double *acov);

#endif
