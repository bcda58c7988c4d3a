/* test_modelfile.c - model files from C (src/modelfile.c): the eight-schools file of
 * docs/model-files.md loads as the model the builder calls make, with exactly the same
 * log density and gradient; the files Python's save_model wrote (tests/data/model_*.json,
 * compared with the Python-built models by tests/python/test_modelfile_c.py) load, and
 * survive save and load unchanged; every bad file is refused with a message naming the
 * record, its kind and the field. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rmc.h"

#ifndef RMC_SOURCE_DIR
#define RMC_SOURCE_DIR "."
#endif

#define OK(call) assert_int_equal((call), RMC_OK)

#define assert_error(call, status, needle)                                              \
    do {                                                                                \
        rmc_status st_ = (call);                                                        \
        if (st_ != (status) || !strstr(rmc_last_error(), (needle)))                     \
            fail_msg("%s: got %s \"%s\", wanted %s mentioning \"%s\"", #call,           \
                     rmc_status_string(st_), rmc_last_error(), #status, (needle));      \
    } while (0)

/* docs/model-files.md, verbatim. */
static const char EIGHT[] =
    "{\n"
    " \"format\": \"rmc-model\",\n"
    " \"version\": 2,\n"
    " \"records\": [\n"
    "  {\"op\": \"param\", \"name\": \"mu\", \"shape\": [], \"lower\": null, \"upper\": null},\n"
    "  {\"op\": \"const\", \"value\": 0.0},\n"
    "  {\"op\": \"const\", \"value\": 5.0},\n"
    "  {\"op\": \"tilde\", \"dist\": \"normal\", \"inputs\": [0, 1, 2]},\n"
    "  {\"op\": \"param\", \"name\": \"tau\", \"shape\": [], \"lower\": 1, \"upper\": null},\n"
    "  {\"op\": \"tilde\", \"dist\": \"half_cauchy\", \"inputs\": [4, 2]},\n"
    "  {\"op\": \"param\", \"name\": \"theta_trans\", \"shape\": [\"J\"], \"lower\": null, "
    "\"upper\": null},\n"
    "  {\"op\": \"const\", \"value\": 1.0},\n"
    "  {\"op\": \"tilde\", \"dist\": \"normal\", \"inputs\": [6, 1, 7]},\n"
    "  {\"op\": \"op2\", \"fn\": \"mul\", \"inputs\": [4, 6]},\n"
    "  {\"op\": \"op2\", \"fn\": \"add\", \"inputs\": [0, 9]},\n"
    "  {\"op\": \"deterministic\", \"name\": \"theta\", \"inputs\": [10]},\n"
    "  {\"op\": \"data\", \"name\": \"y\", \"dtype\": \"real\", \"shape\": null},\n"
    "  {\"op\": \"data\", \"name\": \"sigma\", \"dtype\": \"real\", \"shape\": null},\n"
    "  {\"op\": \"tilde\", \"dist\": \"normal\", \"inputs\": [12, 10, 13]}\n"
    " ]\n"
    "}\n";

static const double Y[8] = { 28, 8, -3, 7, -1, 1, 18, 12 };
static const double SIGMA[8] = { 15, 10, 16, 11, 9, 11, 10, 18 };
static const int64_t J = 8;

/* The same model through builder calls. */
static rmc_model *eight_by_calls(void)
{
    rmc_model *m;
    rmc_node mu, c0, c5, c1, tau, tt, prod, theta, y, sigma;
    const char *jname[] = { "J" };

    OK(rmc_model_create(&m));
    OK(rmc_param(m, "mu", 0, NULL, NULL, RMC_NONE, RMC_NONE, &mu));
    OK(rmc_const(m, 0.0, &c0));
    OK(rmc_const(m, 5.0, &c5));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, mu, 2, (rmc_node[]){ c0, c5 }));
    OK(rmc_param(m, "tau", 0, NULL, NULL, c0, RMC_NONE, &tau));
    OK(rmc_tilde(m, RMC_DIST_HALF_CAUCHY, tau, 1, &c5));
    OK(rmc_param(m, "theta_trans", 1, NULL, jname, RMC_NONE, RMC_NONE, &tt));
    OK(rmc_const(m, 1.0, &c1));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, tt, 2, (rmc_node[]){ c0, c1 }));
    OK(rmc_op2(m, RMC_OP_MUL, tau, tt, &prod));
    OK(rmc_op2(m, RMC_OP_ADD, mu, prod, &theta));
    OK(rmc_deterministic(m, "theta", theta));
    OK(rmc_data_field(m, "y", RMC_REAL, -1, NULL, NULL, &y));
    OK(rmc_data_field(m, "sigma", RMC_REAL, -1, NULL, NULL, &sigma));
    OK(rmc_tilde(m, RMC_DIST_NORMAL, y, 2, (rmc_node[]){ theta, sigma }));
    return m;
}

