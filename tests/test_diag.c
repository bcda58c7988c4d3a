/* test_diag.c - convergence diagnostics (src/diag.c) against ArviZ.
 *
 * The inputs are AR(1) chains made by a small deterministic generator that
 * tests/gen_diag_reference.py reproduces bit for bit in Python; that script computed the
 * reference figures in `cases` with ArviZ 0.23.4 (numpy 2.4.6, scipy 1.17.1):
 *   rhat      az.rhat(x, method="rank")      (one chain: ArviZ's internal _rhat on the
 *                                              split, rank-normalised and folded draws,
 *                                              since az.rhat refuses a single chain)
 *   ess_bulk  az.ess(x, method="bulk")
 *   ess_tail  az.ess(x, method="tail")
 *   mcse_mean az.mcse(x, method="mean")
 *   mean, sd  np.mean, np.std(ddof=1); quantiles np.quantile (linear) at 0.05, 0.5, 0.95
 * with x the (chains, draws) numpy array. Rerun the script to regenerate the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "rmc.h"

/* Measured agreement with ArviZ is 2e-14 relative at worst (FFT and summation order); this
 * leaves room for other libms while still catching any real difference in the method. */
#define REF_RTOL 1e-9

/* ---------------------------------------------------------------- input generator */

/* 64-bit LCG with Knuth's MMIX constants; uniforms from the top 53 bits, exactly. */
typedef struct lcg {
    uint64_t state;
} lcg;

static double lcg_uniform(lcg *g)
{
    g->state = g->state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    return (double)(g->state >> 11) * (1.0 / 9007199254740992.0);
}

/* Irwin-Hall: 12 uniforms minus 6, mean 0 and variance 1. Built only from correctly
 * rounded operations (no log or cos as in Box-Muller), so Python gets the same bits. */
static double lcg_normal(lcg *g)
{
    double s = 0.0;
    for (int i = 0; i < 12; i++)
        s += lcg_uniform(g);
    return s - 6.0;
}

enum { KIND_CONTINUOUS, KIND_DISCRETE, KIND_BINARY };

typedef struct ref_case {
    const char *name;
    uint64_t seed;
    int64_t chains, n;
    double phi;        /* AR(1) coefficient; innovations scaled to unit variance */
    int kind;          /* KIND_*: the AR value, floor(1.5 v), or I(v > 1) */
    int64_t odd_chain; /* this chain (-1: none) is odd_loc + odd_scale x */
    double odd_loc, odd_scale;
    double first, last, sum; /* the generated draws, to check they match Python's */
    double expect[RMC_SUM_COUNT];
} ref_case;

/* draws[chains][n] for c, one stream over all chains in order. Each product is its own
 * statement so that no compiler fuses it into an FMA that Python would not do. */
static double *generate(const ref_case *c)
{
    double *draws = malloc((size_t)(c->chains * c->n) * sizeof(double));
    assert_non_null(draws);

    lcg g = {c->seed};
    double scale = sqrt(1.0 - c->phi * c->phi);
    for (int64_t ch = 0; ch < c->chains; ch++) {
        double loc = ch == c->odd_chain ? c->odd_loc : 0.0;
        double sc = ch == c->odd_chain ? c->odd_scale : 1.0;
        double x = lcg_normal(&g);
        for (int64_t t = 0; t < c->n; t++) {
            if (t > 0) {
                double e = lcg_normal(&g);
                double a = c->phi * x;
                double b = scale * e;
                x = a + b;
            }
            double y = sc * x;
            double v = loc + y;
            if (c->kind == KIND_DISCRETE)
                v = floor(1.5 * v);
            else if (c->kind == KIND_BINARY)
                v = v > 1.0 ? 1.0 : 0.0;
            draws[ch * c->n + t] = v;
        }
    }
    return draws;
}

/* ---------------------------------------------------------------- reference table */

