/* diag.c - convergence diagnostics (Vehtari, Gelman, Simpson, Carpenter, Buerkner 2021,
 * "Rank-normalization, folding, and localization"), with the conventions of ArviZ where the
 * paper leaves a choice open, so that results agree with it to rounding. */
#include "diag.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Which diagnostics diagnose() computes, and where it puts them. */
enum {
    WANT_RHAT = 1u << 0,
    WANT_ESS_BULK = 1u << 1,
    WANT_ESS_TAIL = 1u << 2,
    WANT_ESS_MEAN = 1u << 3,
    WANT_ESS_ANY = WANT_ESS_BULK | WANT_ESS_TAIL | WANT_ESS_MEAN,
};

enum { RES_RHAT, RES_ESS_BULK, RES_ESS_TAIL, RES_ESS_MEAN, RES_COUNT };

/* What a scan of the draws found. */
enum {
    SCAN_NAN = 1u << 0,
    SCAN_NONFINITE = 1u << 1,
    SCAN_CONSTANT = 1u << 2,
};

/* A draw and where it came from, so that ranks can be written back after sorting. */
typedef struct rank_item {
    double value;
    int64_t index;
} rank_item;

/* Buffers for a complex radix-2 FFT of len points, values interleaved (re, im). */
typedef struct fft_state {
    int64_t len;
    double *z;       /* [2 * len] data, transformed in place */
    double *twiddle; /* [len] = len / 2 values exp(-2 pi i k / len), interleaved */
} fft_state;

/* Everything diagnose() needs, allocated up front so that the computation cannot fail. */
typedef struct diag_work {
    int64_t chains, n;
    int64_t m;         /* split sequences: 2 * chains */
    int64_t h;         /* draws per sequence: n / 2 */
    int64_t total;     /* m * h */
    double *seq;       /* [m][h] split draws */
    double *buf;       /* [m][h] transformed draws: z-scores, folds, indicators */
    double *seq_mean;  /* [m] */
    rank_item *items;  /* [total] sort scratch for ranking; NULL if unneeded */
    double *acov;      /* [h] autocovariance averaged over sequences; NULL if unneeded */
    double *rho;       /* [h] autocorrelation estimates; NULL if unneeded */
    fft_state fft;
} diag_work;

static const double two_pi = 6.28318530717958647692528676655900577;

/* calloc that refuses counts whose byte size overflows; count 0 still allocates. */
static void *alloc_array(int64_t count, size_t size)
{
    if (count < 0 || (uint64_t)count > SIZE_MAX / size)
        return NULL;
    return calloc(count > 0 ? (size_t)count : 1, size);
}

/* ---------------------------------------------------------------- small statistics */

static double mean_of(const double *x, int64_t n)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    return sum / (double)n;
}

/* Sample variance (n - 1 denominator) by two passes, which keeps precision when the mean
 * is large against the spread. */
static double variance_of(const double *x, int64_t n, double mean)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = x[i] - mean;
        sum += d * d;
    }
    return sum / (double)(n - 1);
}

static uint32_t scan_draws(const double *x, int64_t n)
{
    uint32_t found = SCAN_CONSTANT;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            found |= SCAN_NAN;
        if (!isfinite(x[i]))
            found |= SCAN_NONFINITE;
        if (x[i] != x[0])
            found &= ~(uint32_t)SCAN_CONSTANT;
    }
    return found;
}

