/* diag.c - convergence diagnostics (Vehtari, Gelman, Simpson, Carpenter, Buerkner 2021,
 * "Rank-normalization, folding, and localization"), with the conventions of ArviZ where the
 * paper leaves a choice open, so that results agree with it to rounding.
 *
 * One pass over a quantity sorts its draws once (a radix sort) and derives from that order
 * the quantiles, the ranks of the split draws and, by a merge, the ranks of the folded
 * draws. Autocovariances come from FFTs, two sequences per transform, with the power
 * spectra summed over sequences before a single inverse transform. */
#include "diag.h"
#include "util.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What work_init() prepares and diagnose() computes. */
enum {
    WANT_SORT = 1u << 0, /* the sorted draws only, for quantiles */
    WANT_RHAT = 1u << 1,
    WANT_ESS_BULK = 1u << 2,
    WANT_ESS_TAIL = 1u << 3,
    WANT_ESS_MEAN = 1u << 4,
    WANT_RANKS = WANT_RHAT | WANT_ESS_BULK,
    WANT_ESS_ANY = WANT_ESS_BULK | WANT_ESS_TAIL | WANT_ESS_MEAN,
    WANT_SORTED = WANT_SORT | WANT_RANKS | WANT_ESS_TAIL,
    WANT_ALL = WANT_RHAT | WANT_ESS_ANY,
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
    double *twiddle; /* [2 * len] factors of each butterfly stage, see fft_init */
} fft_state;