/* Columns of expect: mean, sd, q5, q50, q95, mcse_mean, ess_bulk, ess_tail, rhat. */
static const ref_case cases[] = {
    {"ar1", 1, 4, 500, 0.6, 0, -1, 0.0, 1.0,
     0x1.973ae9428a660p-3, -0x1.b87854a3cdd6ep-1, -0x1.c435fcc3f4c26p+4,
     {-0.014131590254522994, 0.98142237126447318, -1.6373660640511476,
      -0.013064066528943236, 1.642806055606971, 0.043958347770942693,
      497.53139216653074, 807.5106557982906, 1.0050745339160636}},
    {"ar1_odd", 2, 3, 501, 0.3, 0, -1, 0.0, 1.0,
     0x1.cebe62cfae858p-1, 0x1.82f01f699930ap+0, 0x1.a6b4b03221b84p+4,
     {0.017577587056510312, 0.99066868256677654, -1.5935132103455893,
      -0.0061488778149559609, 1.6942316367386006, 0.0353407590852979,
      788.81693333921328, 1030.3744114335013, 1.0019148090728243}},
    {"shifted", 3, 4, 500, 0.5, 0, 3, 2.0, 1.0,
     0x1.37ae0b4eba730p-1, 0x1.88a086ee61adep+1, 0x1.8908361e00b08p+9,
     {0.39303207576290944, 1.2976327507640002, -1.5625725766744945,
      0.2695970680039288, 2.6736331551476713, 0.42364504752585486,
      10.357802159391218, 43.74240148599246, 1.3121769838770294}},
    {"scaled", 10, 4, 500, 0.5, 0, 0, 0.0, 3.0,
     -0x1.5ea685d3eb1c8p+0, -0x1.4492bbc603102p-2, 0x1.5f13993e64778p+6,
     {0.043884569632950843, 1.6674900909213282, -2.3816391954056146,
      0.027424408093093142, 2.7217974340594737, 0.066031888199855227,
      656.67664292987945, 45.797954334403173, 1.1347007925037462}},
    {"sticky", 4, 4, 1000, 0.97, 0, -1, 0.0, 1.0,
     -0x1.5f624c3239a08p-1, -0x1.47de625ee2818p-1, -0x1.5355fdcad87b2p+5,
     {-0.010604246994193076, 0.94801102453097275, -1.6122908094979593,
      0.027998075079350392, 1.4683235310048928, 0.20683631590890281,
      21.552835112506816, 66.340086792088556, 1.1580739676809511}},
    {"antithetic", 5, 4, 500, -0.7, 0, -1, 0.0, 1.0,
     -0x1.f672a3b32db38p-1, -0x1.366ce7d6a3d8ep-3, 0x1.a5ed49e17a814p+4,
     {0.013185215893161547, 1.0085773979786741, -1.6310287569960924,
      0.016128274348541121, 1.720022012259161, 0.012412792579878412,
      6602.0599913279621, 1676.6910128364475, 1.0052865920189658}},
    {"discrete", 6, 4, 500, 0.5, 1, -1, 0.0, 1.0,
     0x1.0000000000000p+0, -0x1.8000000000000p+1, -0x1.1a00000000000p+10,
     {-0.56399999999999995, 1.5378837873102231, -3,
      -1, 2, 0.060551926631171385,
      636.69808731522471, 1055.5006575649481, 1.0023383374480643}},
    {"binary", 7, 4, 400, 0.7, 2, -1, 0.0, 1.0,
     0x0.0p+0, 0x0.0p+0, 0x1.0700000000000p+8,
     {0.16437499999999999, 0.37073138587837029, 0,
      0, 1, 0.016063667328103333,
      532.63451600913925, 532.63451600913959, 1.0117382207889785}},
    {"single", 8, 1, 600, 0.4, 0, -1, 0.0, 1.0,
     0x1.11715727d84e0p-3, 0x1.126122a486115p-2, -0x1.71e8889e0a693p+5,
     {-0.077064236378181425, 1.0249197234069825, -1.796911305025866,
      -0.1409571807669511, 1.6204535336871977, 0.073766076174192799,
      189.87098566185784, 247.91987057118376, 1.0019621305917206}},
    {"short", 11, 1, 4, 0.2, 0, -1, 0.0, 1.0,
     0x1.fcad3d1c676c0p-3, -0x1.0025e60ea83a5p-2, -0x1.548cb272ea617p-1,
     {-0.16628398335642267, 0.28293928390919776, -0.37150684241335286,
      -0.26246980113739238, 0.17359902059386501, 0.18232380273753787,
      2.4082399653118496, 2.4082399653118496, 0.89956240644035679}},
    {"long", 9, 2, 20000, 0.9, 0, 1, 0.05, 1.0,
     -0x1.4ad006dbf7fe0p-3, -0x1.43a779e1226dbp-2, 0x1.d9ad2a562a9d2p+10,
     {0.047367642725506372, 0.99484727415293384, -1.608268466663799,
      0.060358252887253425, 1.6681836997135373, 0.020343971205740771,
      2394.6488349788497, 4833.1968713056476, 1.0007111204435202}},
};

