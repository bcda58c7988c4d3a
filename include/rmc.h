/*
 * rmc.h - the public C interface of rmc, a many-chain Bayesian sampler.
 *
 * Overview
 * --------
 * A model is a graph of nodes: parameters, data fields, constants, operations and
 * distribution statements ("value ~ dist(args)"). It is built once with the rmc_model_*
 * calls and never changes afterwards.
 *
 * Data are bound by name into an rmc_data set. The set stores the caller's pointers,
 * not copies: the arrays must stay alive and unchanged while any program made from them
 * exists.
 *
 * rmc_program_create() binds a model to a data set: it resolves every shape, validates
 * names, sizes, index ranges and observed values, orders the nodes and evaluates every
 * data-only subexpression once. The program evaluates the log density and its gradient on
 * the unconstrained space for a batch of positions, and rmc_sample() runs chains on it.
 *
 * Errors
 * ------
 * Every fallible call returns an rmc_status. On failure, rmc_last_error() returns a
 * message naming the culprit (parameter, data field, index); the text is owned by the
 * library and is kept per thread until the next failing call in that thread. The library
 * never aborts, exits or prints on its own; messages go to the log callback.
 *
 * Model building is sticky: after a builder call fails, the model remembers the first
 * error, later builder calls return it again without doing anything, and
 * rmc_program_create() refuses the model with that message. A C program may therefore
 * build a whole model and check once.
 *
 * Threads
 * -------
 * A finished model and a program are read-only and may be shared by any number of
 * threads; rmc_sample() may run concurrently on the same program. A data set, a model
 * under construction and a fit must not be modified by two threads at once.
 */
#ifndef RMC_H
#define RMC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RMC_API __attribute__((visibility("default")))
#else
#define RMC_API
#endif

#define RMC_VERSION_MAJOR 0
#define RMC_VERSION_MINOR 1
#define RMC_VERSION_PATCH 0

/* The library's version as "MAJOR.MINOR.PATCH". */
RMC_API const char *rmc_version(void);

/* ---------------------------------------------------------------- status and errors */

typedef enum rmc_status {
    RMC_OK = 0,
    RMC_ERR_ARGUMENT,  /* a bad argument: NULL, unknown enum, out-of-range setting    */
    RMC_ERR_MODEL,     /* the model is invalid: duplicate name, wrong arity, no parameters */
    RMC_ERR_SHAPE,     /* operand shapes do not agree                                  */
    RMC_ERR_DATA,      /* a data field is missing, mis-shaped, non-finite or out of range */
    RMC_ERR_NOMEM,     /* an allocation failed, or a size would exceed memory            */
    RMC_ERR_INIT,      /* no initial point with a finite log density and gradient        */
    RMC_ERR_BACKEND,   /* the requested backend is unavailable or failed                 */
    RMC_ERR_CANCELLED, /* the run was cancelled; the fit holds the draws made so far      */
    RMC_ERR_CALLBACK,  /* a user callback reported failure                               */
    RMC_ERR_INTERNAL,  /* a bug in rmc; the message says where                           */
} rmc_status;

/* A short constant name for a status ("RMC_ERR_DATA"). */
RMC_API const char *rmc_status_string(rmc_status status);

/* The message of the most recent failing call made by this thread ("" if none). Owned by
 * the library; valid until the next failing call in the same thread. */
RMC_API const char *rmc_last_error(void);

typedef enum rmc_log_level {
    RMC_LOG_DEBUG = 0,
    RMC_LOG_INFO,
    RMC_LOG_WARN,
    RMC_LOG_ERROR,
} rmc_log_level;

typedef void (*rmc_log_fn)(rmc_log_level level, const char *message, void *user);

/* Route library messages to fn (NULL: drop them, the default). Process-wide; the callback
 * may be called from any thread, one call at a time. */
RMC_API void rmc_set_log_callback(rmc_log_fn fn, void *user);

/* ---------------------------------------------------------------- model graph */

typedef struct rmc_model rmc_model;

/* A node of a model graph, as returned by the builder calls. */
typedef int32_t rmc_node;

/* "No node": an absent bound, an absent optional argument. */
#define RMC_NONE ((rmc_node) - 1)

/* Largest number of dimensions of any node. */
#define RMC_MAX_DIMS 2