static int compare_doubles(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static int compare_items(const void *pa, const void *pb)
{
    double a = ((const rank_item *)pa)->value, b = ((const rank_item *)pb)->value;
    return (a > b) - (a < b);
}

double diag_quantile(const double *sorted, int64_t n, double p)
{
    if (sorted == NULL || n < 1 || !(p >= 0.0 && p <= 1.0))
        return NAN;

    double pos = (double)(n - 1) * p;
    int64_t lo = (int64_t)floor(pos);
    if (lo >= n - 1)
        return sorted[n - 1];
    double a = sorted[lo], b = sorted[lo + 1], g = pos - (double)lo;

    /* Ties must give their value exactly: the tail ESS compares draws against quantiles
     * with <=, and an interpolation one ulp below a tied value would flip the indicator
     * of every draw in the tie. Interpolating from the nearer end also returns each end
     * exactly and avoids inf - inf. */
    if (a == b)
        return a;
    return g < 0.5 ? a + (b - a) * g : b - (b - a) * (1.0 - g);
}

/* ---------------------------------------------------------------- inverse normal CDF */

/* Wichura (1988), algorithm AS241 (PPND16): rational approximations in three regions of
 * p, relative accuracy about 1e-16. */
double diag_normal_quantile(double p)
{
    if (!(p >= 0.0 && p <= 1.0))
        return NAN;
    if (p == 0.0)
        return -INFINITY;
    if (p == 1.0)
        return INFINITY;

    double q = p - 0.5;
    if (fabs(q) <= 0.425) {
        double r = 0.180625 - q * q;
        double num = ((((((2.5090809287301226727e+3 * r + 3.3430575583588128105e+4) * r
                          + 6.7265770927008700853e+4) * r + 4.5921953931549871457e+4) * r
                        + 1.3731693765509461125e+4) * r + 1.9715909503065514427e+3) * r
                      + 1.3314166789178437745e+2) * r + 3.3871328727963666080e+0;
        double den = ((((((5.2264952788528545610e+3 * r + 2.8729085735721942674e+4) * r
                          + 3.9307895800092710610e+4) * r + 2.1213794301586595867e+4) * r
                        + 5.3941960214247511077e+3) * r + 6.8718700749205790830e+2) * r
                      + 4.2313330701600911252e+1) * r + 1.0;
        return q * num / den;
    }

    /* The tails work on r = sqrt(-log(tail probability)). */
    double r = sqrt(-log(q < 0.0 ? p : 1.0 - p));
    double x;
    if (r <= 5.0) {
        r -= 1.6;
        double num = ((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
                          + 2.41780725177450611770e-1) * r + 1.27045825245236838258e+0) * r
                        + 3.64784832476320460504e+0) * r + 5.76949722146069140550e+0) * r
                      + 4.63033784615654529590e+0) * r + 1.42343711074968357734e+0;
        double den = ((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
                          + 1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r
                        + 6.89767334985100004550e-1) * r + 1.67638483018380384940e+0) * r
                      + 2.05319162663775882187e+0) * r + 1.0;
        x = num / den;
    } else {
        r -= 5.0;
        double num = ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                          + 1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r
                        + 2.96560571828504891230e-1) * r + 1.78482653991729133580e+0) * r
                      + 5.46378491116411436990e+0) * r + 6.65790464350110377720e+0;
        double den = ((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
                          + 1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r
                        + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
                      + 5.99832206555887937690e-1) * r + 1.0;
        x = num / den;
    }
    return q < 0.0 ? -x : x;
}

/* ---------------------------------------------------------------- FFT autocovariance */

/* Room for the autocovariance of sequences of h draws: zero padding to at least 2h points
 * makes the FFT's circular correlation equal the linear one at lags 0..h-1. */
static int fft_init(fft_state *f, int64_t h)
{
    int64_t len = 2;
    while (len < 2 * h)
        len *= 2;
    f->len = len;
    f->z = alloc_array(len, 2 * sizeof(double));
    f->twiddle = alloc_array(len / 2, 2 * sizeof(double));
    if (f->z == NULL || f->twiddle == NULL)
        return -1;

    /* Each factor from its own cos and sin, rather than by repeated rotation, so that
     * rounding does not accumulate along the table. */
    for (int64_t k = 0; k < len / 2; k++) {
        double angle = two_pi * (double)k / (double)len;
        f->twiddle[2 * k] = cos(angle);
        f->twiddle[2 * k + 1] = -sin(angle);
    }
    return 0;
}

