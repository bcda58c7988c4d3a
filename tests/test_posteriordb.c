/* test_posteriordb.c - eight schools (non-centred), written with the C API and checked
 * against posteriordb's reference posterior. Skips when the reference files are absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "posteriordb.h"
#include "rmc.h"

#define OK(call) assert_int_equal((call), RMC_OK)

static const char *const EIGHT = "eight_schools-eight_schools_noncentered";

/* mu ~ N(0, 5); tau ~ HalfCauchy(0, 5); theta_trans ~ N(0, 1);
 * theta = mu + tau * theta_trans; y ~ N(theta, sigma). */
static rmc_model *eight_schools_model(void)
{
    rmc_model *m;
    rmc_node mu, tau, tt, theta, scaled, y, sigma, zero, one, five;
    const char *j_name[] = { "J" };

    OK(rmc_model_create(&m));
    OK(rmc_const(m, 0.0, &zero));
    OK(rmc_const(m, 1.0, &one));
    OK(rmc_const(m, 5.0, &five));
    OK(rmc_param(m, "mu", 0, NULL, NULL, RMC_NONE, RMC_NONE, &mu));
    OK(rmc_param(m, "tau", 0, NULL, NULL, zero, RMC_NONE, &tau));
    OK(rmc_param(m, "theta_trans", 1, NULL, j_name, RMC_NONE, RMC_NONE, &tt));
    OK(rmc_data_field(m, "y", RMC_REAL, 1, NULL, j_name, &y));
    OK(rmc_data_field(m, "sigma", RMC_REAL, 1, NULL, j_name, &sigma));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, mu, 2, (rmc_node[]){ zero, five }));
    OK(rmc_tilde(m, RMC_DIST_HALF_CAUCHY, tau, 1, (rmc_node[]){ five }));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, tt, 2, (rmc_node[]){ zero, one }));
    OK(rmc_op2(m, RMC_OP_MUL, tau, tt, &scaled));
    OK(rmc_op2(m, RMC_OP_ADD, mu, scaled, &theta));
    OK(rmc_deterministic(m, "theta", theta));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){ theta, sigma }));
    return m;
}

static void eight_schools_matches_reference(void **state)
{
    cJSON *data_json = pdb_load(EIGHT, "data"), *ref = pdb_load(EIGHT, "reference");
    rmc_model *m = eight_schools_model();
    rmc_data *data;
    rmc_program *p;
    rmc_config config;
    rmc_fit *fit;
    void **keep = NULL;
    int n_keep = 0, failures;
    char report[4096];

    (void)state;
    if (!data_json || !ref) {
        print_message("posteriordb not found (set RMC_POSTERIORDB): skipping\n");
        rmc_model_free(m);
        skip();
    }
    OK(rmc_data_create(&data));
    OK(pdb_bind(data, data_json, "J", 1, &keep, &n_keep));
    OK(pdb_bind(data, data_json, "y", 1, &keep, &n_keep));
    OK(pdb_bind(data, data_json, "sigma", 1, &keep, &n_keep));
    OK(rmc_program_create(m, data, &p));
    assert_int_equal(rmc_program_dim(p), 10);

    rmc_config_default(&config);
    config.chains = 4;
    config.warmup = 1000;
    config.draws = 1000;
    config.seed = 20261203;
    pdb_control(ref, &config);
    OK(rmc_sample(p, &config, &fit));
    failures = pdb_check(fit, ref, report, sizeof report);
    print_message("%s\n%s", rmc_fit_summary_text(fit), report);
    assert_int_equal(failures, 0);

    rmc_fit_free(fit);
    rmc_program_free(p);
    rmc_data_free(data);
    rmc_model_free(m);
    pdb_free_kept(keep, n_keep);
    cJSON_Delete(data_json);
    cJSON_Delete(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eight_schools_matches_reference),
    };

    /* Exit code 77 makes ctest report the test as skipped rather than passed. */
    if (!pdb_dir()) {
        printf("posteriordb reference files not found in ../shared/posteriordb or "
               "$RMC_POSTERIORDB: skipping\n");
        return 77;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