static const char *const field_names[RMC_SUM_COUNT] = {
    "mean", "sd", "q5", "q50", "q95", "mcse_mean", "ess_bulk", "ess_tail", "rhat",
};

static int close_to(double got, double want, double rtol)
{
    if (isnan(want))
        return isnan(got);
    return fabs(got - want) <= rtol * fmax(fabs(want), 1.0);
}

/* ---------------------------------------------------------------- tests */

/* The C generator must reproduce the Python one exactly, or the table means nothing. */
static void test_generator_matches_python(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ref_case *c = &cases[i];
        double *draws = generate(c);
        int64_t total = c->chains * c->n;
        double sum = 0.0;
        for (int64_t j = 0; j < total; j++)
            sum += draws[j];
        if (draws[0] != c->first || draws[total - 1] != c->last || sum != c->sum)
            fail_msg("%s: generated draws differ from gen_diag_reference.py", c->name);
        free(draws);
    }
}

static void test_summary_matches_arviz(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ref_case *c = &cases[i];
        double *draws = generate(c);
        double out[RMC_SUM_COUNT];
        assert_int_equal(diag_summary(draws, c->chains, c->n, out), 0);

        for (int f = 0; f < RMC_SUM_COUNT; f++) {
            if (!close_to(out[f], c->expect[f], REF_RTOL))
                fail_msg("%s %s: got %.17g, ArviZ %.17g", c->name, field_names[f], out[f],
                         c->expect[f]);
        }
        free(draws);
    }
}

/* The public one-figure entry points run the same computation as the summary. */
static void test_public_functions_match_summary(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const ref_case *c = &cases[i];
        double *draws = generate(c);
        double out[RMC_SUM_COUNT], ess_mean = NAN;
        assert_int_equal(diag_summary(draws, c->chains, c->n, out), 0);
        assert_int_equal(diag_ess_mean(draws, c->chains, c->n, &ess_mean), 0);

        assert_true(close_to(rmc_rhat(draws, c->chains, c->n), out[RMC_SUM_RHAT], 1e-15));
        assert_true(close_to(rmc_ess_bulk(draws, c->chains, c->n), out[RMC_SUM_ESS_BULK],
                             1e-15));
        assert_true(close_to(rmc_ess_tail(draws, c->chains, c->n), out[RMC_SUM_ESS_TAIL],
                             1e-15));
        assert_true(close_to(out[RMC_SUM_SD] / sqrt(ess_mean), out[RMC_SUM_MCSE_MEAN],
                             1e-15));
        free(draws);
    }
}

static const ref_case *find_case(const char *name)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (strcmp(cases[i].name, name) == 0)
            return &cases[i];
    }
    fail_msg("no reference case %s", name);
    return NULL;
}