typedef enum rmc_dtype {
    RMC_REAL = 0, /* double (float64)       */
    RMC_INT32,    /* int32_t, integer data  */
    RMC_INT64,    /* int64_t, integer data  */
} rmc_dtype;

typedef enum rmc_op {
    /* binary, elementwise, broadcasting a scalar against a vector */
    RMC_OP_ADD = 0,
    RMC_OP_SUB,
    RMC_OP_MUL,
    RMC_OP_DIV,
    RMC_OP_POW,
    RMC_OP_MIN,
    RMC_OP_MAX,
    /* unary, elementwise */
    RMC_OP_NEG = 16,
    RMC_OP_EXP,
    RMC_OP_LOG,
    RMC_OP_LOG1P,
    RMC_OP_SQRT,
    RMC_OP_SQUARE,
    RMC_OP_LOGISTIC,  /* 1 / (1 + exp(-x))   */
    RMC_OP_LGAMMA,    /* log |Gamma(x)|      */
    RMC_OP_EXPM1,     /* exp(x) - 1          */
    RMC_OP_LOG1P_EXP, /* log(1 + exp(x))     */
    RMC_OP_TANH,
    RMC_OP_ABS,
    /* reductions */
    RMC_OP_SUM = 32,
    RMC_OP_DOT,
    RMC_OP_LOG_SUM_EXP, /* log(sum(exp(x))), without overflow */
    /* ternary, elementwise */
    RMC_OP_LOG_MIX = 48, /* log(theta exp(a) + (1 - theta) exp(b)); (theta, a, b) */
} rmc_op;

typedef enum rmc_dist {
    RMC_DIST_NORMAL = 0,     /* (mu, sigma)                                    */
    RMC_DIST_HALF_NORMAL,    /* (sigma); value >= 0                             */
    RMC_DIST_CAUCHY,         /* (location, scale)                              */
    RMC_DIST_HALF_CAUCHY,    /* (scale); value >= 0                             */
    RMC_DIST_STUDENT_T,      /* (nu, mu, sigma)                                */
    RMC_DIST_UNIFORM,        /* (lower, upper)                                 */
    RMC_DIST_EXPONENTIAL,    /* (rate)                                         */
    RMC_DIST_BERNOULLI,      /* (p); value in {0, 1}                            */
    RMC_DIST_BERNOULLI_LOGIT,/* (logit p); value in {0, 1}                      */
    RMC_DIST_COUNT
} rmc_dist;

/* Create an empty model. Free it with rmc_model_free(). */
RMC_API rmc_status rmc_model_create(rmc_model **out);

/* Free a model. Programs made from it stay valid (they hold what they need). */
RMC_API void rmc_model_free(rmc_model *model);

/* The first error recorded by a builder call on this model, or RMC_OK. The message is
 * available from rmc_model_error(). */
RMC_API rmc_status rmc_model_status(const rmc_model *model);
RMC_API const char *rmc_model_error(const rmc_model *model);

/*
 * Shapes. ndim is 0 (scalar), 1 (vector) or 2 (matrix, row-major). dims[i] > 0 fixes a
 * size. A size may instead come from an integer data scalar: set dim_names[i] to its
 * name (dims[i] is then ignored). For data fields dims[i] = -1 means "whatever the bound
 * array has". dims and dim_names may be NULL when ndim is 0; dim_names may be NULL.
 */

/* A parameter. lower and upper are bound nodes (constants for now) or RMC_NONE.
 * Without a distribution statement on it, a parameter has a flat prior on its range. */
RMC_API rmc_status rmc_param(rmc_model *model, const char *name, int32_t ndim,
                             const int64_t *dims, const char *const *dim_names,
                             rmc_node lower, rmc_node upper, rmc_node *out);

/* A data field, read from the bound data set under this name. ndim -1 takes the rank and
 * sizes from the bound array, whatever they are. dtype RMC_REAL accepts
 * real data, and integer data as reals; an integer dtype (RMC_INT32 or RMC_INT64, both
 * mean "integer") requires integer data. */
RMC_API rmc_status rmc_data_field(rmc_model *model, const char *name, rmc_dtype dtype,
                                  int32_t ndim, const int64_t *dims,
                                  const char *const *dim_names, rmc_node *out);