static void fft_free(fft_state *f)
{
    free(f->z);
    free(f->twiddle);
    f->z = NULL;
    f->twiddle = NULL;
}

/* In-place forward transform Z[k] = sum_j z[j] exp(-2 pi i j k / len), iterative
 * decimation in time: bit-reversal permutation, then butterflies of doubling size. */
static void fft_forward(fft_state *f)
{
    int64_t len = f->len;
    double *z = f->z;

    for (int64_t i = 1, j = 0; i < len; i++) {
        int64_t bit = len >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double re = z[2 * i], im = z[2 * i + 1];
            z[2 * i] = z[2 * j];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j] = re;
            z[2 * j + 1] = im;
        }
    }

    for (int64_t size = 2; size <= len; size *= 2) {
        int64_t half = size / 2, stride = len / size;
        for (int64_t start = 0; start < len; start += size) {
            for (int64_t k = 0; k < half; k++) {
                double wr = f->twiddle[2 * k * stride], wi = f->twiddle[2 * k * stride + 1];
                double *a = z + 2 * (start + k), *b = z + 2 * (start + k + half);
                double tr = b[0] * wr - b[1] * wi, ti = b[0] * wi + b[1] * wr;
                b[0] = a[0] - tr;
                b[1] = a[1] - ti;
                a[0] += tr;
                a[1] += ti;
            }
        }
    }
}

/* Autocovariances of two real sequences of h draws at once (b may be NULL): a in the real
 * part, b in the imaginary part. Afterwards f->z[2 t] * scale is the lag-t autocovariance
 * of a and f->z[2 t + 1] * scale that of b, with the returned scale. */
static double autocov_pair(fft_state *f, const double *a, double mean_a, const double *b,
                           double mean_b, int64_t h)
{
    int64_t len = f->len;
    double *z = f->z;

    memset(z, 0, (size_t)len * 2 * sizeof(double));
    for (int64_t j = 0; j < h; j++) {
        z[2 * j] = a[j] - mean_a;
        z[2 * j + 1] = b != NULL ? b[j] - mean_b : 0.0;
    }
    fft_forward(f);

    /* Untangle the two spectra, A[k] = (Z[k] + conj Z[-k]) / 2 and
     * B[k] = (Z[k] - conj Z[-k]) / 2i, and store |A|^2 + i |B|^2. Both power spectra are
     * real and even, so one more forward transform of that, divided by len, is the
     * inverse transform and yields the two autocorrelation sums as its real and imaginary
     * parts. Pairs k and len - k share one value. */
    for (int64_t k = 0; k <= len / 2; k++) {
        int64_t c = (len - k) % len;
        double zr = z[2 * k], zi = z[2 * k + 1], cr = z[2 * c], ci = z[2 * c + 1];
        double ar = zr + cr, ai = zi - ci, br = zr - cr, bi = zi + ci;
        double power_a = 0.25 * (ar * ar + ai * ai), power_b = 0.25 * (br * br + bi * bi);
        z[2 * k] = z[2 * c] = power_a;
        z[2 * k + 1] = z[2 * c + 1] = power_b;
    }
    fft_forward(f);

    return 1.0 / ((double)len * (double)h);
}

int diag_autocov(const double *x, int64_t n, double *acov)
{
    if (x == NULL || acov == NULL || n < 1)
        return 0;

    fft_state f = {0};
    if (fft_init(&f, n) != 0) {
        fft_free(&f);
        for (int64_t t = 0; t < n; t++)
            acov[t] = NAN;
        return -1;
    }

    double scale = autocov_pair(&f, x, mean_of(x, n), NULL, 0.0, n);
    for (int64_t t = 0; t < n; t++)
        acov[t] = f.z[2 * t] * scale;

    fft_free(&f);
    return 0;
}

/* ---------------------------------------------------------------- work buffers */