/* What the reference cases are there to show, stated directly. */
static void test_reference_cases_behave(void **state)
{
    (void)state;

    /* Well-mixed chains pass; a chain moved by two sd is flagged. */
    assert_true(find_case("ar1")->expect[RMC_SUM_RHAT] < 1.01);
    assert_true(find_case("shifted")->expect[RMC_SUM_RHAT] > 1.1);

    /* A chain with three times the spread is flagged too, by the folded R-hat only: the
     * bulk R-hat alone (ArviZ's _rhat of the split rank-normalised draws) is 1.008. */
    const ref_case *c = find_case("scaled");
    assert_true(c->expect[RMC_SUM_RHAT] > 1.1);
    double *draws = generate(c);
    double out[RMC_SUM_COUNT];
    assert_int_equal(diag_summary(draws, c->chains, c->n, out), 0);
    assert_true(out[RMC_SUM_RHAT] > 1.1);
    free(draws);

    /* Antithetic chains hit the tau floor, ESS = S log10(S), in ArviZ and here. */
    c = find_case("antithetic");
    double s = (double)(c->chains * c->n);
    assert_true(close_to(c->expect[RMC_SUM_ESS_BULK], s * log10(s), 1e-12));

    /* 0/1 draws: I(x <= q95) is all ones, which counts as S (ArviZ), so the tail ESS is
     * that of I(x <= q05) = 1 - x, the same as the bulk ESS of two-valued draws. */
    c = find_case("binary");
    assert_true(c->expect[RMC_SUM_Q95] == 1.0);
    assert_true(close_to(c->expect[RMC_SUM_ESS_TAIL], c->expect[RMC_SUM_ESS_BULK], 1e-12));
}

static void test_normal_quantile(void **state)
{
    (void)state;
    /* scipy.special.ndtri, which agrees with Wichura's AS241 to about 1e-16. */
    static const double p[] = {0.975, 0.3, 0.6, 1e-10, 1e-300, 1.0 - 1e-12, 0.02425};
    static const double z[] = {1.959963984540054, -0.5244005127080409, 0.2533471031357997,
                               -6.361340902404056, -37.0470962993612, 7.0344869100478356,
                               -1.972961051311885};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        double got = diag_normal_quantile(p[i]);
        if (!close_to(got, z[i], 1e-14))
            fail_msg("Phi^-1(%g) = %.17g, want %.17g", p[i], got, z[i]);
        /* Away from the far tails 1 - p is still exact enough to test symmetry. */
        if (p[i] > 0.01 && p[i] < 0.99)
            assert_true(close_to(diag_normal_quantile(1.0 - p[i]), -z[i], 1e-14));
    }

    assert_true(diag_normal_quantile(0.5) == 0.0);
    assert_true(isinf(diag_normal_quantile(0.0)) && diag_normal_quantile(0.0) < 0.0);
    assert_true(isinf(diag_normal_quantile(1.0)) && diag_normal_quantile(1.0) > 0.0);
    assert_true(isnan(diag_normal_quantile(-0.1)));
    assert_true(isnan(diag_normal_quantile(1.5)));
    assert_true(isnan(diag_normal_quantile(NAN)));
}

static void test_quantile_type7(void **state)
{
    (void)state;
    /* np.quantile(x, p) with numpy's default (linear) method. */
    static const double x[] = {-3.0, 1.0, 2.0, 2.0, 2.0, 7.5, 10.0};
    assert_true(close_to(diag_quantile(x, 7, 0.05), -1.8, 1e-15));
    assert_true(close_to(diag_quantile(x, 7, 0.95), 9.25, 1e-15));
    assert_true(close_to(diag_quantile(x, 7, 0.75), 4.75, 1e-15));
    assert_true(diag_quantile(x, 7, 0.0) == -3.0);
    assert_true(diag_quantile(x, 7, 1.0) == 10.0);

    /* Inside a tie the value comes back exactly, whatever the fraction. */
    assert_true(diag_quantile(x, 7, 0.4) == 2.0);
    assert_true(diag_quantile(x, 7, 0.6) == 2.0);

    assert_true(diag_quantile(x, 1, 0.3) == -3.0);
    assert_true(isnan(diag_quantile(x, 0, 0.5)));
    assert_true(isnan(diag_quantile(x, 7, -0.1)));
    assert_true(isnan(diag_quantile(x, 7, 1.1)));
    assert_true(isnan(diag_quantile(NULL, 7, 0.5)));
}