/* A real constant scalar, or a constant vector of n values (copied). */
RMC_API rmc_status rmc_const(rmc_model *model, double value, rmc_node *out);
RMC_API rmc_status rmc_const_vector(rmc_model *model, const double *values, int64_t n,
                                    rmc_node *out);

/* Elementwise binary op (RMC_OP_ADD .. RMC_OP_MAX), unary op (RMC_OP_NEG ..
 * RMC_OP_ABS), reduction (RMC_OP_SUM, RMC_OP_LOG_SUM_EXP through rmc_op1; RMC_OP_DOT
 * through rmc_op2), or ternary op (RMC_OP_LOG_MIX). Elementwise ops broadcast scalars. */
RMC_API rmc_status rmc_op2(rmc_model *model, rmc_op op, rmc_node a, rmc_node b, rmc_node *out);
RMC_API rmc_status rmc_op1(rmc_model *model, rmc_op op, rmc_node a, rmc_node *out);
RMC_API rmc_status rmc_op3(rmc_model *model, rmc_op op, rmc_node a, rmc_node b, rmc_node c,
                           rmc_node *out);

/* out[i] = vec[index[i] - base]: a gather by an integer data vector. base is 1 for
 * Stan-style one-based indexes, 0 for zero-based. Every index is checked at bind time. */
RMC_API rmc_status rmc_gather(rmc_model *model, rmc_node vec, rmc_node index, int32_t base,
                              rmc_node *out);

/* out = vec[begin:end], zero-based and half-open, as a vector; and out = vec[i] as a
 * scalar. The range is checked at bind time, when the vector's length is known. */
RMC_API rmc_status rmc_slice(rmc_model *model, rmc_node vec, int64_t begin, int64_t end,
                             rmc_node *out);
RMC_API rmc_status rmc_index(rmc_model *model, rmc_node vec, int64_t i, rmc_node *out);

/* out = matrix * vec, for a data matrix (rows x cols) and a vector of length cols. */
RMC_API rmc_status rmc_matvec(rmc_model *model, rmc_node matrix, rmc_node vec, rmc_node *out);

/* Add "value ~ dist(args...)" to the log density. value may be a parameter, an
 * expression of parameters, or data (a likelihood). Each argument broadcasts: a scalar
 * against a vector value, or a vector of the value's length. */
RMC_API rmc_status rmc_tilde(rmc_model *model, rmc_dist dist, rmc_node value, int32_t nargs,
                             const rmc_node *args);

/* The elementwise log density of value under dist(args...), as an expression with the
 * value's shape (Stan's normal_lpdf on each element), for mixtures and custom likelihoods.
 * Elements outside the support are -inf. */
RMC_API rmc_status rmc_lpdf(rmc_model *model, rmc_dist dist, rmc_node value, int32_t nargs,
                            const rmc_node *args, rmc_node *out);

/* Add sum(node) to the log density (Stan's `target +=`). */
RMC_API rmc_status rmc_target(rmc_model *model, rmc_node node);

/* Record node's value in the draws under name (Stan's transformed parameters). */
RMC_API rmc_status rmc_deterministic(rmc_model *model, const char *name, rmc_node node);

/* ---------------------------------------------------------------- data */

typedef struct rmc_data rmc_data;

RMC_API rmc_status rmc_data_create(rmc_data **out);
RMC_API void rmc_data_free(rmc_data *data);

/* Bind an array by name: ptr points to prod(shape) values of dtype, row-major. Not
 * copied: ptr must stay valid and unchanged while any program made from this set lives.
 * Setting a name again replaces the earlier binding. */
RMC_API rmc_status rmc_data_set(rmc_data *data, const char *name, rmc_dtype dtype,
                                const void *ptr, int32_t ndim, const int64_t *shape);

/* ---------------------------------------------------------------- programs */

typedef struct rmc_program rmc_program;

/* Bind model to data and compile. Fails with RMC_ERR_DATA naming the field for a missing
 * field, a wrong shape, a non-finite or out-of-range value or index. */
RMC_API rmc_status rmc_program_create(const rmc_model *model, const rmc_data *data,
                                      rmc_program **out);

/* A batched log density supplied by the user: for each of batch positions x[b][dim],
 * write lp[b] and grad[b][dim]. Return 0 on success, non-zero to stop the run with
 * RMC_ERR_CALLBACK. Called from sampler threads, possibly concurrently: it must be
 * thread-safe. A non-finite lp rejects the position. */