static rmc_program *bind_eight(const rmc_model *m, rmc_data **d)
{
    rmc_program *p;
    int64_t eight = 8;

    OK(rmc_data_create(d));
    OK(rmc_data_set(*d, "y", RMC_REAL, Y, 1, &eight));
    OK(rmc_data_set(*d, "sigma", RMC_REAL, SIGMA, 1, &eight));
    OK(rmc_data_set(*d, "J", RMC_INT64, &J, 0, NULL));
    OK(rmc_program_create(m, *d, &p));
    return p;
}

/* lp and gradient of two models at a few points: bit for bit the same. */
static void assert_same_density(const rmc_model *a, const rmc_model *b)
{
    rmc_data *da, *db;
    rmc_program *pa = bind_eight(a, &da), *pb = bind_eight(b, &db);
    double x[3 * 10], lpa[3], lpb[3], ga[3 * 10], gb[3 * 10], ca[18], cb[18];

    assert_int_equal(rmc_program_dim(pa), 10);
    assert_int_equal(rmc_program_dim(pb), 10);
    assert_int_equal(rmc_program_num_columns(pa), rmc_program_num_columns(pb));
    for (int i = 0; i < 30; i++)
        x[i] = 0.4 * sin(1.3 * i + 0.7);
    OK(rmc_program_logp_grad(pa, 3, x, lpa, ga));
    OK(rmc_program_logp_grad(pb, 3, x, lpb, gb));
    assert_true(isfinite(lpa[0]));
    assert_memory_equal(lpa, lpb, sizeof lpa);
    assert_memory_equal(ga, gb, sizeof ga);
    OK(rmc_program_constrain(pa, x, ca));
    OK(rmc_program_constrain(pb, x, cb));
    assert_memory_equal(ca, cb, sizeof ca);
    for (int64_t c = 0; c < rmc_program_num_columns(pa); c++)
        assert_string_equal(rmc_program_column_name(pa, c), rmc_program_column_name(pb, c));
    rmc_program_free(pa);
    rmc_program_free(pb);
    rmc_data_free(da);
    rmc_data_free(db);
}

static void eight_schools_from_the_docs(void **state)
{
    rmc_model *file, *calls = eight_by_calls();

    OK(rmc_model_load_json(EIGHT, strlen(EIGHT), &file));
    assert_same_density(file, calls);
    rmc_model_free(file);
    rmc_model_free(calls);
}

/* Saved and loaded again, the model is the same, and saving it again gives the same text
 * (deterministics move to the end once, then stay). */
static void save_and_load_again(void **state)
{
    rmc_model *m = eight_by_calls(), *again, *third;
    char *text, *text2;

    OK(rmc_model_save_json(m, &text));
    assert_non_null(strstr(text, "\"format\": \"rmc-model\""));
    OK(rmc_model_load_json(text, strlen(text), &again));
    assert_same_density(m, again);
    OK(rmc_model_save_json(again, &text2));
    assert_string_equal(text, text2);
    OK(rmc_model_load_json(text2, strlen(text2), &third));
    assert_same_density(m, third);
    rmc_model_json_free(text);
    rmc_model_json_free(text2);
    rmc_model_free(m);
    rmc_model_free(again);
    rmc_model_free(third);
}

