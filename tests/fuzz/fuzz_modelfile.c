/* fuzz_modelfile.c - a libFuzzer harness over loading a model from its JSON form
 * (rmc_model_load_json, src/modelfile.c), and over what a loaded model allows: writing it
 * back (rmc_model_save_json), loading that text again, binding it to a fixed data set and
 * evaluating the log density and gradient.
 *
 * The input is the file's text. The loader must refuse what is wrong with a status and a
 * message, and never crash, leak or read out of bounds (ASan, UBSan). One property is
 * checked beyond that: a model the loader accepts is written as text that loads again and
 * is written the same way (a writer that loses or garbles a record aborts here).
 *
 * Built twice, like fuzz_model.c: with libFuzzer (RMC_FUZZ, clang), and with a plain
 * main() replaying files, which is how ctest runs the corpus (corpus_modelfile/) in every
 * build. tests/fuzz/README.md says how to run it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "rmc.h"

/* Larger programs are bound but not evaluated, to keep executions fast. */
#define MAX_EVAL_DIM 64
/* Models declaring more elements than this are loaded and saved but not bound: binding
 * names every column, so a parameter of 10^8 elements (a valid model, found by the first
 * run) needs gigabytes, past the fuzzer's memory limit; the same goes for a scan's tape of
 * 10^8 steps. fuzz_model.c covers binding at absurd sizes. */
#define MAX_BIND_ELEMENTS ((int64_t)1 << 16)

/* Data under the names the seed models read, in shapes that fit most of them; a model
 * that wants other data fails to bind, which is a path worth fuzzing too. */
static const int64_t N3 = 3, N4 = 4, N2 = 2;
static const int64_t G_IDX[4] = { 1, 3, 2, 1 };
static const int64_t COUNTS[4] = { 0, 1, 1, 0 };
static const double VEC4[4] = { 0.5, -1.0, 2.0, 0.25 };
static const double POS4[4] = { 1.0, 2.0, 0.5, 3.0 };
static const double MAT43[12] = { 0.1, 0.2, 0.3, -0.4, 0.5, 0.6, 0.7, -0.8, 0.9, 1.0, 1.1, 1.2 };

static rmc_data *fixed_data(void)
{
    rmc_data *d;
    int64_t four = 4, mat[2] = { 4, 3 };

    if (rmc_data_create(&d) != RMC_OK)
        return NULL;
    rmc_data_set(d, "J", RMC_INT64, &N4, 0, NULL);
    rmc_data_set(d, "G", RMC_INT64, &N3, 0, NULL);
    rmc_data_set(d, "T", RMC_INT64, &N4, 0, NULL);
    rmc_data_set(d, "K", RMC_INT64, &N2, 0, NULL);
    rmc_data_set(d, "N", RMC_INT64, &N4, 0, NULL);
    rmc_data_set(d, "y", RMC_REAL, VEC4, 1, &four);
    rmc_data_set(d, "x", RMC_REAL, VEC4, 1, &four);
    rmc_data_set(d, "sigma", RMC_REAL, POS4, 1, &four);
    rmc_data_set(d, "sigma1", RMC_REAL, POS4, 0, NULL);
    rmc_data_set(d, "g", RMC_INT64, G_IDX, 1, &four);
    rmc_data_set(d, "n", RMC_INT64, COUNTS, 1, &four);
    rmc_data_set(d, "X", RMC_REAL, MAT43, 2, mat);
    rmc_data_set(d, "Y", RMC_REAL, MAT43, 2, mat);
    return d;
}

/* Whether every parameter and scan is small enough to bind (sizes named by data are at
 * most 4 in fixed_data()). */
static int small_enough(const rmc_model *m)
{
    for (int32_t i = 0; i < m->n_nodes; i++) {
        const struct node *nd = &m->nodes[i];
        int64_t n = 1;

        if (nd->kind != NODE_PARAM && nd->kind != NODE_SCAN)
            continue;
        for (int32_t d = 0; d < nd->ndim && d < RMC_MAX_DIMS; d++) {
            if (!nd->dim_names[d] && nd->dims[d] > MAX_BIND_ELEMENTS)
                return 0;
            n *= nd->dim_names[d] || nd->dims[d] < 1 ? 4 : nd->dims[d];
        }
        if (n > MAX_BIND_ELEMENTS)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The outcome of loading, for the replay's -v. */
static rmc_status load_status;
static char load_message[256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rmc_model *m = NULL, *again = NULL;
    rmc_program *p = NULL;
    rmc_data *d;
    char *text = NULL, *text2 = NULL;

    load_status = rmc_model_load_json((const char *)data, size, &m);
    snprintf(load_message, sizeof load_message, "%s", load_status ? rmc_last_error() : "");
    if (load_status != RMC_OK) {
        if (m)
            abort(); /* a failed load must leave *out NULL */
        return 0;
    }
    /* Written back, loaded again, written the same way. */
    if (rmc_model_save_json(m, &text) != RMC_OK) {
        fprintf(stderr, "save failed: %s\n", rmc_last_error());
        abort();
    }
    if (rmc_model_load_json(text, strlen(text), &again) != RMC_OK) {
        fprintf(stderr, "saved text does not load: %s\n%s\n", rmc_last_error(), text);
        abort();
    }
    if (rmc_model_save_json(again, &text2) != RMC_OK || strcmp(text, text2) != 0) {
        fprintf(stderr, "saved twice, differently:\n%s\n%s\n", text, text2 ? text2 : "");
        abort();
    }
    rmc_model_json_free(text);
    rmc_model_json_free(text2);
    rmc_model_free(again);

    d = small_enough(m) ? fixed_data() : NULL;
    if (d && rmc_program_create(m, d, &p) == RMC_OK) {
        int64_t dim = rmc_program_dim(p);

        rmc_model_free(m); /* programs outlive their model */
        m = NULL;
        if (dim >= 0 && dim <= MAX_EVAL_DIM) {
            double x[MAX_EVAL_DIM + 1], g[MAX_EVAL_DIM + 1], lp;

            for (int64_t i = 0; i < dim; i++)
                x[i] = 0.3 * sin(1.7 * (double)i + 0.2);
            rmc_program_logp_grad(p, 1, x, &lp, g);
        }
        rmc_program_free(p);
    }
    rmc_data_free(d);
    rmc_model_free(m);
    return 0;
}

#ifndef RMC_LIBFUZZER
/* Replay: each argument is an input file; -v first prints how loading went. Fails only
 * when a file cannot be read (a crash fails by itself). */
int main(int argc, char **argv)
{
    int failed = 0, verbose = argc > 1 && strcmp(argv[1], "-v") == 0;

    for (int a = 1 + verbose; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        uint8_t *buf;
        long len;

        if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
            fseek(f, 0, SEEK_SET) != 0) {
            fprintf(stderr, "cannot read %s\n", argv[a]);
            failed = 1;
            if (f)
                fclose(f);
            continue;
        }
        /* Exactly len bytes, no terminator: the loader must not read past its length. */
        buf = malloc(len ? (size_t)len : 1);
        if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
            fprintf(stderr, "cannot read %s\n", argv[a]);
            failed = 1;
        } else {
            LLVMFuzzerTestOneInput(buf, (size_t)len);
            if (verbose)
                printf("%s: %s %s\n", argv[a], rmc_status_string(load_status), load_message);
        }
        free(buf);
        fclose(f);
    }
    printf("replayed %d input(s)\n", argc - 1 - verbose);
    return failed;
}
#endif
