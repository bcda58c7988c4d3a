/* posteriordb.c - posteriordb files and the reference rule for the C tests. */
#include "posteriordb.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RMC_POSTERIORDB_DEFAULT
#define RMC_POSTERIORDB_DEFAULT "../shared/posteriordb"
#endif

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long len;

    if (!fp)
        return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)len + 1);
        if (buf && fread(buf, 1, (size_t)len, fp) == (size_t)len) {
            buf[len] = 0;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(fp);
    return buf;
}

const char *pdb_dir(void)
{
    const char *env = getenv("RMC_POSTERIORDB");
    const char *dir = env && *env ? env : RMC_POSTERIORDB_DEFAULT;
    char probe[4096];
    FILE *fp;

    snprintf(probe, sizeof probe, "%s/eight_schools-eight_schools_noncentered.data.json", dir);
    fp = fopen(probe, "rb");
    if (!fp)
        return NULL;
    fclose(fp);
    return dir;
}

cJSON *pdb_load(const char *name, const char *suffix)
{
    const char *dir = pdb_dir();
    char path[4096];
    char *text;
    cJSON *json;

    if (!dir)
        return NULL;
    snprintf(path, sizeof path, "%s/%s.%s.json", dir, name, suffix);
    text = read_file(path);
    if (!text)
        return NULL;
    json = cJSON_Parse(text);
    free(text);
    return json;
}

void pdb_control(const cJSON *reference, rmc_config *config)
{
    const cJSON *info = cJSON_GetObjectItemCaseSensitive(reference, "reference_info");
    const cJSON *control = cJSON_GetObjectItemCaseSensitive(info, "control");
    const cJSON *delta = cJSON_GetObjectItemCaseSensitive(control, "adapt_delta");
    const cJSON *depth = cJSON_GetObjectItemCaseSensitive(control, "max_treedepth");

    if (cJSON_IsNumber(delta))
        config->target_accept = delta->valuedouble;
    if (cJSON_IsNumber(depth))
        config->max_depth = depth->valueint;
}

int pdb_check(rmc_fit *fit, const cJSON *reference, char *report, size_t cap)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(reference, "parameters");
    const int64_t ncol = rmc_fit_num_columns(fit), chains = rmc_fit_chains(fit);
    const int64_t draws = rmc_fit_draws(fit);
    const double *stats = rmc_fit_stats(fit);
    double *sum = calloc((size_t)ncol, RMC_SUM_COUNT * sizeof *sum);
    const cJSON *p;
    size_t used = 0;
    int failures = 0;
    int64_t divergent = 0;

#define REPORT(...)                                                                     \
    do {                                                                                \
        if (used < cap)                                                                 \
            used += (size_t)snprintf(report + used, cap - used, __VA_ARGS__);           \
        failures++;                                                                     \
    } while (0)

    if (cap)
        report[0] = 0;
    if (!sum || rmc_fit_summary(fit, sum) != RMC_OK || !params) {
        free(sum);
        REPORT("no summary or no reference parameters\n");
        return failures;
    }
    cJSON_ArrayForEach(p, params) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(p, "mean");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(p, "sd");
        int64_t j;

        for (j = 0; j < ncol && strcmp(rmc_fit_column_name(fit, j), p->string) != 0; j++)
            ;
        if (j == ncol) {
            REPORT("%s: no such column in the fit\n", p->string);
            continue;
        }
        {
            const double *r = sum + j * RMC_SUM_COUNT;
            double tol = fmax(0.1 * s->valuedouble, 4.0 * r[RMC_SUM_MCSE_MEAN]);
            double err = fabs(r[RMC_SUM_MEAN] - m->valuedouble);
            double ratio = r[RMC_SUM_SD] / s->valuedouble;

            if (!(err <= tol))
                REPORT("%s: mean %.5g vs reference %.5g (|diff| %.3g > tol %.3g)\n", p->string,
                       r[RMC_SUM_MEAN], m->valuedouble, err, tol);
            if (!(fabs(ratio - 1.0) <= 0.1))
                REPORT("%s: sd %.5g vs reference %.5g (ratio %.3f)\n", p->string,
                       r[RMC_SUM_SD], s->valuedouble, ratio);
            if (!(r[RMC_SUM_RHAT] < 1.01))
                REPORT("%s: R-hat %.4f\n", p->string, r[RMC_SUM_RHAT]);
        }
    }
    for (int64_t i = 0; i < chains * draws; i++)
        divergent += stats[i * RMC_STAT_COUNT + RMC_STAT_DIVERGENT] != 0.0;
    if (!((double)divergent < 0.005 * (double)(chains * draws)))
        REPORT("%lld divergent draws of %lld\n", (long long)divergent,
               (long long)(chains * draws));
#undef REPORT
    free(sum);
    return failures;
}

rmc_status pdb_bind(rmc_data *data, const cJSON *json, const char *field, int as_int,
                    void ***keep, int *n_keep)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, field);
    int64_t n = cJSON_IsArray(item) ? cJSON_GetArraySize(item) : 1;
    int64_t shape[1] = { n };
    void *buf = as_int ? calloc((size_t)n, sizeof(int64_t)) : calloc((size_t)n, sizeof(double));
    void **grown = realloc(*keep, (size_t)(*n_keep + 1) * sizeof *grown);
    const cJSON *v;
    int64_t i = 0;

    if (grown)
        *keep = grown;
    if (!item || !buf || !grown) {
        free(buf);
        return RMC_ERR_DATA;
    }
    (*keep)[(*n_keep)++] = buf;
    if (cJSON_IsArray(item)) {
        cJSON_ArrayForEach(v, item) {
            if (as_int)
                ((int64_t *)buf)[i++] = (int64_t)v->valuedouble;
            else
                ((double *)buf)[i++] = v->valuedouble;
        }
    } else if (as_int) {
        ((int64_t *)buf)[0] = (int64_t)item->valuedouble;
    } else {
        ((double *)buf)[0] = item->valuedouble;
    }
    return rmc_data_set(data, field, as_int ? RMC_INT64 : RMC_REAL, buf,
                        cJSON_IsArray(item) ? 1 : 0, shape);
}

void pdb_free_kept(void **keep, int n_keep)
{
    for (int i = 0; i < n_keep; i++)
        free(keep[i]);
    free(keep);
}