/* Python's files: each loads, and its saved text loads and saves to itself. */
static void python_files_load(void **state)
{
    static const char *const names[] = { "eight_schools", "logistic", "hierarchical",
                                          "mixture", "garch", "correlated" };

    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char path[1024];
        rmc_model *m, *again;
        char *text, *text2;

        snprintf(path, sizeof path, "%s/tests/data/model_%s.json", RMC_SOURCE_DIR, names[k]);
        if (rmc_model_load_file(path, &m) != RMC_OK)
            fail_msg("%s: %s", path, rmc_last_error());
        OK(rmc_model_save_json(m, &text));
        if (rmc_model_load_json(text, strlen(text), &again) != RMC_OK)
            fail_msg("%s saved again: %s\n%s", path, rmc_last_error(), text);
        OK(rmc_model_save_json(again, &text2));
        assert_string_equal(text, text2);
        rmc_model_json_free(text);
        rmc_model_json_free(text2);
        rmc_model_free(m);
        rmc_model_free(again);
    }
}

/* EIGHT with the text at `from` (the first occurrence) replaced by `to`. */
static char *edited(const char *from, const char *to)
{
    const char *at = strstr(EIGHT, from);
    size_t n = strlen(EIGHT) + strlen(to) + 1;
    char *s = malloc(n);

    assert_non_null(at);
    assert_non_null(s);
    snprintf(s, n, "%.*s%s%s", (int)(at - EIGHT), EIGHT, to, at + strlen(from));
    return s;
}

static const struct bad_case {
    const char *from, *to;
    rmc_status status;
    const char *message;
} BAD[] = {
    { "rmc-model", "other", RMC_ERR_ARGUMENT, "not an rmc model file" },
    { "\"version\": 2", "\"version\": 99", RMC_ERR_ARGUMENT,
      "model file version 99 is not supported" },
    { "\"version\": 2", "\"version\": \"2\"", RMC_ERR_ARGUMENT, "version \"2\" is not" },
    { "\"op\": \"param\", \"name\": \"mu\"", "\"op\": \"parm\", \"name\": \"mu\"",
      RMC_ERR_ARGUMENT, "record 0: unknown kind \"parm\"; known kinds: param, data" },
    { "\"inputs\": [0, 1, 2]", "\"inputs\": [0, 1]", RMC_ERR_ARGUMENT,
      "record 3 (tilde): normal takes the value and 2 argument(s): 3 inputs, got 2" },
    { "\"fn\": \"mul\", \"inputs\": [4, 6]", "\"fn\": \"mul\", \"inputs\": [4]",
      RMC_ERR_ARGUMENT, "record 9 (op2): takes 2 input(s), got 1" },
    { "\"inputs\": [4, 6]", "\"inputs\": [4, 16]", RMC_ERR_ARGUMENT,
      "record 9 (op2): input 16 is not an earlier record" },
    { "\"inputs\": [4, 6]", "\"inputs\": [4, 9]", RMC_ERR_ARGUMENT,
      "record 9 (op2): input 9 is not an earlier record" },
    { "\"inputs\": [4, 6]", "\"inputs\": [4, -1]", RMC_ERR_ARGUMENT,
      "record 9 (op2): input -1 is not an earlier record" },
    { "\"inputs\": [4, 6]", "\"inputs\": [4, 3]", RMC_ERR_ARGUMENT,
      "record 9 (op2): input 3 is record 3 (tilde), which stands for no value" },
    { "\"inputs\": [4, 6]", "\"inputs\": [4, \"6\"]", RMC_ERR_ARGUMENT,
      "record 9 (op2): input 1 must be a record index, got \"6\"" },
    { "\"inputs\": [4, 6]", "\"inputs\": 4", RMC_ERR_ARGUMENT,
      "record 9 (op2): \"inputs\" must be a list of record indexes, got 4" },
    { "\"fn\": \"mul\"", "\"fn\": \"mull\"", RMC_ERR_ARGUMENT,
      "record 9 (op2): \"fn\" must be one of add, sub, mul" },
    { "\"fn\": \"mul\"", "\"fun\": \"mul\"", RMC_ERR_ARGUMENT,
      "record 9 (op2): missing \"fn\" (one of add" },
    { "\"fn\": \"mul\"", "\"fn\": \"exp\"", RMC_ERR_ARGUMENT,
      "record 9 (op2): fn \"exp\" takes 1 input(s): its record kind is op1" },
    { "\"dist\": \"half_cauchy\"", "\"dist\": \"halfcauchy\"", RMC_ERR_ARGUMENT,
      "record 5 (tilde): \"dist\" must be one of normal, half_normal" },
    { "\"value\": 5.0", "\"value\": \"5\"", RMC_ERR_ARGUMENT,
      "record 2 (const): \"value\" must be a number, got \"5\"" },
    { "\"value\": 5.0", "\"valu\": 5.0", RMC_ERR_ARGUMENT,
      "record 2 (const): missing \"value\" (a number)" },
    { "\"name\": \"tau\"", "\"name\": 7", RMC_ERR_ARGUMENT,
      "record 4 (param): \"name\" must be a non-empty string, got 7" },
    { "\"name\": \"tau\"", "\"name\": \"\"", RMC_ERR_ARGUMENT,
      "record 4 (param): \"name\" must be a non-empty string" },
    { "\"shape\": [\"J\"]", "\"shape\": [0]", RMC_ERR_ARGUMENT,
      "record 6 (param): \"shape\" must be null or a list of at most 2 sizes" },
    { "\"shape\": [\"J\"]", "\"shape\": [1, 2, 3]", RMC_ERR_ARGUMENT,
      "record 6 (param): \"shape\" must be" },
    { "\"shape\": [\"J\"]", "\"shape\": [2.5]", RMC_ERR_ARGUMENT,
      "record 6 (param): \"shape\" must be" },
    { "\"lower\": 1,", "\"lower\": 3,", RMC_ERR_ARGUMENT,
      "record 4 (param): \"lower\" is record 3 (tilde), which stands for no value" },
    { "\"lower\": 1,", "\"lower\": 4,", RMC_ERR_ARGUMENT,
      "record 4 (param): \"lower\" must be null or an earlier record, got 4" },
    { "\"lower\": 1,", "", RMC_ERR_ARGUMENT,
      "record 4 (param): missing \"lower\" (null or an earlier record)" },
    { "\"dtype\": \"real\"", "\"dtype\": \"float\"", RMC_ERR_ARGUMENT,
      "record 12 (data): \"dtype\" must be one of real, int, got \"float\"" },
    { "\"name\": \"theta\"", "\"name\": \"mu\"", RMC_ERR_MODEL,
      "record 11 (deterministic): the model does not build: duplicate name 'mu'" },
    { "\"name\": \"tau\"", "\"name\": \"mu\"", RMC_ERR_MODEL,
      "record 4 (param): the model does not build: duplicate parameter name 'mu'" },
    { "\"name\": \"tau\"", "\"name\": \"t[1]\"", RMC_ERR_ARGUMENT,
      "record 4 (param): the model does not build: parameter name must be" },
    { "\"records\": [", "\"records\": 3, \"x\": [", RMC_ERR_ARGUMENT,
      "\"records\" must be a non-empty list" },
    { "{\"op\": \"const\", \"value\": 0.0}", "7", RMC_ERR_ARGUMENT,
      "record 1 must be an object with an \"op\"" },
    { "\"version\": 2,", "\"version\": 2,,", RMC_ERR_ARGUMENT,
      "not valid JSON (line 3, column" },
    { "\n}\n", "\n}\n{}", RMC_ERR_ARGUMENT, "not valid JSON (line 22, column 1)" },
};