/* The FFT autocovariance equals the direct sum at every lag, for lengths that pad to
 * powers of two in different ways. */
static void test_autocov_matches_direct(void **state)
{
    (void)state;
    static const int64_t lengths[] = {1, 2, 3, 5, 37, 64, 65, 1000};
    lcg g = {42};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        int64_t n = lengths[li];
        double *x = malloc((size_t)n * sizeof(double));
        double *acov = malloc((size_t)n * sizeof(double));
        assert_non_null(x);
        assert_non_null(acov);

        double mean = 0.0;
        for (int64_t i = 0; i < n; i++) {
            x[i] = 3.0 + lcg_normal(&g) + (i > 0 ? 0.8 * x[i - 1] - 2.4 : 0.0);
            mean += x[i];
        }
        mean /= (double)n;
        assert_int_equal(diag_autocov(x, n, acov), 0);

        double var = 0.0;
        for (int64_t i = 0; i < n; i++)
            var += (x[i] - mean) * (x[i] - mean);
        var /= (double)n;
        for (int64_t t = 0; t < n; t++) {
            double direct = 0.0;
            for (int64_t i = 0; i + t < n; i++)
                direct += (x[i] - mean) * (x[i + t] - mean);
            direct /= (double)n;
            if (fabs(acov[t] - direct) > 1e-12 * var + 1e-300)
                fail_msg("n %lld lag %lld: fft %.17g, direct %.17g", (long long)n,
                         (long long)t, acov[t], direct);
        }
        free(x);
        free(acov);
    }
}

static void expect_no_diagnostics(const double *draws, int64_t chains, int64_t n)
{
    double value = 0.0;
    assert_true(isnan(rmc_rhat(draws, chains, n)));
    assert_true(isnan(rmc_ess_bulk(draws, chains, n)));
    assert_true(isnan(rmc_ess_tail(draws, chains, n)));
    assert_int_equal(diag_ess_mean(draws, chains, n, &value), 0);
    assert_true(isnan(value));
}

static void test_constant_draws(void **state)
{
    (void)state;
    double draws[4 * 50];
    for (int i = 0; i < 4 * 50; i++)
        draws[i] = 2.5;
    expect_no_diagnostics(draws, 4, 50);
    expect_no_diagnostics(draws, 1, 50);

    double out[RMC_SUM_COUNT];
    assert_int_equal(diag_summary(draws, 4, 50, out), 0);
    assert_true(out[RMC_SUM_MEAN] == 2.5);
    assert_true(out[RMC_SUM_SD] == 0.0);
    assert_true(out[RMC_SUM_Q5] == 2.5 && out[RMC_SUM_Q50] == 2.5 && out[RMC_SUM_Q95] == 2.5);
    for (int f = RMC_SUM_MCSE_MEAN; f < RMC_SUM_COUNT; f++)
        assert_true(isnan(out[f]));

    /* The split drops the middle draw of an odd chain; if it was the only one to differ,
     * the draws used are constant. */
    static const double middle[] = {1.0, 1.0, 7.0, 1.0, 1.0};
    expect_no_diagnostics(middle, 1, 5);
    assert_int_equal(diag_summary(middle, 1, 5, out), 0);
    assert_true(out[RMC_SUM_MEAN] == 2.2 && out[RMC_SUM_Q50] == 1.0);
    assert_true(isnan(out[RMC_SUM_MCSE_MEAN]) && isnan(out[RMC_SUM_RHAT]));
}