static void work_free(diag_work *w)
{
    free(w->seq);
    free(w->buf);
    free(w->seq_mean);
    free(w->items);
    free(w->acov);
    free(w->rho);
    fft_free(&w->fft);
}

/* Allocate for draws[chains][n], n >= DIAG_MIN_DRAWS, only what `what` needs. */
static int work_init(diag_work *w, int64_t chains, int64_t n, uint32_t what)
{
    memset(w, 0, sizeof *w);
    w->chains = chains;
    w->n = n;
    w->m = 2 * chains;
    w->h = n / 2;
    w->total = w->m * w->h;

    w->seq = alloc_array(w->total, sizeof(double));
    w->buf = alloc_array(w->total, sizeof(double));
    w->seq_mean = alloc_array(w->m, sizeof(double));
    if (w->seq == NULL || w->buf == NULL || w->seq_mean == NULL)
        return -1;

    if (what & (WANT_RHAT | WANT_ESS_BULK)) {
        w->items = alloc_array(w->total, sizeof(rank_item));
        if (w->items == NULL)
            return -1;
    }

    if (what & WANT_ESS_ANY) {
        w->acov = alloc_array(w->h, sizeof(double));
        w->rho = alloc_array(w->h, sizeof(double));
        if (w->acov == NULL || w->rho == NULL || fft_init(&w->fft, w->h) != 0)
            return -1;
    }
    return 0;
}

/* Split every chain into its first and last h draws (the middle draw of an odd chain is
 * dropped): sequences 0..chains-1 are the first halves, chains..2 chains-1 the second. */
static void split_chains(diag_work *w, const double *draws)
{
    for (int64_t c = 0; c < w->chains; c++) {
        const double *chain = draws + c * w->n;
        memcpy(w->seq + c * w->h, chain, (size_t)w->h * sizeof(double));
        memcpy(w->seq + (w->chains + c) * w->h, chain + (w->n - w->h),
               (size_t)w->h * sizeof(double));
    }
}

/* ---------------------------------------------------------------- the diagnostics */

/* Rank-normalise x[total] into z[total] (may be x): pooled ranks, ties sharing their
 * average rank, mapped through Phi^{-1}((r - 3/8) / (S + 1/4)). Returns the median of x,
 * which the sort gives for free. */
static double rank_normalise(diag_work *w, const double *x, double *z)
{
    int64_t total = w->total;
    rank_item *items = w->items;

    for (int64_t i = 0; i < total; i++) {
        items[i].value = x[i];
        items[i].index = i;
    }
    qsort(items, (size_t)total, sizeof *items, compare_items);

    double median = total % 2 != 0 ? items[total / 2].value
                                   : (items[total / 2 - 1].value + items[total / 2].value) / 2.0;

    double denom = (double)total + 0.25;
    for (int64_t i = 0; i < total;) {
        int64_t j = i + 1;
        while (j < total && items[j].value == items[i].value)
            j++;

        /* Sorted positions i..j-1 hold ranks i+1..j. */
        double rank = 0.5 * (double)(i + 1 + j);
        double value = diag_normal_quantile((rank - 0.375) / denom);
        for (int64_t k = i; k < j; k++)
            z[items[k].index] = value;
        i = j;
    }
    return median;
}

/* Split R-hat of sequences x[m][h]: sqrt(((h - 1) / h W + B / h) / W). Infinite when
 * every sequence is constant but they differ, NaN when all are equal. */
static double split_rhat(diag_work *w, const double *x)
{
    int64_t m = w->m, h = w->h;

    double within = 0.0;
    for (int64_t s = 0; s < m; s++) {
        w->seq_mean[s] = mean_of(x + s * h, h);
        within += variance_of(x + s * h, h, w->seq_mean[s]);
    }
    within /= (double)m;
    double between = (double)h * variance_of(w->seq_mean, m, mean_of(w->seq_mean, m));

    if (!(within > 0.0))
        return between > 0.0 ? INFINITY : NAN;
    return sqrt((between / within + (double)h - 1.0) / (double)h);
}