static void bad_files_name_the_culprit(void **state)
{
    for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
        char *text = edited(BAD[k].from, BAD[k].to);
        rmc_model *m = (rmc_model *)&m;  /* not NULL: the loader must clear it */
        rmc_status st = rmc_model_load_json(text, strlen(text), &m);

        if (st != BAD[k].status || !strstr(rmc_last_error(), BAD[k].message))
            fail_msg("case %zu: got %s \"%s\", wanted %s mentioning \"%s\"", k,
                     rmc_status_string(st), rmc_last_error(), rmc_status_string(BAD[k].status),
                     BAD[k].message);
        assert_null(m);
        free(text);
    }
}

/* Version 1 files load, unless they hold the old kind of index record; scans must close;
 * a scan_row must name the open scan's own sequence. */
static void versions_and_scans(void **state)
{
    rmc_model *m;
    static const char v1[] =
        "{\"format\": \"rmc-model\", \"version\": 1, \"records\": ["
        "{\"op\": \"param\", \"name\": \"a\", \"shape\": [], \"lower\": null, \"upper\": null}]}";
    static const char v1_index[] =
        "{\"format\": \"rmc-model\", \"version\": 1, \"records\": ["
        "{\"op\": \"param\", \"name\": \"a\", \"shape\": [3], \"lower\": null, \"upper\": null},"
        "{\"op\": \"index\", \"i\": 0, \"inputs\": [0]}]}";
    static const char open_scan[] =
        "{\"format\": \"rmc-model\", \"version\": 2, \"records\": ["
        "{\"op\": \"param\", \"name\": \"a\", \"shape\": [], \"lower\": null, \"upper\": null},"
        "{\"op\": \"scan_begin\", \"inputs\": [0]}]}";
    static const char wrong_row[] =
        "{\"format\": \"rmc-model\", \"version\": 2, \"records\": ["
        "{\"op\": \"param\", \"name\": \"a\", \"shape\": [3], \"lower\": null, \"upper\": null},"
        "{\"op\": \"const\", \"value\": 0.0},"
        "{\"op\": \"scan_begin\", \"inputs\": [1, 0]},"
        "{\"op\": \"scan_row\", \"k\": 1, \"inputs\": [2, 0]}]}";
    static const char stray_end[] =
        "{\"format\": \"rmc-model\", \"version\": 2, \"records\": ["
        "{\"op\": \"param\", \"name\": \"a\", \"shape\": [], \"lower\": null, \"upper\": null},"
        "{\"op\": \"scan_end\", \"inputs\": [0, 0]}]}";

    OK(rmc_model_load_json(v1, strlen(v1), &m));
    rmc_model_free(m);
    assert_error(rmc_model_load_json(v1_index, strlen(v1_index), &m), RMC_ERR_ARGUMENT,
                 "version 1 model file indexes with fixed index vectors");
    assert_error(rmc_model_load_json(open_scan, strlen(open_scan), &m), RMC_ERR_ARGUMENT,
                 "the file ends inside a scan: the scan_begin of record 1 has no scan_end");
    assert_error(rmc_model_load_json(wrong_row, strlen(wrong_row), &m), RMC_ERR_ARGUMENT,
                 "record 3 (scan_row): \"k\" must be a sequence of the scan (0 to 0), got 1");
    assert_error(rmc_model_load_json(stray_end, strlen(stray_end), &m), RMC_ERR_ARGUMENT,
                 "record 1 (scan_end): input 0 must be the open scan_begin record (there is "
                 "none)");
}

