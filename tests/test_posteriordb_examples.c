/* test_posteriordb_examples.c - the C examples examples/diamonds.c and
 * examples/gp_pois_regr.c, held to posteriordb's reference posteriors by the reference rule
 * (tests/support/posteriordb.c).
 *
 * The examples are compiled into this test (without their main), so what is checked is
 * the examples' own data reading, model and settings; the test adds only the reference
 * check, and that the examples' settings are the reference run's. Skips when the
 * posteriordb files are absent.
 *
 * diamonds takes tens of minutes on two cores (some 23 million gradients, each a 5000 x 24
 * product), so, as in the Python suite, it runs only when the environment sets RMC_SLOW=1.
 * Each case can be run alone by name:
 *     RMC_SLOW=1 test_posteriordb_examples diamonds_matches_reference
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "posteriordb.h"
#include "rmc.h"

#define RMC_EXAMPLE_NO_MAIN
#include "../examples/diamonds.c"
#include "../examples/gp_pois_regr.c"

#define OK(call) assert_int_equal((call), RMC_OK)

/* Sample program with the example's config, after checking that it has the reference
 * run's settings, and apply the reference rule. */
static void check_against_reference(const char *name, const rmc_program *program,
                                    const rmc_config *example, const cJSON *ref)
{
    rmc_config config = *example;
    rmc_fit *fit;
    char report[8192];
    int failures;

    pdb_control(ref, &config);
    assert_true(config.target_accept == example->target_accept);
    assert_int_equal(config.max_depth, example->max_depth);
    assert_int_equal(config.chains, 4);
    assert_int_equal(config.warmup, 1000);
    assert_int_equal(config.draws, 1000);

    OK(rmc_sample(program, &config, &fit));
    failures = pdb_check(fit, ref, report, sizeof report);
    print_message("%s\n%s%s", name, rmc_fit_summary_text(fit), report);
    assert_int_equal(failures, 0);
    rmc_fit_free(fit);
}

static void gp_pois_regr_matches_reference(void **state)
{
    static const char *const name = "gp_pois_regr-gp_pois_regr";
    cJSON *ref = pdb_load(name, "reference");
    gp_data d;
    rmc_model *model = NULL;
    rmc_data *data = NULL;
    rmc_program *program = NULL;
    rmc_config config;

    (void)state;
    if (ref == NULL || gp_read(pdb_dir(), &d) != 0) {
        cJSON_Delete(ref);
        print_message("%s: posteriordb files not found (set RMC_POSTERIORDB): skipping\n",
                      name);
        skip();
    }
    OK(gp_model(&model));
    OK(gp_bind(&d, &data));
    OK(rmc_program_create(model, data, &program));
    assert_int_equal(rmc_program_dim(program), 2 + d.n);
    gp_config(&config);
    check_against_reference(name, program, &config, ref);

    rmc_program_free(program);
    rmc_data_free(data);
    rmc_model_free(model);
    gp_data_free(&d);
    cJSON_Delete(ref);
}

static void diamonds_matches_reference(void **state)
{
    static const char *const name = "diamonds-diamonds";
    cJSON *ref = pdb_load(name, "reference");
    diamonds_data d;
    rmc_model *model = NULL;
    rmc_data *data = NULL;
    rmc_program *program = NULL;
    rmc_config config;

    (void)state;
    if (getenv("RMC_SLOW") == NULL || strcmp(getenv("RMC_SLOW"), "1") != 0) {
        print_message("%s: slow (minutes): skipped unless the environment sets RMC_SLOW=1\n",
                      name);
        cJSON_Delete(ref);
        skip();
    }
    if (ref == NULL || diamonds_read(pdb_dir(), &d) != 0) {
        cJSON_Delete(ref);
        print_message("%s: posteriordb files not found (set RMC_POSTERIORDB): skipping\n",
                      name);
        skip();
    }
    OK(diamonds_model(d.p, &model));
    OK(diamonds_bind(&d, &data));
    OK(rmc_program_create(model, data, &program));
    assert_int_equal(rmc_program_dim(program), d.p + 2);
    diamonds_config(&config);
    check_against_reference(name, program, &config, ref);

    rmc_program_free(program);
    rmc_data_free(data);
    rmc_model_free(model);
    diamonds_data_free(&d);
    cJSON_Delete(ref);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gp_pois_regr_matches_reference),
        cmocka_unit_test(diamonds_matches_reference),
    };

    /* Exit code 77 makes ctest report the test as skipped rather than passed. */
    if (!pdb_dir()) {
        printf("posteriordb reference files not found in ../shared/posteriordb or "
               "$RMC_POSTERIORDB: skipping\n");
        return 77;
    }
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