/* ESS of sequences x[m][h] from their autocorrelations, combined over sequences as in
 * Stan, truncated by Geyer's initial positive sequence and made monotone by his initial
 * monotone sequence; tau is floored at 1 / log10(S) as in the paper. Constant x counts as
 * S independent draws (ArviZ's convention; only indicators reach this). */
static double ess_of(diag_work *w, const double *x)
{
    int64_t m = w->m, h = w->h, total = w->total;

    int constant = 1;
    for (int64_t i = 1; i < total && constant; i++)
        constant = x[i] == x[0];
    if (constant)
        return (double)total;

    for (int64_t s = 0; s < m; s++)
        w->seq_mean[s] = mean_of(x + s * h, h);

    /* m = 2 * chains is even, so the sequences go through the FFT in pairs. */
    memset(w->acov, 0, (size_t)h * sizeof(double));
    for (int64_t s = 0; s < m; s += 2) {
        double scale = autocov_pair(&w->fft, x + s * h, w->seq_mean[s], x + (s + 1) * h,
                                    w->seq_mean[s + 1], h);
        for (int64_t t = 0; t < h; t++)
            w->acov[t] += (w->fft.z[2 * t] + w->fft.z[2 * t + 1]) * scale;
    }
    for (int64_t t = 0; t < h; t++)
        w->acov[t] /= (double)m;

    /* W (mean within-sequence variance) and var+ = (h - 1) / h W + B / h. */
    double mean_var = w->acov[0] * (double)h / ((double)h - 1.0);
    double var_plus = mean_var * ((double)h - 1.0) / (double)h
                      + variance_of(w->seq_mean, m, mean_of(w->seq_mean, m));

    double *rho = w->rho;
    memset(rho, 0, (size_t)h * sizeof(double));
    double even = 1.0, odd = 1.0 - (mean_var - w->acov[1]) / var_plus;
    rho[0] = even;
    rho[1] = odd;

    /* Initial positive sequence: add lag pairs while their sum stays positive; the pair
     * that first fails is not kept. */
    int64_t t = 1;
    while (t < h - 3 && even + odd > 0.0) {
        even = 1.0 - (mean_var - w->acov[t + 1]) / var_plus;
        odd = 1.0 - (mean_var - w->acov[t + 2]) / var_plus;
        if (even + odd >= 0.0) {
            rho[t + 1] = even;
            rho[t + 2] = odd;
        }
        t += 2;
    }
    int64_t max_t = t - 2;

    /* Stan's refinement: a positive even lag just past the cut still counts, once. */
    if (even > 0.0)
        rho[max_t + 1] = even;

    /* Initial monotone sequence: pair sums may not increase with the lag. */
    for (t = 1; t <= max_t - 2; t += 2) {
        if (rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]) {
            rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0;
            rho[t + 2] = rho[t + 1];
        }
    }

    double sum = 0.0;
    for (t = 0; t <= max_t; t++)
        sum += rho[t];
    double tau = -1.0 + 2.0 * sum + rho[max_t + 1];

    /* The floor caps ESS at S log10(S) for strongly antithetic chains. */
    double floor_tau = 1.0 / log10((double)total);
    if (isnan(tau))
        return NAN;
    if (tau < floor_tau)
        tau = floor_tau;
    return (double)total / tau;
}

/* Tail ESS: the two indicators, split like the draws. */
static double tail_ess(diag_work *w, double q_lo, double q_hi)
{
    for (int64_t i = 0; i < w->total; i++)
        w->buf[i] = w->seq[i] <= q_lo ? 1.0 : 0.0;
    double ess_lo = ess_of(w, w->buf);

    for (int64_t i = 0; i < w->total; i++)
        w->buf[i] = w->seq[i] <= q_hi ? 1.0 : 0.0;
    double ess_hi = ess_of(w, w->buf);

    return ess_lo < ess_hi ? ess_lo : ess_hi;
}

