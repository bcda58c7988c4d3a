/*
 * diamonds.c - posteriordb's diamonds-diamonds: a log-price regression of 5000 diamonds on
 * 24 predictors, with rmc's C API.
 *
 *     Xc[n, k]  = X[n, k + 1] - mean(X[, k + 1])      centred predictors, k = 1..24
 *     b[k]      ~ Normal(0, 1)
 *     Intercept ~ StudentT(3, 8, 10)
 *     sigma     ~ HalfStudentT(3, 10),  sigma > 0
 *     Y[n]      ~ Normal(Intercept + Xc[n, ] b, sigma),   n = 1..5000
 *
 * The data are posteriordb's diamonds.data.json: Y, and X whose first column is all ones
 * (the intercept, modelled separately here, as brms does). Several predictors correlate
 * above 0.99, so the posterior is a long, narrow ridge: the reference run (Stan) needed a
 * target acceptance of 0.99 and trees up to depth 20, and this example uses the same.
 * Every gradient is a dense 5000 x 24 product, and the run takes some 23 million of them:
 * expect tens of minutes on two cores.
 *
 * Run: ./diamonds [posteriordb folder]   (default: $RMC_POSTERIORDB, else the folder set
 * at build time). tests/test_posteriordb_examples.c holds this model to the reference.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "posteriordb_json.h"
#include "rmc.h"

/* The data as rmc binds them. rmc keeps pointers, not copies, so these arrays must outlive
 * every program made from them. */
typedef struct diamonds_data {
    int64_t n;  /* rows (diamonds)                            */
    int64_t p;  /* centred predictors: the columns of X but the first */
    double *y;  /* log price, n                               */
    double *xc; /* centred predictors, n x p, row-major        */
} diamonds_data;

static void diamonds_data_free(diamonds_data *d)
{
    free(d->y);
    free(d->xc);
}

/* Read Y and X from DIR/diamonds-diamonds.data.json and centre X's predictor columns.
 * Returns 0, or -1 after printing why. */
static int diamonds_read(const char *dir, diamonds_data *d)
{
    cJSON *json = pdbx_load(dir, "diamonds-diamonds");
    double *x = NULL;
    int64_t rows = 0, cols = 0, ny = 0, one = 0;
    int rc = -1;

    d->y = d->xc = NULL;
    if (json == NULL)
        return -1;
    d->y = pdbx_array(json, "Y", 0, &ny, &one);
    x = pdbx_array(json, "X", 0, &rows, &cols);
    if (d->y == NULL || x == NULL)
        goto done;
    if (rows != ny || cols < 2) {
        fprintf(stderr, "diamonds: X is %lld x %lld for %lld values of Y\n", (long long)rows,
                (long long)cols, (long long)ny);
        goto done;
    }
    d->n = rows;
    d->p = cols - 1;
    d->xc = malloc((size_t)(d->n * d->p) * sizeof *d->xc);
    if (d->xc == NULL)
        goto done;

    /* Centring makes the intercept the mean log price at the average diamond, nearly
     * uncorrelated with b; uncentred, Intercept and b would share one more ridge. It is
     * done once, here, not in the model: rmc would also evaluate a data-only
     * subexpression once when data are bound, but plain C says it more simply. */
    pdbx_centre_predictors(x, d->n, cols, d->xc);
    rc = 0;

done:
    free(x);
    cJSON_Delete(json);
    if (rc != 0)
        diamonds_data_free(d);
    return rc;
}

/* The model for p centred predictors. Builder errors are sticky (see rmc.h), so the calls
 * need no checks one by one: the model's status at the end says whether all went well,
 * and rmc_model_error() which call failed first. */