static void test_non_finite_draws(void **state)
{
    (void)state;
    static const double bad[] = {NAN, INFINITY, -INFINITY};
    double draws[2 * 20], out[RMC_SUM_COUNT];
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        for (int i = 0; i < 2 * 20; i++)
            draws[i] = (double)((i * 7) % 11);
        draws[23] = bad[b];
        expect_no_diagnostics(draws, 2, 20);

        assert_int_equal(diag_summary(draws, 2, 20, out), 0);
        for (int f = RMC_SUM_MCSE_MEAN; f < RMC_SUM_COUNT; f++)
            assert_true(isnan(out[f]));
        assert_true(!isfinite(out[RMC_SUM_MEAN]));

        /* Infinities still have an order; NaN has none. */
        assert_true(isnan(bad[b]) ? isnan(out[RMC_SUM_Q50]) : out[RMC_SUM_Q50] == 5.0);
    }
}

static void test_short_and_degenerate_shapes(void **state)
{
    (void)state;
    static const double draws[8] = {0.3, -1.2, 0.8, 2.1, -0.4, 1.7, -0.9, 0.1};
    double out[RMC_SUM_COUNT];

    /* Fewer than four draws per chain: no split halves of two. */
    expect_no_diagnostics(draws, 1, 3);
    expect_no_diagnostics(draws, 2, 3);
    expect_no_diagnostics(draws, 8, 1);
    assert_true(isfinite(rmc_rhat(draws, 1, 4)));
    assert_true(isfinite(rmc_rhat(draws, 2, 4)));

    /* The plain figures exist for any draws, the diagnostics not. */
    assert_int_equal(diag_summary(draws, 1, 3, out), 0);
    assert_true(close_to(out[RMC_SUM_MEAN], -0.1 / 3.0, 1e-15));
    assert_true(out[RMC_SUM_Q50] == 0.3);
    assert_true(isnan(out[RMC_SUM_RHAT]) && isnan(out[RMC_SUM_ESS_BULK]));
    assert_int_equal(diag_summary(draws, 1, 1, out), 0);
    assert_true(out[RMC_SUM_MEAN] == 0.3 && isnan(out[RMC_SUM_SD]));

    /* Nothing to summarise. */
    expect_no_diagnostics(NULL, 4, 100);
    expect_no_diagnostics(draws, 0, 8);
    expect_no_diagnostics(draws, 1, 0);
    expect_no_diagnostics(draws, -1, 8);
    assert_int_equal(diag_summary(NULL, 4, 100, out), 0);
    for (int f = 0; f < RMC_SUM_COUNT; f++)
        assert_true(isnan(out[f]));
    assert_int_equal(diag_summary(draws, 1, 8, NULL), -1);

    /* A shape whose size overflows is refused before any draw is read. */
    assert_int_equal(diag_summary(draws, INT64_MAX, 2, out), -1);
    assert_true(isnan(rmc_ess_bulk(draws, INT64_MAX / 2, 4)));
    double value = 0.0;
    assert_int_equal(diag_rhat(draws, 3, INT64_MAX / 2, &value), -1);
    assert_true(isnan(value));
}

/* Ranks ignore monotone transforms; R-hat and bulk ESS must too (tail ESS as well, since
 * the quantiles move with the draws). */
static void test_rank_invariance(void **state)
{
    (void)state;
    const ref_case *c = &cases[0];
    double *draws = generate(c);
    double *moved = malloc((size_t)(c->chains * c->n) * sizeof(double));
    assert_non_null(moved);
    for (int64_t i = 0; i < c->chains * c->n; i++)
        moved[i] = exp(2.0 * draws[i]) + 100.0;

    assert_true(close_to(rmc_rhat(moved, c->chains, c->n), rmc_rhat(draws, c->chains, c->n),
                         1e-14));
    assert_true(close_to(rmc_ess_bulk(moved, c->chains, c->n),
                         rmc_ess_bulk(draws, c->chains, c->n), 1e-12));
    assert_true(close_to(rmc_ess_tail(moved, c->chains, c->n),
                         rmc_ess_tail(draws, c->chains, c->n), 1e-12));
    free(moved);
    free(draws);
}

