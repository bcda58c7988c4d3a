/* test_progress.c - rmc_config.progress_info: the counts it reports agree with the fit
 * (iterations, warmup, divergences), it is called at a bounded rate, and a non-zero return
 * cancels the run, keeping the draws made so far. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "rmc.h"

#define OK(call) assert_int_equal((call), RMC_OK)

static const double ys[8] = { 28, 8, -3, 7, -1, 1, 18, 12 };
static const double sigmas[8] = { 15, 10, 16, 11, 9, 11, 10, 18 };

/* Centred eight schools: with a low acceptance target it diverges, which is what the
 * divergence count needs. */
static rmc_program *centred_schools(void)
{
    rmc_model *m;
    rmc_data *d;
    rmc_program *p;
    rmc_node mu, tau, theta, y, sigma, zero, five;
    const int64_t eight = 8;

    OK(rmc_model_create(&m));
    OK(rmc_const(m, 0.0, &zero));
    OK(rmc_const(m, 5.0, &five));
    OK(rmc_param(m, "mu", 0, NULL, NULL, RMC_NONE, RMC_NONE, &mu));
    OK(rmc_param(m, "tau", 0, NULL, NULL, zero, RMC_NONE, &tau));
    OK(rmc_param(m, "theta", 1, &eight, NULL, RMC_NONE, RMC_NONE, &theta));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, mu, 2, (rmc_node[]){ zero, five }));
    OK(rmc_tilde(m, RMC_DIST_HALF_CAUCHY, tau, 1, (rmc_node[]){ five }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, theta, 2, (rmc_node[]){ mu, tau }));
    OK(rmc_data_field(m, "y", RMC_REAL, 1, &eight, NULL, &y));
    OK(rmc_data_field(m, "sigma", RMC_REAL, 1, &eight, NULL, &sigma));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){ theta, sigma }));
    OK(rmc_data_create(&d));
    OK(rmc_data_set(d, "y", RMC_REAL, ys, 1, &eight));
    OK(rmc_data_set(d, "sigma", RMC_REAL, sigmas, 1, &eight));
    OK(rmc_program_create(m, d, &p));
    rmc_data_free(d);
    rmc_model_free(m);
    return p;
}

struct seen {
    rmc_progress_info last;
    int calls;
    int old_calls;          /* calls of the plain rmc_progress_fn, set alongside */
    int64_t stop_after;     /* cancel once done reaches this (0: never) */
    int monotone;
};

static int on_info(const rmc_progress_info *info, void *user)
{
    struct seen *s = user;

    if (s->calls && (info->done < s->last.done || info->divergent < s->last.divergent ||
                     info->warmup_done < s->last.warmup_done))
        s->monotone = 0;
    s->last = *info;
    s->calls++;
    return s->stop_after && info->done >= s->stop_after;
}

static int on_progress(int64_t done, int64_t total, void *user)
{
    struct seen *s = user;

    (void)done;
    (void)total;
    s->old_calls++;
    return 0;
}

static int64_t fit_divergences(const rmc_fit *fit)
{
    const double *stats = rmc_fit_stats(fit);
    int64_t n = 0;

    for (int64_t c = 0; c < rmc_fit_chains(fit); c++)
        for (int64_t d = 0; d < rmc_fit_completed(fit, c); d++)
            n += stats[(c * rmc_fit_draws(fit) + d) * RMC_STAT_COUNT + RMC_STAT_DIVERGENT] != 0;
    return n;
}

static void test_counts_agree_with_the_fit(void **state)
{
    rmc_program *p = centred_schools();
    rmc_config cfg;
    rmc_fit *fit;
    struct seen s = { .monotone = 1 };

    (void)state;
    rmc_config_default(&cfg);
    cfg.chains = 3;
    cfg.warmup = 300;
    cfg.draws = 700;
    cfg.thin = 2;
    cfg.target_accept = 0.6;
    cfg.seed = 5;
    cfg.backend = RMC_BACKEND_CPU;
    cfg.progress = on_progress;
    cfg.progress_info = on_info;
    cfg.progress_user = &s;
    OK(rmc_sample(p, &cfg, &fit));
    assert_true(s.calls >= 1);
    assert_true(s.monotone);
    assert_int_equal(s.old_calls, s.calls);      /* both callbacks, at the same moments */
    assert_int_equal(s.last.total, 3 * (300 + 700 * 2));
    assert_int_equal(s.last.done, s.last.total);
    assert_int_equal(s.last.warmup_total, 3 * 300);
    assert_int_equal(s.last.warmup_done, 3 * 300);
    assert_true(fit_divergences(fit) > 0);
    assert_int_equal(s.last.divergent, fit_divergences(fit));
    assert_true(s.last.seconds > 0 && s.last.seconds <= rmc_fit_seconds(fit) + 1e-6);
    /* At most one report per 100 ms, and one at the end. */
    assert_true(s.calls <= 2 + (int)(rmc_fit_seconds(fit) / 0.1));
    rmc_fit_free(fit);
    rmc_program_free(p);
}

static void test_nonzero_return_cancels(void **state)
{
    rmc_program *p = centred_schools();
    rmc_config cfg;
    rmc_fit *fit = NULL;
    struct seen s = { .monotone = 1, .stop_after = 1 };

    (void)state;
    rmc_config_default(&cfg);
    cfg.chains = 2;
    cfg.warmup = 1000;
    cfg.draws = 2000000;   /* minutes of work: only the cancellation ends it soon */
    cfg.seed = 9;
    cfg.backend = RMC_BACKEND_CPU;
    cfg.progress_info = on_info;
    cfg.progress_user = &s;
    assert_int_equal(rmc_sample(p, &cfg, &fit), RMC_ERR_CANCELLED);
    assert_non_null(fit);
    assert_int_equal(rmc_fit_cancelled(fit), 1);
    assert_true(rmc_fit_completed(fit, 0) < 2000000);
    assert_true(s.last.divergent <= fit_divergences(fit));
    rmc_fit_free(fit);
    rmc_program_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_agree_with_the_fit),
        cmocka_unit_test(test_nonzero_return_cancels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