static rmc_status diamonds_model(int64_t p, rmc_model **out)
{
    rmc_model *m;
    rmc_node zero, one, three, eight, ten;
    rmc_node b, intercept, sigma, xc, y, xb, mu;
    int64_t any = -1; /* a data size taken from the bound array */
    rmc_status status = rmc_model_create(&m);

    if (status != RMC_OK)
        return status;
    rmc_const(m, 0.0, &zero);
    rmc_const(m, 1.0, &one);
    rmc_const(m, 3.0, &three);
    rmc_const(m, 8.0, &eight);
    rmc_const(m, 10.0, &ten);

    /* Parameters, in the order of the output columns (and of posteriordb's reference). */
    rmc_param(m, "b", 1, &p, NULL, RMC_NONE, RMC_NONE, &b);
    rmc_param(m, "Intercept", 0, NULL, NULL, RMC_NONE, RMC_NONE, &intercept);
    rmc_param(m, "sigma", 0, NULL, NULL, zero, RMC_NONE, &sigma);

    /* Priors. Stan's student_t(3, 0, 10) on a sigma declared positive is a half-t; rmc
     * has it as its own distribution, normalised on [0, inf). */
    rmc_tilde(m, RMC_DIST_NORMAL, b, 2, (rmc_node[]){zero, one});
    rmc_tilde(m, RMC_DIST_STUDENT_T, intercept, 3, (rmc_node[]){three, eight, ten});
    rmc_tilde(m, RMC_DIST_HALF_STUDENT_T, sigma, 2, (rmc_node[]){three, ten});

    /* Likelihood: mu = Intercept + Xc b, one matrix-vector product per gradient. */
    rmc_data_field(m, "Xc", RMC_REAL, 2, (int64_t[]){any, p}, NULL, &xc);
    rmc_data_field(m, "Y", RMC_REAL, 1, &any, NULL, &y);
    rmc_matvec(m, xc, b, &xb);
    rmc_op2(m, RMC_OP_ADD, intercept, xb, &mu);
    rmc_tilde(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){mu, sigma});

    status = rmc_model_status(m);
    if (status != RMC_OK) {
        fprintf(stderr, "building the model failed: %s\n", rmc_model_error(m));
        rmc_model_free(m);
        return status;
    }
    *out = m;
    return RMC_OK;
}

/* Bind the arrays under the names the model's data fields use. */
static rmc_status diamonds_bind(const diamonds_data *d, rmc_data **out)
{
    rmc_data *data;
    rmc_status status = rmc_data_create(&data);

    if (status == RMC_OK)
        status = rmc_data_set(data, "Y", RMC_REAL, d->y, 1, &d->n);
    if (status == RMC_OK)
        status = rmc_data_set(data, "Xc", RMC_REAL, d->xc, 2, (int64_t[]){d->n, d->p});
    if (status != RMC_OK) {
        fprintf(stderr, "binding the data failed: %s\n", rmc_last_error());
        rmc_data_free(data);
        return status;
    }
    *out = data;
    return RMC_OK;
}

/* 4 chains of 1000 warmup and 1000 kept draws, with the reference run's settings: smaller
 * steps (target acceptance 0.99) and deeper trees (20) than the defaults (0.8 and 10), as
 * the ridge needs long trajectories of short steps. */
static void diamonds_config(rmc_config *config)
{
    rmc_config_default(config);
    config->chains = 4;
    config->warmup = 1000;
    config->draws = 1000;
    config->target_accept = 0.99;
    config->max_depth = 20;
    config->seed = 20261204;
}

#ifndef RMC_EXAMPLE_NO_MAIN
/* Report a failed call with rmc's message and leave through the cleanup label. */
#define CHECK(call)                                                                       \
    do {                                                                                  \
        rmc_status check_status_ = (call);                                                \
        if (check_status_ != RMC_OK) {                                                    \
            fprintf(stderr, "%s failed: %s: %s\n", #call, rmc_status_string(check_status_), \
                    rmc_last_error());                                                    \
            goto done;                                                                    \
        }                                                                                 \
    } while (0)

int main(int argc, char **argv)
{
    diamonds_data d;
    rmc_model *model = NULL;
    rmc_data *data = NULL;
    rmc_program *program = NULL;
    rmc_fit *fit = NULL;
    rmc_config config;
    int rc = 1;

    if (diamonds_read(pdbx_folder(argc, argv), &d) != 0)
        return 1;
    CHECK(diamonds_model(d.p, &model));
    CHECK(diamonds_bind(&d, &data));
    CHECK(rmc_program_create(model, data, &program));

    diamonds_config(&config);
    CHECK(rmc_sample(program, &config, &fit));

    const char *text = rmc_fit_summary_text(fit);
    if (text == NULL) {
        fprintf(stderr, "rmc_fit_summary_text failed: %s\n", rmc_last_error());
        goto done;
    }
    fputs(text, stdout);

    /* The summary ends with the run's size, its gradient evaluations and time, and a
     * warning if trees hit the depth limit (the steps too short for the ridge).
     * Divergent transitions would mean it was not explored faithfully. */
    const double *stats = rmc_fit_stats(fit);
    int64_t total = rmc_fit_chains(fit) * rmc_fit_draws(fit), divergent = 0;
    for (int64_t i = 0; i < total; i++)
        divergent += stats[i * RMC_STAT_COUNT + RMC_STAT_DIVERGENT] != 0.0;
    printf("divergent transitions: %lld of %lld\n", (long long)divergent, (long long)total);
    rc = 0;

done:
    /* The header does not promise that the free functions accept NULL. */
    if (fit != NULL)
        rmc_fit_free(fit);
    if (program != NULL)
        rmc_program_free(program);
    if (data != NULL)
        rmc_data_free(data);
    if (model != NULL)
        rmc_model_free(model);
    diamonds_data_free(&d);
    return rc;
}
#endif