/* Compute the diagnostics named in `what` for valid draws (n >= DIAG_MIN_DRAWS, finite,
 * not all equal) into res[RES_COUNT]; q_lo and q_hi are the pooled 5% and 95% quantiles,
 * used for the tail ESS only. Cannot fail: work_init allocated everything. */
static void diagnose(diag_work *w, const double *draws, uint32_t what, double q_lo, double q_hi,
                     double *res)
{
    split_chains(w, draws);

    if (what & (WANT_RHAT | WANT_ESS_BULK)) {
        double median = rank_normalise(w, w->seq, w->buf);
        double rhat_bulk = (what & WANT_RHAT) ? split_rhat(w, w->buf) : NAN;
        if (what & WANT_ESS_BULK)
            res[RES_ESS_BULK] = ess_of(w, w->buf);

        if (what & WANT_RHAT) {
            for (int64_t i = 0; i < w->total; i++)
                w->buf[i] = fabs(w->seq[i] - median);
            rank_normalise(w, w->buf, w->buf);
            double rhat_tail = split_rhat(w, w->buf);

            /* Folded draws can be constant while the draws are not (two values symmetric
             * about the median); they then say nothing, and the bulk R-hat stands. */
            res[RES_RHAT] = fmax(rhat_bulk, rhat_tail);
        }
    }

    if (what & WANT_ESS_TAIL)
        res[RES_ESS_TAIL] = tail_ess(w, q_lo, q_hi);

    if (what & WANT_ESS_MEAN)
        res[RES_ESS_MEAN] = ess_of(w, w->seq);
}

/* Pooled quantiles at probs[count] of draws[total] (no NaN) from a sorted copy. */
static int pooled_quantiles(const double *draws, int64_t total, const double *probs,
                            int count, double *out)
{
    double *sorted = alloc_array(total, sizeof(double));
    if (sorted == NULL)
        return -1;

    memcpy(sorted, draws, (size_t)total * sizeof(double));
    qsort(sorted, (size_t)total, sizeof *sorted, compare_doubles);
    for (int i = 0; i < count; i++)
        out[i] = diag_quantile(sorted, total, probs[i]);

    free(sorted);
    return 0;
}

/* Check the shape of draws[chains][n]: 0 and *total = chains * n when it describes some
 * draws, 1 when it describes none (the results are NaN), -1 when chains * n overflows,
 * which is a request for more memory than exists. */
static int check_shape(const double *draws, int64_t chains, int64_t n, int64_t *total)
{
    *total = 0;
    if (draws == NULL || chains < 1 || n < 1)
        return 1;
    if (chains > INT64_MAX / n)
        return -1;
    *total = chains * n;
    return 0;
}

/* The entry behind diag_rhat and the ESS functions: validate, then diagnose. */
static int compute_one(const double *draws, int64_t chains, int64_t n, uint32_t what,
                       int slot, double *result)
{
    double res[RES_COUNT] = {NAN, NAN, NAN, NAN};
    if (result == NULL)
        return -1;
    *result = NAN;

    int64_t total;
    int shape = check_shape(draws, chains, n, &total);
    if (shape != 0)
        return shape < 0 ? -1 : 0;
    if (n < DIAG_MIN_DRAWS || scan_draws(draws, total) & (SCAN_NONFINITE | SCAN_CONSTANT))
        return 0;

    double q[2] = {NAN, NAN};
    if (what & WANT_ESS_TAIL) {
        static const double probs[2] = {0.05, 0.95};
        if (pooled_quantiles(draws, total, probs, 2, q) != 0)
            return -1;
    }

    diag_work w;
    if (work_init(&w, chains, n, what) != 0) {
        work_free(&w);
        return -1;
    }
    diagnose(&w, draws, what, q[0], q[1], res);
    work_free(&w);

    *result = res[slot];
    return 0;
}

int diag_rhat(const double *draws, int64_t chains, int64_t n, double *rhat)
{
    return compute_one(draws, chains, n, WANT_RHAT, RES_RHAT, rhat);
}

