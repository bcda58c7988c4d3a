/*
 * posteriordb_json.h - reading a posteriordb data file (NAME.data.json) for the C examples.
 *
 * rmc binds plain C arrays; getting them out of a file is the caller's business. The
 * posteriordb examples read the published JSON with cJSON (Debian: libcjson-dev) through
 * these few helpers, which copy a field into a freshly allocated array the caller frees.
 * Every helper prints what went wrong and returns NULL (or -1) on failure.
 *
 * Header-only (static inline functions), so that an example is one .c file plus this header.
 */
#ifndef RMC_EXAMPLE_POSTERIORDB_JSON_H
#define RMC_EXAMPLE_POSTERIORDB_JSON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#ifndef RMC_POSTERIORDB_DEFAULT
#define RMC_POSTERIORDB_DEFAULT "../shared/posteriordb"
#endif

/* The posteriordb folder: the first command-line argument, else $RMC_POSTERIORDB, else
 * the folder configured at build time. */
static inline const char *pdbx_folder(int argc, char **argv)
{
    const char *env = getenv("RMC_POSTERIORDB");

    if (argc > 1)
        return argv[1];
    return env != NULL && *env != 0 ? env : RMC_POSTERIORDB_DEFAULT;
}

/* Parse DIR/NAME.data.json. Free the result with cJSON_Delete(). */
static inline cJSON *pdbx_load(const char *dir, const char *name)
{
    char path[4096];
    FILE *fp;
    char *text = NULL;
    long len = -1;
    cJSON *json = NULL;

    snprintf(path, sizeof path, "%s/%s.data.json", dir, name);
    fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "cannot open %s (pass the posteriordb folder as the first argument "
                        "or set RMC_POSTERIORDB)\n", path);
        return NULL;
    }
    if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0)
        text = malloc((size_t)len + 1);
    if (text != NULL && fread(text, 1, (size_t)len, fp) == (size_t)len) {
        text[len] = 0;
        json = cJSON_Parse(text);
    }
    fclose(fp);
    free(text);
    if (json == NULL)
        fprintf(stderr, "%s: unreadable or not JSON\n", path);
    return json;
}

/* An integer scalar field; -1 (with a message) when absent or not a number. */
static inline int64_t pdbx_int(const cJSON *json, const char *field)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, field);

    if (!cJSON_IsNumber(item)) {
        fprintf(stderr, "data field '%s' is missing or not a number\n", field);
        return -1;
    }
    return (int64_t)item->valuedouble;
}

/* A numeric vector, or a matrix given as a list of equal rows, copied row-major into a new
 * array of doubles (as_int = 0) or of int64_t (as_int = 1). *rows and *cols get its shape
 * (cols = 1 for a vector). */
static inline void *pdbx_array(const cJSON *json, const char *field, int as_int,
                               int64_t *rows, int64_t *cols)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(json, field);
    const cJSON *row, *v;
    int64_t r, c, i = 0;
    void *out;

    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) == 0) {
        fprintf(stderr, "data field '%s' is missing or not a non-empty list\n", field);
        return NULL;
    }
    r = cJSON_GetArraySize(item);
    c = cJSON_IsArray(item->child) ? cJSON_GetArraySize(item->child) : 1;
    out = calloc((size_t)(r * c), as_int ? sizeof(int64_t) : sizeof(double));
    if (out == NULL) {
        fprintf(stderr, "data field '%s': out of memory\n", field);
        return NULL;
    }
    cJSON_ArrayForEach(row, item) {
        /* In a matrix every row is a list of c numbers; a vector's rows are its numbers. */
        int is_list = cJSON_IsArray(row);
        int64_t n = is_list ? cJSON_GetArraySize(row) : 1;

        if (is_list != cJSON_IsArray(item->child) || n != c) {
            fprintf(stderr, "data field '%s': rows of unequal length\n", field);
            free(out);
            return NULL;
        }
        for (v = is_list ? row->child : row; n-- > 0; v = v->next) {
            if (!cJSON_IsNumber(v)) {
                fprintf(stderr, "data field '%s': element %lld is not a number\n", field,
                        (long long)i);
                free(out);
                return NULL;
            }
            if (as_int)
                ((int64_t *)out)[i++] = (int64_t)v->valuedouble;
            else
                ((double *)out)[i++] = v->valuedouble;
        }
    }
    *rows = r;
    *cols = c;
    return out;
}

/* xc[rows][cols - 1] = the columns of x[rows][cols] after its first (an intercept's ones),
 * each less its mean: the centred predictors of a brms-style regression such as diamonds. */
static inline void pdbx_centre_predictors(const double *x, int64_t rows, int64_t cols,
                                          double *xc)
{
    for (int64_t k = 1; k < cols; k++) {
        double mean = 0.0;

        for (int64_t i = 0; i < rows; i++)
            mean += x[i * cols + k];
        mean /= (double)rows;
        for (int64_t i = 0; i < rows; i++)
            xc[i * (cols - 1) + k - 1] = x[i * cols + k] - mean;
    }
}

#endif