typedef int (*rmc_logp_fn)(int64_t batch, int64_t dim, const double *x, double *lp,
                           double *grad, void *user);

/* A program over a user callback: dim unconstrained parameters named "x[1]".."x[dim]"
 * reported as they are. user must outlive the program. */
RMC_API rmc_status rmc_program_from_callback(int64_t dim, rmc_logp_fn fn, void *user,
                                             rmc_program **out);

RMC_API void rmc_program_free(rmc_program *program);

/* Number of unconstrained coordinates the sampler moves. */
RMC_API int64_t rmc_program_dim(const rmc_program *program);

/* Log density and gradient on the unconstrained space for batch positions (row-major
 * [batch][dim]). grad may be NULL. Thread-safe. A position outside the support gives
 * lp = -inf, not an error. */
RMC_API rmc_status rmc_program_logp_grad(const rmc_program *program, int64_t batch,
                                         const double *x, double *lp, double *grad);

/* Output columns: every element of every parameter (constrained) and deterministic node,
 * in declaration order, parameters first. Names are one-based, like "theta[3]". */
RMC_API int64_t rmc_program_num_columns(const rmc_program *program);
RMC_API const char *rmc_program_column_name(const rmc_program *program, int64_t column);

/* Output variables (a parameter or deterministic as a whole): name, shape, and the first
 * column it occupies. */
RMC_API int64_t rmc_program_num_vars(const rmc_program *program);
RMC_API rmc_status rmc_program_var(const rmc_program *program, int64_t var, const char **name,
                                   int32_t *ndim, int64_t dims[RMC_MAX_DIMS],
                                   int64_t *first_column);

/* Map an unconstrained position to the output columns (constrained parameters and
 * deterministics), and constrained parameter values (the parameter columns only) back to
 * the unconstrained space. */
RMC_API rmc_status rmc_program_constrain(const rmc_program *program, const double *x,
                                         double *columns);
RMC_API rmc_status rmc_program_unconstrain(const rmc_program *program, const double *params,
                                           double *x);

/* ---------------------------------------------------------------- sampling */

typedef enum rmc_sampler {
    RMC_SAMPLER_NUTS = 0, /* no-U-turn sampler, multinomial, generalized U-turn    */
    RMC_SAMPLER_HMC,      /* static HMC, fixed integration time                   */
} rmc_sampler;

typedef enum rmc_backend {
    RMC_BACKEND_AUTO = 0, /* the CPU backend until a GPU backend is built in     */
    RMC_BACKEND_CPU,
} rmc_backend;

/* Progress report: iterations done over all chains, and their total. Return non-zero to
 * cancel. Called from the thread that called rmc_sample(), at most every 100 ms. */
typedef int (*rmc_progress_fn)(int64_t done, int64_t total, void *user);

/* Sampler settings. Fill with rmc_config_default(), then change what you need. */
typedef struct rmc_config {
    int32_t sampler;        /* rmc_sampler; RMC_SAMPLER_NUTS                           */
    int32_t backend;        /* rmc_backend; RMC_BACKEND_AUTO                           */
    int64_t chains;         /* >= 1; 4                                                 */
    int64_t draws;          /* kept draws per chain, >= 1; 1000                        */
    int64_t warmup;         /* warmup iterations per chain, >= 0; 1000                 */
    int64_t thin;           /* keep every thin-th draw, >= 1; 1                        */
    uint64_t seed;          /* fixes every draw, whatever the thread count; 1          */
    int32_t threads;        /* 0: one per core                                        */
    int32_t max_depth;      /* NUTS tree depth limit, 1..30; 10                       */
    double target_accept;   /* dual averaging target, in (0, 1); 0.8                  */
    double step_size;       /* initial step size, > 0; 1                              */
    int32_t adapt_metric;   /* estimate a diagonal mass matrix in warmup; 1           */
    int32_t hmc_steps;      /* static HMC: leapfrog steps per iteration, >= 1; 16     */
    double init_radius;     /* inits uniform in (-r, r) unconstrained, >= 0; 2        */
    const double *init;     /* NULL, or [chains][dim] unconstrained initial points    */
    int32_t init_tries;     /* random inits tried per chain before RMC_ERR_INIT; 100  */
    rmc_progress_fn progress; /* NULL, or progress and cancellation callback          */
    void *progress_user;
    const volatile int32_t *cancel; /* NULL, or a flag: non-zero stops the run soon   */
} rmc_config;