/* Everything diagnose() needs, allocated up front so that the computation cannot fail. */
typedef struct diag_work {
    int64_t chains, n;
    int64_t count;    /* chains * n */
    int64_t m;        /* split sequences: 2 * chains */
    int64_t h;        /* draws per sequence: n / 2 */
    int64_t total;    /* m * h */
    rank_item *items; /* [count] all draws in ascending order, later the folded draws */
    rank_item *spare; /* [count] sort scratch, later the split draws in ascending order */
    double *seq;      /* [m][h] split draws */
    double *buf;      /* [m][h] transformed draws: normal scores, indicators */
    double *seq_mean; /* [m] */
    double *power;    /* [fft.len] power spectrum summed over sequences */
    double *acov;     /* [h] autocovariance averaged over sequences */
    double *rho;      /* [h] autocorrelation estimates */
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

static int all_equal(const double *x, int64_t n)
{
    for (int64_t i = 1; i < n; i++) {
        if (x[i] != x[0])
            return 0;
    }
    return 1;
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

/* ---------------------------------------------------------------- sorting and quantiles */

/* An unsigned key in the order of the doubles (NaN excluded): flip every bit of a negative
 * number, only the sign bit of a positive one. -0.0 comes just before 0.0, which compare
 * equal and so still fall into one tie. */
static uint64_t sort_key(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u >> 63 ? ~u : u | (UINT64_C(1) << 63);
}

/* Radix sort digits: six passes of 11 bits (the last of 9) cover a 64-bit key, two fewer
 * passes over the items than bytes would take, while 2,048 counters per digit still sit
 * in the caches during the scatter. */
#define RADIX_BITS 11
#define RADIX_SIZE (1 << RADIX_BITS)
#define RADIX_PASSES ((64 + RADIX_BITS - 1) / RADIX_BITS)

static unsigned radix_digit(uint64_t key, int pass)
{
    return (unsigned)(key >> (RADIX_BITS * pass)) & (RADIX_SIZE - 1);
}

/* Sort items[n] (n >= 1, no NaN) by value with an LSD radix sort; spare is scratch of n
 * items. Linear time, and no comparison callback as with qsort: this sort is most of the
 * cost of a summary. The counters (96 KiB) live on the stack. */
static void sort_items(rank_item *items, rank_item *spare, int64_t n)
{
    int64_t count[RADIX_PASSES][RADIX_SIZE];
    memset(count, 0, sizeof count);
    for (int64_t i = 0; i < n; i++) {
        uint64_t key = sort_key(items[i].value);
        for (int p = 0; p < RADIX_PASSES; p++)
            count[p][radix_digit(key, p)]++;
    }

    rank_item *src = items, *dst = spare;
    for (int p = 0; p < RADIX_PASSES; p++) {
        /* A digit that every key shares would leave the order as it is. */
        if (count[p][radix_digit(sort_key(src[0].value), p)] == n)
            continue;

        int64_t offset = 0;
        for (int v = 0; v < RADIX_SIZE; v++) {
            int64_t c = count[p][v];
            count[p][v] = offset;
            offset += c;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t slot = count[p][radix_digit(sort_key(src[i].value), p)]++;
            dst[slot] = src[i];
        }

        rank_item *t = src;
        src = dst;
        dst = t;
    }
    if (src != items)
        memcpy(items, src, (size_t)n * sizeof *items);
}

/* Where quantile p in [0, 1] falls among n >= 1 sorted values (R type 7): the lower
 * neighbour, and in *frac the fraction of the way to the next. */
static int64_t quantile_position(int64_t n, double p, double *frac)
{
    double pos = (double)(n - 1) * p;
    int64_t lo = (int64_t)floor(pos);
    if (lo >= n - 1) {
        *frac = 0.0;
        return n - 1;
    }
    *frac = pos - (double)lo;
    return lo;
}

/* Interpolate between sorted neighbours a <= b. Ties must give their value exactly: the
 * tail ESS compares draws against quantiles with <=, and a result one ulp below a tied
 * value would flip the indicator of every draw in the tie. Working from the nearer end
 * also returns each end exactly and avoids inf - inf. */
static double interpolate(double a, double b, double frac)
{
    if (a == b || frac == 0.0)
        return a;
    return frac < 0.5 ? a + (b - a) * frac : b - (b - a) * (1.0 - frac);
}

double diag_quantile(const double *sorted, int64_t n, double p)
{
    if (sorted == NULL || n < 1 || !(p >= 0.0 && p <= 1.0))
        return NAN;

    double frac;
    int64_t lo = quantile_position(n, p, &frac);
    return lo == n - 1 ? sorted[lo] : interpolate(sorted[lo], sorted[lo + 1], frac);
}

static double item_quantile(const rank_item *sorted, int64_t n, double p)
{
    double frac;
    int64_t lo = quantile_position(n, p, &frac);
    return lo == n - 1 ? sorted[lo].value
                       : interpolate(sorted[lo].value, sorted[lo + 1].value, frac);
}

/* The median of n >= 1 sorted values as numpy computes it: the mean of the middle two
 * when n is even. */
static double item_median(const rank_item *sorted, int64_t n)
{
    if (n % 2 != 0)
        return sorted[n / 2].value;
    return (sorted[n / 2 - 1].value + sorted[n / 2].value) / 2.0;
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
 * makes the FFT's circular correlation equal the linear one at lags 0..h-1.
 *
 * The stage whose butterflies span 2 half points uses the factors exp(-pi i k / half),
 * k < half, stored together from complex entry half - 1 on. Contiguous per-stage tables
 * matter: read with a power-of-two stride from one shared table, the factors all fall
 * into the same cache sets, which made large transforms several times slower. */
static int fft_init(fft_state *f, int64_t h)
{
    int64_t len = 2;
    while (len < 2 * h)
        len *= 2;
    f->len = len;
    f->z = alloc_array(len, 2 * sizeof(double));
    f->twiddle = alloc_array(len, 2 * sizeof(double));
    if (f->z == NULL || f->twiddle == NULL)
        return -1;

    /* The last stage's factors each from their own cos and sin, rather than by repeated
     * rotation, so that rounding does not accumulate; every smaller stage takes every
     * other factor of the next. */
    int64_t half = len / 2;
    double *last = f->twiddle + 2 * (half - 1);
    for (int64_t k = 0; k < half; k++) {
        double angle = two_pi * (double)k / (double)len;
        last[2 * k] = cos(angle);
        last[2 * k + 1] = -sin(angle);
    }
    for (half /= 2; half >= 1; half /= 2) {
        double *stage = f->twiddle + 2 * (half - 1), *next = f->twiddle + 2 * (2 * half - 1);
        for (int64_t k = 0; k < half; k++) {
            stage[2 * k] = next[4 * k];
            stage[2 * k + 1] = next[4 * k + 1];
        }
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
 * decimation in time: bit-reversal permutation, then butterflies of doubling span. */
static void fft_forward(fft_state *f)
{
    int64_t len = f->len;
    double *restrict z = f->z;

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

    /* The first stage's factors are all 1. */
    for (int64_t i = 0; i < 2 * len; i += 4) {
        double ar = z[i], ai = z[i + 1], br = z[i + 2], bi = z[i + 3];
        z[i] = ar + br;
        z[i + 1] = ai + bi;
        z[i + 2] = ar - br;
        z[i + 3] = ai - bi;
    }

    for (int64_t half = 2; half < len; half *= 2) {
        const double *restrict w = f->twiddle + 2 * (half - 1);
        for (int64_t start = 0; start < len; start += 2 * half) {
            double *restrict a = z + 2 * start, *restrict b = z + 2 * (start + half);
            for (int64_t k = 0; k < half; k++) {
                double br = b[2 * k], bi = b[2 * k + 1];
                double tr = br * w[2 * k] - bi * w[2 * k + 1];
                double ti = br * w[2 * k + 1] + bi * w[2 * k];
                b[2 * k] = a[2 * k] - tr;
                b[2 * k + 1] = a[2 * k + 1] - ti;
                a[2 * k] += tr;
                a[2 * k + 1] += ti;
            }
        }
    }
}

/* Add to power[len] the power spectra of two real sequences of h draws, less their means
 * (b may be NULL), transformed at once: a as the real part, b as the imaginary part. */
static void add_power_pair(fft_state *f, const double *a, double mean_a, const double *b,
                           double mean_b, int64_t h, double *power)
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
     * B[k] = (Z[k] - conj Z[-k]) / 2i; |A|^2 and |B|^2 are even in k, so bins k and
     * len - k get the same value. */
    for (int64_t k = 0; k <= len / 2; k++) {
        int64_t c = (len - k) % len;
        double zr = z[2 * k], zi = z[2 * k + 1], cr = z[2 * c], ci = z[2 * c + 1];
        double ar = zr + cr, ai = zi - ci, br = zr - cr, bi = zi + ci;
        double p = 0.25 * (ar * ar + ai * ai + br * br + bi * bi);
        power[k] += p;
        if (c != k)
            power[c] += p;
    }
}

/* out[t] = scale * sum_k power[k] exp(2 pi i k t / len) for t < h: the inverse transform
 * of the power spectrum, the sum of the autocorrelation sums behind it. The spectrum is
 * real and even, so a forward transform gives the same result. */
static void power_to_acov(fft_state *f, const double *power, int64_t h, double scale,
                          double *out)
{
    for (int64_t k = 0; k < f->len; k++) {
        f->z[2 * k] = power[k];
        f->z[2 * k + 1] = 0.0;
    }
    fft_forward(f);
    for (int64_t t = 0; t < h; t++)
        out[t] = f->z[2 * t] * scale;
}

int diag_autocov(const double *x, int64_t n, double *acov)
{
    if (x == NULL || acov == NULL || n < 1)
        return 0;

    fft_state f = {0};
    double *power = NULL;
    if (fft_init(&f, n) == 0)
        power = alloc_array(f.len, sizeof(double));
    if (power == NULL) {
        fft_free(&f);
        for (int64_t t = 0; t < n; t++)
            acov[t] = NAN;
        return -1;
    }

    add_power_pair(&f, x, mean_of(x, n), NULL, 0.0, n, power);
    power_to_acov(&f, power, n, 1.0 / ((double)f.len * (double)n), acov);

    free(power);
    fft_free(&f);
    return 0;
}

/* ---------------------------------------------------------------- work buffers */

static void work_free(diag_work *w)
{
    free(w->items);
    free(w->spare);
    free(w->seq);
    free(w->buf);
    free(w->seq_mean);
    free(w->power);
    free(w->acov);
    free(w->rho);
    fft_free(&w->fft);
}

/* Allocate for draws[chains][n] (chains * n not overflowing) only what `what` needs; the
 * diagnostics need n >= DIAG_MIN_DRAWS. On failure the caller still calls work_free. */
static int work_init(diag_work *w, int64_t chains, int64_t n, uint32_t what)
{
    memset(w, 0, sizeof *w);
    w->chains = chains;
    w->n = n;
    w->count = chains * n;
    w->m = 2 * chains;
    w->h = n / 2;
    w->total = w->m * w->h;

    if (what & WANT_SORTED) {
        w->items = alloc_array(w->count, sizeof(rank_item));
        w->spare = alloc_array(w->count, sizeof(rank_item));
        if (w->items == NULL || w->spare == NULL)
            return -1;
    }

    if (what & WANT_ALL) {
        w->seq = alloc_array(w->total, sizeof(double));
        w->buf = alloc_array(w->total, sizeof(double));
        w->seq_mean = alloc_array(w->m, sizeof(double));
        if (w->seq == NULL || w->buf == NULL || w->seq_mean == NULL)
            return -1;
    }

    if (what & WANT_ESS_ANY) {
        w->acov = alloc_array(w->h, sizeof(double));
        w->rho = alloc_array(w->h, sizeof(double));
        if (w->acov == NULL || w->rho == NULL || fft_init(&w->fft, w->h) != 0)
            return -1;
        w->power = alloc_array(w->fft.len, sizeof(double));
        if (w->power == NULL)
            return -1;
    }
    return 0;
}

/* Put all draws, in ascending order, in w->items (the index is draws' own). */
static void sort_draws(diag_work *w, const double *draws)
{
    for (int64_t i = 0; i < w->count; i++) {
        w->items[i].value = draws[i];
        w->items[i].index = i;
    }
    sort_items(w->items, w->spare, w->count);
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

/* The split draws in ascending order, from the sorted draws: keep those the split keeps,
 * renumbered as positions in w->seq, into w->spare. */
static void sort_split(diag_work *w)
{
    int64_t kept = 0, n = w->n, h = w->h;
    for (int64_t i = 0; i < w->count; i++) {
        int64_t chain = w->items[i].index / n, t = w->items[i].index % n;
        if (t < h)
            w->spare[kept].index = chain * h + t;
        else if (t >= n - h)
            w->spare[kept].index = (w->chains + chain) * h + (t - (n - h));
        else
            continue;
        w->spare[kept++].value = w->items[i].value;
    }
}

/* The folded draws |x - median| in ascending order, from sorted[total]: the draws up to the
 * median, walked downwards, and those above it, walked upwards, are each already in order
 * (rounded subtraction is monotone), so a merge sorts them. med - x is exactly the
 * |x - med| that rounding x - med would give. */
static void sort_folded(const rank_item *sorted, int64_t total, double median, rank_item *out)
{
    int64_t right = 0;
    while (right < total && sorted[right].value <= median)
        right++;
    int64_t left = right - 1;

    for (int64_t j = 0; j < total; j++) {
        int take_left = left >= 0 && (right >= total || median - sorted[left].value
                                                            <= sorted[right].value - median);
        if (take_left) {
            out[j].value = median - sorted[left].value;
            out[j].index = sorted[left].index;
            left--;
        } else {
            out[j].value = sorted[right].value - median;
            out[j].index = sorted[right].index;
            right++;
        }
    }
}

/* ---------------------------------------------------------------- the diagnostics */

/* Rank normalisation from draws sorted[total] in ascending order: z[index] =
 * Phi^{-1}((r - 3/8) / (S + 1/4)) with r the pooled rank, ties sharing their average. */
static void normal_scores(const rank_item *sorted, int64_t total, double *z)
{
    double denom = (double)total + 0.25;
    for (int64_t i = 0; i < total;) {
        int64_t j = i + 1;
        while (j < total && sorted[j].value == sorted[i].value)
            j++;

        /* Sorted positions i..j-1 hold ranks i+1..j. */
        double rank = 0.5 * (double)(i + 1 + j);
        double value = diag_normal_quantile((rank - 0.375) / denom);
        for (int64_t k = i; k < j; k++)
            z[sorted[k].index] = value;
        i = j;
    }
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
 * S independent draws (ArviZ's convention; only indicators get here constant). */
static double ess_of(diag_work *w, const double *x)
{
    int64_t m = w->m, h = w->h, total = w->total;

    if (all_equal(x, total))
        return (double)total;

    for (int64_t s = 0; s < m; s++)
        w->seq_mean[s] = mean_of(x + s * h, h);

    /* The mean autocovariance over sequences needs only the summed power spectrum: one
     * forward transform per pair of sequences (m = 2 * chains is even), one inverse.
     * TODO: for many short sequences (ChEES: 100,000 chains of 200 draws) these FFTs are a
     * fifth of the summary; summing lags directly until Geyer's cut, falling back to the
     * FFT past a few dozen lags, would do the same work in a few passes over the draws. */
    memset(w->power, 0, (size_t)w->fft.len * sizeof(double));
    for (int64_t s = 0; s < m; s += 2)
        add_power_pair(&w->fft, x + s * h, w->seq_mean[s], x + (s + 1) * h,
                       w->seq_mean[s + 1], h, w->power);
    power_to_acov(&w->fft, w->power, h, 1.0 / ((double)w->fft.len * (double)h * (double)m),
                  w->acov);

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

/* Compute the diagnostics named in `what` into res[RES_COUNT] (left NaN where undefined),
 * for draws that have them (n >= DIAG_MIN_DRAWS, finite, not all equal) and that
 * sort_draws() has sorted into w. Reuses w->items: read quantiles from it before. Cannot
 * fail: work_init allocated everything. */
static void diagnose(diag_work *w, const double *draws, uint32_t what, double *res)
{
    double q_lo = NAN, q_hi = NAN;
    if (what & WANT_ESS_TAIL) {
        q_lo = item_quantile(w->items, w->count, 0.05);
        q_hi = item_quantile(w->items, w->count, 0.95);
    }

    split_chains(w, draws);

    /* The split drops the middle draw of odd chains, which may be the only one that
     * differs: then the draws used are constant, and nothing is defined. */
    if (all_equal(w->seq, w->total))
        return;

    if (what & WANT_RANKS) {
        sort_split(w);
        normal_scores(w->spare, w->total, w->buf);
        double rhat_bulk = (what & WANT_RHAT) ? split_rhat(w, w->buf) : NAN;
        if (what & WANT_ESS_BULK)
            res[RES_ESS_BULK] = ess_of(w, w->buf);

        if (what & WANT_RHAT) {
            /* The median of the kept draws, as ArviZ folds the split array. */
            double median = item_median(w->spare, w->total);
            sort_folded(w->spare, w->total, median, w->items);
            normal_scores(w->items, w->total, w->buf);
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

    diag_work w;
    if (work_init(&w, chains, n, what) != 0) {
        work_free(&w);
        return -1;
    }
    if (what & WANT_SORTED)
        sort_draws(&w, draws);
    diagnose(&w, draws, what, res);
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

/* The summary of draws[chains][n] into out[RMC_SUM_COUNT] (already NaN), with w prepared
 * by work_init(WANT_SORT | WANT_ALL) for this shape when n >= DIAG_MIN_DRAWS, else by
 * work_init(WANT_SORT). Cannot fail. */
static void summarise(diag_work *w, const double *draws, int64_t chains, int64_t n,
                      double *out)
{
    int64_t total = chains * n;
    uint32_t found = scan_draws(draws, total);

    out[RMC_SUM_MEAN] = mean_of(draws, total);
    if (total > 1)
        out[RMC_SUM_SD] = sqrt(variance_of(draws, total, out[RMC_SUM_MEAN]));

    /* NaN has no place in an order: with one, the quantiles stay NaN (and, the draws not
     * being finite, so do the diagnostics). */
    if (found & SCAN_NAN)
        return;

    sort_draws(w, draws);
    out[RMC_SUM_Q5] = item_quantile(w->items, total, 0.05);
    out[RMC_SUM_Q50] = item_quantile(w->items, total, 0.5);
    out[RMC_SUM_Q95] = item_quantile(w->items, total, 0.95);

    if (n >= DIAG_MIN_DRAWS && !(found & (SCAN_NONFINITE | SCAN_CONSTANT))) {
        double res[RES_COUNT] = {NAN, NAN, NAN, NAN};
        diagnose(w, draws, WANT_SORT | WANT_ALL, res);
        out[RMC_SUM_MCSE_MEAN] = out[RMC_SUM_SD] / sqrt(res[RES_ESS_MEAN]);
        out[RMC_SUM_ESS_BULK] = res[RES_ESS_BULK];
        out[RMC_SUM_ESS_TAIL] = res[RES_ESS_TAIL];
        out[RMC_SUM_RHAT] = res[RES_RHAT];
    }
}

static uint32_t summary_needs(int64_t n)
{
    return n >= DIAG_MIN_DRAWS ? WANT_SORT | WANT_ALL : WANT_SORT;
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

    diag_work w;
    if (work_init(&w, chains, n, summary_needs(n)) != 0) {
        work_free(&w);
        return summary_fail(out);
    }
    summarise(&w, draws, chains, n, out);
    work_free(&w);
    return 0;
}

/* ---------------------------------------------------------------- many columns */

/* One worker of diag_summary_columns: columns first, first + stride, ... with its own
 * scratch, allocated once and reused, since fresh pages for every column of a large fit
 * cost a quarter of the time in page faults. */
typedef struct column_job {
    int64_t chains, n, columns, first, stride;
    diag_fill_fn fill;
    void *ctx;
    double *out;
    int failed;
} column_job;

static void *summary_worker(void *arg)
{
    column_job *job = arg;
    int64_t total = job->chains * job->n;
    double *buf = alloc_array(total, sizeof(double));
    diag_work w;

    if (work_init(&w, job->chains, job->n, summary_needs(job->n)) != 0 || buf == NULL) {
        job->failed = 1;
    } else {
        for (int64_t j = job->first; j < job->columns; j += job->stride) {
            job->fill(job->ctx, j, buf);
            summarise(&w, buf, job->chains, job->n, job->out + j * RMC_SUM_COUNT);
        }
    }
    work_free(&w);
    free(buf);
    return NULL;
}

/* Scratch bytes of one worker per draw: the draws, two rank_item arrays, two split arrays. */
#define SUMMARY_BYTES_PER_DRAW (sizeof(double) * 3 + sizeof(rank_item) * 2)

int diag_summary_columns(int64_t chains, int64_t n, int64_t columns, diag_fill_fn fill,
                         void *ctx, int threads, double *out)
{
    if (out == NULL || fill == NULL || columns < 0 || chains < 1 || n < 1
        || chains > INT64_MAX / n)
        return -1;
    int64_t total = chains * n;
    for (int64_t i = 0; i < columns * RMC_SUM_COUNT; i++)
        out[i] = NAN;

    /* Workers each hold scratch of about 56 bytes per draw: no more of them than a
     * quarter of physical memory holds, so that a summary of 100,000 chains stays within
     * reach of the fit it summarises. */
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
    double room = pages > 0 && page_size > 0
                     ? 0.25 * (double)pages * (double)page_size
                           / ((double)total * (double)SUMMARY_BYTES_PER_DRAW)
                     : DIAG_MAX_THREADS;
    if ((double)threads > room)
        threads = (int)room;
    if (threads > columns)
        threads = (int)columns;
    if (threads > DIAG_MAX_THREADS)
        threads = DIAG_MAX_THREADS;
    if (threads < 1)
        threads = 1;

    column_job jobs[DIAG_MAX_THREADS];
    pthread_t tid[DIAG_MAX_THREADS];
    int started[DIAG_MAX_THREADS] = {0};
    for (int t = 0; t < threads; t++)
        jobs[t] = (column_job){chains, n, columns, t, threads, fill, ctx, out, 0};

    /* A worker that cannot start leaves its columns to the calling thread. */
    for (int t = 1; t < threads; t++)
        started[t] = pthread_create(&tid[t], NULL, summary_worker, &jobs[t]) == 0;
    summary_worker(&jobs[0]);
    for (int t = 1; t < threads; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            summary_worker(&jobs[t]);
    }

    int failed = 0;
    for (int t = 0; t < threads; t++)
        failed |= jobs[t].failed;
    return failed ? -1 : 0;
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

/* The summary of one quantity, as rmc_fit_summary gives it for a column: lets a fit read
 * back from files (CSV, npz) report exactly what the original fit reported. */
RMC_API rmc_status rmc_summary(const double *draws, int64_t chains, int64_t draws_per_chain,
                               double *out)
{
    if (!draws || !out || chains < 1 || draws_per_chain < 1)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_summary: draws and out must be given, with "
                        "chains and draws_per_chain at least 1");
    if (diag_summary(draws, chains, draws_per_chain, out) != 0)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_summary: out of memory");
    return RMC_OK;
}

/* Nested R-hat (Margossian, Hoffman, Sountsov, Riou-Durand, Vehtari and Gelman, 2023):
 * for many short chains, R-hat over superchains (consecutive groups of chains) rather than
 * over chains, since each chain alone has too few draws to estimate its own variance.
 *   B = variance of the superchain means (K - 1 in the denominator),
 *   W = mean over superchains of (variance of its chain means, M - 1 denominator, 0 when
 *       M = 1) + (mean within-chain variance, N - 1 denominator, 0 when N = 1),
 *   nested R-hat = sqrt(1 + B / W).
 * One pass per chain in chain order, so O(chains x draws) and reproducible. */
RMC_API double rmc_nested_rhat(const double *draws, int64_t chains, int64_t draws_per_chain,
                               int64_t superchains)
{
    const int64_t k = superchains, m = k > 0 ? chains / k : 0, n = draws_per_chain;
    double sum_means = 0.0, sum_sq_means = 0.0, w = 0.0;

    if (!draws || k < 2 || chains < 2 || n < 1 || chains % k != 0)
        return NAN;
    for (int64_t s = 0; s < k; s++) {
        double cm_sum = 0.0, cm_sq = 0.0, within = 0.0, mean_s;

        for (int64_t c = s * m; c < (s + 1) * m; c++) {
            const double *x = draws + c * n;
            double mean = 0.0, m2 = 0.0;

            for (int64_t i = 0; i < n; i++) {
                const double delta = x[i] - mean;

                mean += delta / (double)(i + 1);
                m2 += delta * (x[i] - mean);
            }
            cm_sum += mean;
            cm_sq += mean * mean;
            within += n > 1 ? m2 / (double)(n - 1) : 0.0;
        }
        mean_s = cm_sum / (double)m;
        w += (m > 1 ? (cm_sq - (double)m * mean_s * mean_s) / (double)(m - 1) : 0.0) +
             within / (double)m;
        sum_means += mean_s;
        sum_sq_means += mean_s * mean_s;
    }
    w /= (double)k;

    const double mean_all = sum_means / (double)k;
    const double b = (sum_sq_means - (double)k * mean_all * mean_all) / (double)(k - 1);

    if (!(w > 0.0))
        return b > 0.0 ? INFINITY : NAN;
    return sqrt(1.0 + fmax(b, 0.0) / w);
}
