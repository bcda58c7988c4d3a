/*
 * first_draw.c - latency of rmc's C API on the quick-start model: from the first builder
 * call to the first draw in hand. Built and run by bench/compare/run.py (cc against
 * build/librmc.so); prints one line of seconds:
 *
 *     build <s> program <s> first_draw <s> total <s>
 *
 * Usage: first_draw [auto|cpu] - the backend asked for (default auto, as rmc_config_default
 * gives; auto looks for a Vulkan device first, which is part of the latency a user sees).
 *
 * build: rmc_model_create .. the last rmc_tilde; program: data binding and
 * rmc_program_create (compilation); first_draw: rmc_sample with 1 chain, no warmup, 1 draw,
 * 1 thread (initialisation, one NUTS transition, the fit). The data (N = 1000, simulated as
 * in examples/quickstart.c) are made before the clock starts.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rmc.h"

#define N 1000

#define CHECK(call)                                                                       \
    do {                                                                                  \
        if ((call) != RMC_OK) {                                                           \
            fprintf(stderr, "%s failed: %s\n", #call, rmc_last_error());                  \
            return 1;                                                                     \
        }                                                                                 \
    } while (0)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static double std_normal(uint64_t *state)
{
    double u1 = ((double)(next_u64(state) >> 11) + 0.5) * 0x1.0p-53;
    double u2 = ((double)(next_u64(state) >> 11) + 0.5) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.28318530717958647693 * u2);
}

int main(int argc, char **argv)
{
    static double x[N], y[N];
    uint64_t state = 12345;
    for (int i = 0; i < N; i++) {
        x[i] = std_normal(&state);
        y[i] = 2.5 * x[i] + std_normal(&state);
    }

    double t0 = now();
    rmc_model *model;
    rmc_node beta, xs, ys, zero, one, mean;
    int64_t any = -1;
    CHECK(rmc_model_create(&model));
    CHECK(rmc_param(model, "beta", 0, NULL, NULL, RMC_NONE, RMC_NONE, &beta));
    CHECK(rmc_data_field(model, "x", RMC_REAL, 1, &any, NULL, &xs));
    CHECK(rmc_data_field(model, "y", RMC_REAL, 1, &any, NULL, &ys));
    CHECK(rmc_const(model, 0.0, &zero));
    CHECK(rmc_const(model, 1.0, &one));
    CHECK(rmc_tilde(model, RMC_DIST_NORMAL, beta, 2, (rmc_node[]){zero, one}));
    CHECK(rmc_op2(model, RMC_OP_MUL, beta, xs, &mean));
    CHECK(rmc_tilde(model, RMC_DIST_NORMAL, ys, 2, (rmc_node[]){mean, one}));
    double t1 = now();

    rmc_data *data;
    rmc_program *program;
    int64_t n = N;
    CHECK(rmc_data_create(&data));
    CHECK(rmc_data_set(data, "x", RMC_REAL, x, 1, &n));
    CHECK(rmc_data_set(data, "y", RMC_REAL, y, 1, &n));
    CHECK(rmc_program_create(model, data, &program));
    double t2 = now();

    rmc_config config;
    rmc_config_default(&config);
    config.chains = 1;
    config.warmup = 0;
    config.draws = 1;
    config.threads = 1;
    config.seed = 2024;
    if (argc > 1 && strcmp(argv[1], "cpu") == 0) {
        config.backend = RMC_BACKEND_CPU;
    } else if (argc > 1 && strcmp(argv[1], "auto") != 0) {
        fprintf(stderr, "usage: first_draw [auto|cpu]\n");
        return 2;
    }
    rmc_fit *fit;
    CHECK(rmc_sample(program, &config, &fit));
    const double *values = rmc_fit_values(fit);
    double first = values[0];
    double t3 = now();

    printf("build %.9f program %.9f first_draw %.9f total %.9f\n", t1 - t0, t2 - t1,
           t3 - t2, t3 - t0);
    fprintf(stderr, "first draw of beta: %g\n", first);
    rmc_fit_free(fit);
    rmc_program_free(program);
    rmc_data_free(data);
    rmc_model_free(model);
    return 0;
}