RMC_API void rmc_config_default(rmc_config *config);

typedef struct rmc_fit rmc_fit;

/* Sampler statistics per draw, in this order. */
typedef enum rmc_stat {
    RMC_STAT_LP = 0,
    RMC_STAT_ACCEPT,
    RMC_STAT_STEP_SIZE,
    RMC_STAT_TREE_DEPTH,
    RMC_STAT_N_LEAPFROG,
    RMC_STAT_DIVERGENT,
    RMC_STAT_ENERGY,
    RMC_STAT_COUNT
} rmc_stat;

/* Per-column summary figures, in this order. */
typedef enum rmc_summary_field {
    RMC_SUM_MEAN = 0,
    RMC_SUM_SD,
    RMC_SUM_Q5,
    RMC_SUM_Q50,
    RMC_SUM_Q95,
    RMC_SUM_MCSE_MEAN,
    RMC_SUM_ESS_BULK,
    RMC_SUM_ESS_TAIL,
    RMC_SUM_RHAT,
    RMC_SUM_COUNT
} rmc_summary_field;

/* Run the sampler. On RMC_OK or RMC_ERR_CANCELLED *out holds a fit (free it with
 * rmc_fit_free); a cancelled fit keeps every completed draw. On other errors *out is
 * NULL. Thread-safe for distinct fits. */
RMC_API rmc_status rmc_sample(const rmc_program *program, const rmc_config *config,
                              rmc_fit **out);

RMC_API void rmc_fit_free(rmc_fit *fit);

RMC_API int64_t rmc_fit_chains(const rmc_fit *fit);
/* Draws per chain stored (after thinning). A cancelled run may have fewer completed in
 * some chains: see rmc_fit_completed(). */
RMC_API int64_t rmc_fit_draws(const rmc_fit *fit);
RMC_API int64_t rmc_fit_completed(const rmc_fit *fit, int64_t chain);
RMC_API int64_t rmc_fit_num_columns(const rmc_fit *fit);
RMC_API const char *rmc_fit_column_name(const rmc_fit *fit, int64_t column);
/* 1 if the run was cancelled. */
RMC_API int32_t rmc_fit_cancelled(const rmc_fit *fit);

/* The draws, [chains][draws][columns], and statistics, [chains][draws][RMC_STAT_COUNT],
 * owned by the fit. */
RMC_API const double *rmc_fit_values(const rmc_fit *fit);
RMC_API const double *rmc_fit_stats(const rmc_fit *fit);

/* Adapted step size and diagonal inverse metric (dim values) of a chain. */
RMC_API rmc_status rmc_fit_adaptation(const rmc_fit *fit, int64_t chain, double *step_size,
                                      double *inv_metric);

/* Gradient evaluations over all chains, warmup included; sampling wall time in seconds. */
RMC_API int64_t rmc_fit_num_gradients(const rmc_fit *fit);
RMC_API double rmc_fit_seconds(const rmc_fit *fit);

/* Summary of every column, written to out[columns][RMC_SUM_COUNT]: mean, sd, 5/50/95%
 * quantiles, MCSE of the mean, bulk and tail ESS, rank-normalised split R-hat (Vehtari et
 * al. 2021), over completed draws. */
RMC_API rmc_status rmc_fit_summary(const rmc_fit *fit, double *out);

/* The summary as a printable table, owned by the fit, valid until it is freed. */
RMC_API const char *rmc_fit_summary_text(rmc_fit *fit);

/* ---------------------------------------------------------------- diagnostics */

/* Diagnostics of one quantity from draws[chains][draws] (chain-major, contiguous). */
RMC_API double rmc_rhat(const double *draws, int64_t chains, int64_t draws_per_chain);
RMC_API double rmc_ess_bulk(const double *draws, int64_t chains, int64_t draws_per_chain);
RMC_API double rmc_ess_tail(const double *draws, int64_t chains, int64_t draws_per_chain);

#ifdef __cplusplus
}
#endif

#endif /* RMC_H */