static void files_and_arguments(void **state)
{
    rmc_model *m;
    char *text;

    assert_error(rmc_model_load_file("/nonexistent/m.json", &m), RMC_ERR_ARGUMENT,
                 "/nonexistent/m.json: cannot read: No such file");
    assert_null(m);
    assert_error(rmc_model_load_file(RMC_SOURCE_DIR "/README.md", &m), RMC_ERR_ARGUMENT,
                 "README.md: not valid JSON (line 1, column 1)");
    assert_error(rmc_model_load_json(NULL, 0, &m), RMC_ERR_ARGUMENT, "text is NULL");
    assert_error(rmc_model_load_json("{}", 2, NULL), RMC_ERR_ARGUMENT, "out is NULL");
    assert_error(rmc_model_load_json(EIGHT, 0, &m), RMC_ERR_ARGUMENT, "not valid JSON");
    /* A prefix of the text is not a file either; the byte after it is never read. */
    assert_error(rmc_model_load_json(EIGHT, 40, &m), RMC_ERR_ARGUMENT, "not valid JSON");
    assert_error(rmc_model_save_json(NULL, &text), RMC_ERR_ARGUMENT, "model is NULL");
    OK(rmc_model_create(&m));
    assert_error(rmc_param(m, "a", 5, NULL, NULL, RMC_NONE, RMC_NONE, &(rmc_node){ 0 }),
                 RMC_ERR_ARGUMENT, "ndim");
    assert_error(rmc_model_save_json(m, &text), RMC_ERR_ARGUMENT, "the model has an error");
    assert_null(text);
    rmc_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(eight_schools_from_the_docs),
        cmocka_unit_test(save_and_load_again),
        cmocka_unit_test(python_files_load),
        cmocka_unit_test(bad_files_name_the_culprit),
        cmocka_unit_test(versions_and_scans),
        cmocka_unit_test(files_and_arguments),
    };
    rmc_model *m;

    /* A library built without cJSON cannot load: skip (77), saying why. */
    if (rmc_model_load_json("{}", 2, &m) == RMC_ERR_BACKEND) {
        printf("skipped: %s\n", rmc_last_error());
        return 77;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