int diag_ess_bulk(const double *draws, int64_t chains, int64_t n, double *ess)
{
    return compute_one(draws, chains, n, WANT_ESS_BULK, RES_ESS_BULK, ess);
}

int diag_ess_tail(const double *draws, int64_t chains, int64_t n, double *ess)
{
    return compute_one(draws, chains, n, WANT_ESS_TAIL, RES_ESS_TAIL, ess);
}

int diag_ess_mean(const double *draws, int64_t chains, int64_t n, double *ess)
{
    return compute_one(draws, chains, n, WANT_ESS_MEAN, RES_ESS_MEAN, ess);
}

/* Out of memory part way: no half-filled summary. */
static int summary_fail(double *out)
{
    for (int i = 0; i < RMC_SUM_COUNT; i++)
        out[i] = NAN;
    return -1;
}

int diag_summary(const double *draws, int64_t chains, int64_t n, double *out)
{
    if (out == NULL)
        return -1;
    for (int i = 0; i < RMC_SUM_COUNT; i++)
        out[i] = NAN;

    int64_t total;
    int shape = check_shape(draws, chains, n, &total);
    if (shape != 0)
        return shape < 0 ? summary_fail(out) : 0;
    uint32_t found = scan_draws(draws, total);

    out[RMC_SUM_MEAN] = mean_of(draws, total);
    if (total > 1)
        out[RMC_SUM_SD] = sqrt(variance_of(draws, total, out[RMC_SUM_MEAN]));

    /* NaN has no place in an order, so with one the quantiles stay NaN. */
    if (!(found & SCAN_NAN)) {
        static const double probs[3] = {0.05, 0.5, 0.95};
        double q[3];
        if (pooled_quantiles(draws, total, probs, 3, q) != 0)
            return summary_fail(out);
        out[RMC_SUM_Q5] = q[0];
        out[RMC_SUM_Q50] = q[1];
        out[RMC_SUM_Q95] = q[2];
    }

    if (n < DIAG_MIN_DRAWS || found & (SCAN_NONFINITE | SCAN_CONSTANT))
        return 0;

    uint32_t what = WANT_RHAT | WANT_ESS_BULK | WANT_ESS_TAIL | WANT_ESS_MEAN;
    double res[RES_COUNT] = {NAN, NAN, NAN, NAN};
    diag_work w;
    if (work_init(&w, chains, n, what) != 0) {
        work_free(&w);
        return summary_fail(out);
    }
    diagnose(&w, draws, what, out[RMC_SUM_Q5], out[RMC_SUM_Q95], res);
    work_free(&w);

    out[RMC_SUM_MCSE_MEAN] = out[RMC_SUM_SD] / sqrt(res[RES_ESS_MEAN]);
    out[RMC_SUM_ESS_BULK] = res[RES_ESS_BULK];
    out[RMC_SUM_ESS_TAIL] = res[RES_ESS_TAIL];
    out[RMC_SUM_RHAT] = res[RES_RHAT];
    return 0;
}

/* ---------------------------------------------------------------- public entry points */

/* Out of memory reads as "no value": the public functions have no other channel. */

RMC_API double rmc_rhat(const double *draws, int64_t chains, int64_t draws_per_chain)
{
    double value = NAN;
    if (diag_rhat(draws, chains, draws_per_chain, &value) != 0)
        return NAN;
    return value;
}

RMC_API double rmc_ess_bulk(const double *draws, int64_t chains, int64_t draws_per_chain)
{
    double value = NAN;
    if (diag_ess_bulk(draws, chains, draws_per_chain, &value) != 0)
        return NAN;
    return value;
}

RMC_API double rmc_ess_tail(const double *draws, int64_t chains, int64_t draws_per_chain)
{
    double value = NAN;
    if (diag_ess_tail(draws, chains, draws_per_chain, &value) != 0)
        return NAN;
    return value;
}