/* Columns of one shape for the many-column summary: every reference case of that shape,
 * then a constant column, a NaN column and an infinite one, so that scratch reused across
 * columns meets each path. */
typedef struct column_set {
    int64_t chains, n, columns;
    double *draws; /* [columns][chains * n] */
} column_set;

static void fill_from_set(void *ctx, int64_t column, double *buf)
{
    const column_set *set = ctx;
    int64_t size = set->chains * set->n;
    memcpy(buf, set->draws + column * size, (size_t)size * sizeof(double));
}

/* diag_summary_columns gives each column exactly what diag_summary gives it, for any
 * number of threads (the figures must not depend on the machine's core count). */
static void test_summary_columns_match_summary(void **state)
{
    (void)state;
    const ref_case *first = &cases[0];
    column_set set = {first->chains, first->n, 0, NULL};
    int64_t size = set.chains * set.n;
    set.draws = malloc((size_t)(size * (int64_t)(sizeof cases / sizeof cases[0] + 3))
                       * sizeof(double));
    assert_non_null(set.draws);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].chains != set.chains || cases[i].n != set.n)
            continue;
        double *draws = generate(&cases[i]);
        memcpy(set.draws + set.columns++ * size, draws, (size_t)size * sizeof(double));
        free(draws);
    }
    for (int64_t i = 0; i < size; i++) {
        set.draws[set.columns * size + i] = 1.5;
        set.draws[(set.columns + 1) * size + i] = i == size / 2 ? NAN : (double)i;
        set.draws[(set.columns + 2) * size + i] = i == 3 ? INFINITY : (double)(i % 7);
    }
    set.columns += 3;
    assert_true(set.columns >= 5);

    double *expect = malloc((size_t)(set.columns * RMC_SUM_COUNT) * sizeof(double));
    double *got = malloc((size_t)(set.columns * RMC_SUM_COUNT) * sizeof(double));
    assert_non_null(expect);
    assert_non_null(got);
    for (int64_t j = 0; j < set.columns; j++)
        assert_int_equal(diag_summary(set.draws + j * size, set.chains, set.n,
                                      expect + j * RMC_SUM_COUNT), 0);

    const int thread_counts[] = {1, 2, 5};
    for (size_t t = 0; t < sizeof thread_counts / sizeof thread_counts[0]; t++) {
        assert_int_equal(diag_summary_columns(set.chains, set.n, set.columns, fill_from_set,
                                              &set, thread_counts[t], got), 0);
        for (int64_t k = 0; k < set.columns * RMC_SUM_COUNT; k++) {
            int same = isnan(expect[k]) ? isnan(got[k]) : got[k] == expect[k];
            if (!same)
                fail_msg("%d threads, column %lld field %s: got %.17g, alone %.17g",
                         thread_counts[t], (long long)(k / RMC_SUM_COUNT),
                         field_names[k % RMC_SUM_COUNT], got[k], expect[k]);
        }
    }

    /* Bad shapes are refused, not summarised. */
    assert_int_equal(diag_summary_columns(0, set.n, 1, fill_from_set, &set, 1, got), -1);
    assert_int_equal(diag_summary_columns(set.chains, set.n, 1, NULL, &set, 1, got), -1);
    assert_int_equal(diag_summary_columns(INT64_MAX, 2, 1, fill_from_set, &set, 1, got), -1);

    free(got);
    free(expect);
    free(set.draws);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generator_matches_python),
        cmocka_unit_test(test_summary_matches_arviz),
        cmocka_unit_test(test_public_functions_match_summary),
        cmocka_unit_test(test_reference_cases_behave),
        cmocka_unit_test(test_normal_quantile),
        cmocka_unit_test(test_quantile_type7),
        cmocka_unit_test(test_autocov_matches_direct),
        cmocka_unit_test(test_constant_draws),
        cmocka_unit_test(test_non_finite_draws),
        cmocka_unit_test(test_short_and_degenerate_shapes),
        cmocka_unit_test(test_rank_invariance),
        cmocka_unit_test(test_summary_columns_match_summary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
