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
    RMC_DIST_GAMMA,          /* (alpha shape, beta rate); value > 0              */
    RMC_DIST_INV_GAMMA,      /* (alpha shape, beta scale); value > 0             */
    RMC_DIST_LOGNORMAL,      /* (mu, sigma) of log value; value > 0              */
    RMC_DIST_BETA,           /* (a, b); value in (0, 1)                          */
    RMC_DIST_LAPLACE,        /* (mu, scale)                                      */
    RMC_DIST_LOGISTIC,       /* (mu, scale)                                      */
    RMC_DIST_WEIBULL,        /* (alpha shape, sigma scale); value > 0            */
    RMC_DIST_HALF_STUDENT_T, /* (nu, sigma); value >= 0                          */
    RMC_DIST_BINOMIAL,       /* (N trials, p); integer data value in 0..N        */
    RMC_DIST_BINOMIAL_LOGIT, /* (N trials, logit p); integer data value in 0..N  */
    RMC_DIST_POISSON,        /* (lambda rate); integer data value >= 0           */
    RMC_DIST_POISSON_LOG,    /* (log rate); integer data value >= 0              */
    RMC_DIST_NEG_BINOMIAL_2, /* (mu mean, phi); var mu + mu^2/phi; integer data >= 0 */
    RMC_DIST_NEG_BINOMIAL_2_LOG, /* (eta log mean, phi); integer data value >= 0  */
    RMC_DIST_CATEGORICAL_LOGIT,  /* (logits: vector[K] or matrix[N, K]); integer data
                                  * scalar or vector[N] in 1..K                   */
    RMC_DIST_MULTI_NORMAL_CHOLESKY, /* (mu vector[K], L lower Cholesky factor of the
                                     * covariance, K x K); value vector[K] or N x K rows */
    RMC_DIST_DIRICHLET,      /* (alpha vector[K]); value vector[K] on the simplex, or
                              * N x K rows, each on the simplex                   */
    RMC_DIST_LKJ_CORR_CHOLESKY, /* (eta); value K x K Cholesky factor of a correlation
                                 * matrix                                          */
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

/* A parameter. lower and upper are bound nodes or RMC_NONE. A bound is any earlier node:
 * a constant, data, or an expression of other parameters (GARCH's beta1 < 1 - alpha1), and
 * either a scalar or an array of the parameter's shape. The map to the bounded range is
 * lower + exp(u), upper - exp(u) or lower + (upper - lower) logistic(u), its log-Jacobian
 * is part of the density, and its derivative reaches the bound's own parameters. A bound
 * on data only must be finite (and lower below upper) when data are bound; a bound that
 * depends on parameters is checked at each evaluation, and a point where it fails has log
 * density -inf. Without a distribution statement on it, a parameter has a flat prior on
 * its range. */
RMC_API rmc_status rmc_param(rmc_model *model, const char *name, int32_t ndim,
                             const int64_t *dims, const char *const *dim_names,
                             rmc_node lower, rmc_node upper, rmc_node *out);

/* Constrained parameter shapes. Each maps free coordinates u onto its set; the declared
 * shape is the constrained one, and the sampler moves the free coordinates. Constrained
 * values in the draws and in rmc_program_unconstrain() are those of the declared shape. */
typedef enum rmc_transform {
    RMC_TRANSFORM_NONE = 0,       /* unconstrained: rmc_param without bounds              */
    /* vector[K], K free: x[1] = u[1], x[k] = x[k-1] + exp(u[k]); strictly increasing     */
    RMC_TRANSFORM_ORDERED,
    /* vector[K], K free: x[1] = exp(u[1]), x[k] = x[k-1] + exp(u[k]); positive, increasing */
    RMC_TRANSFORM_POSITIVE_ORDERED,
    /* vector[K], K >= 2, K - 1 free: positive elements summing to 1, by stick-breaking
     * (Stan's): z[k] = logistic(u[k] - log(K - k)), x[k] = z[k] (1 - x[1] - ... - x[k-1]),
     * x[K] the rest; u = 0 is the uniform simplex                                       */
    RMC_TRANSFORM_SIMPLEX,
    /* matrix[K, K], K >= 2, K (K - 1) / 2 free (row by row over the strict lower
     * triangle): the Cholesky factor L of a correlation matrix, lower triangular with
     * rows of unit norm and a positive diagonal, from canonical partial correlations
     * tanh(u) (as in Stan). Densities on L are with respect to its strict lower triangle,
     * the convention of Stan's lkj_corr_cholesky: with no statement on it, L is uniform
     * in that measure (for K = 2, the correlation is uniform on (-1, 1); for K > 2 this
     * is not LKJ(1), which needs the LKJ density on L).                                 */
    RMC_TRANSFORM_CHOLESKY_CORR,
} rmc_transform;

/* A parameter of a constrained shape (see rmc_transform). dims and dim_names as for
 * rmc_param; ndim is 1 for the vector transforms and 2, with equal sizes, for
 * RMC_TRANSFORM_CHOLESKY_CORR. Such a parameter takes no bounds. */
RMC_API rmc_status rmc_param_transform(rmc_model *model, const char *name, int32_t ndim,
                                       const int64_t *dims, const char *const *dim_names,
                                       rmc_transform transform, rmc_node *out);

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

/* out = matrix * vec, for a matrix (rows x cols) and a vector of length cols. Either may
 * be data or depend on parameters. */
RMC_API rmc_status rmc_matvec(rmc_model *model, rmc_node matrix, rmc_node vec, rmc_node *out);

/*
 * Vectors and matrices. Matrices are row-major; indexes are zero-based. Every operand may
 * be data or depend on parameters unless said otherwise. Shapes are checked at bind time,
 * and a mismatch is an RMC_ERR_SHAPE naming the node and its operands' shapes.
 */

/* out = vec^T * matrix: a vector of length cols, for vec of length rows. */
RMC_API rmc_status rmc_vecmat(rmc_model *model, rmc_node vec, rmc_node matrix, rmc_node *out);

/* out = a * b, the matrix product of a (rows x inner) and b (inner x cols). */
RMC_API rmc_status rmc_matmul(rmc_model *model, rmc_node a, rmc_node b, rmc_node *out);

/* out = matrix^T. */
RMC_API rmc_status rmc_transpose(rmc_model *model, rmc_node matrix, rmc_node *out);

/* Row i (a vector of length cols) or column j (length rows) of a matrix. */
RMC_API rmc_status rmc_row(rmc_model *model, rmc_node matrix, int64_t i, rmc_node *out);
RMC_API rmc_status rmc_col(rmc_model *model, rmc_node matrix, int64_t j, rmc_node *out);

/* out = vec[first : n - last]: the vector without its first `first` and last `last`
 * elements, for a length n known only at bind time. With last = k this is the lag of an
 * AR(k) term (vec[t - k] for t = k .. n - 1), and first = k gives the values it predicts;
 * at least one element must remain. */
RMC_API rmc_status rmc_drop(rmc_model *model, rmc_node vec, int64_t first, int64_t last,
                            rmc_node *out);

/* out = [a, b]: two vectors (or scalars) joined into one vector. */
RMC_API rmc_status rmc_concat(rmc_model *model, rmc_node a, rmc_node b, rmc_node *out);

/* out[r, c] = vec[r] * matrix[r, c], i.e. diag(vec) * matrix: the Cholesky factor of a
 * covariance from scales vec and a correlation factor (Stan's diag_pre_multiply). */
RMC_API rmc_status rmc_diag_pre_multiply(rmc_model *model, rmc_node vec, rmc_node matrix,
                                         rmc_node *out);

/* The lower-triangular Cholesky factor L (L L^T = matrix, positive diagonal, zeros above)
 * of a symmetric positive-definite matrix. Only the lower triangle of the input is read.
 * A data-only input must be symmetric and positive definite at bind time (else
 * RMC_ERR_DATA naming the node); an input that depends on parameters and is not positive
 * definite at some point gives that point a log density of -inf, so the sampler rejects
 * it. */
RMC_API rmc_status rmc_cholesky(rmc_model *model, rmc_node matrix, rmc_node *out);

/* out = L \ b, the solution x of L x = b by forward substitution, for a lower-triangular
 * L (K x K; its upper triangle is not read) and b a vector of K or a matrix of K rows. A
 * zero on the diagonal is a bind-time error for data and a log density of -inf
 * otherwise. */
RMC_API rmc_status rmc_tri_solve(rmc_model *model, rmc_node lower, rmc_node b, rmc_node *out);

/* The exponentiated-quadratic covariance over the points of a data vector x (length N):
 * out[i, j] = alpha^2 exp(-(x[i] - x[j])^2 / (2 rho^2)), plus delta on the diagonal (a
 * jitter, >= 0, that keeps the matrix numerically positive definite). alpha and rho are
 * scalars, usually parameters; x must be data (TODO: inputs that depend on parameters
 * need the derivative in x, which no model has asked for yet). */
RMC_API rmc_status rmc_cov_exp_quad(rmc_model *model, rmc_node x, rmc_node alpha, rmc_node rho,
                                    double delta, rmc_node *out);

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

/* A recurrence (scan): state[t] = step(state[t-1], rows t of the sequences), t = 1..T,
 * with state[0] = init, as for GARCH volatilities, ARMA errors or an HMM's forward pass.
 *
 * rmc_scan_begin() returns a node for the previous state (init's shape) and, for each of
 * up to two sequences (vectors: a scalar row; matrices: a row vector), a node for the
 * current row. The nodes built after it form the step: any ops over those nodes and over
 * earlier nodes (parameters, data), but no parameters, statements or deterministics.
 * rmc_scan_end() closes the step at `next` (the new state, init's shape) and returns the
 * states 1..T: a vector of T for a scalar state, else a T x S matrix. T is the sequences'
 * length; without sequences it is `steps`, or the integer data scalar `steps_name`.
 * Reverse mode runs back through the steps from values kept per step, with no allocation
 * per step; nodes of a step cannot be used outside it. */
RMC_API rmc_status rmc_scan_begin(rmc_model *model, rmc_node init, int32_t n_seq,
                                  const rmc_node *seqs, rmc_node *state, rmc_node *inputs);
RMC_API rmc_status rmc_scan_end(rmc_model *model, rmc_node next, int64_t steps,
                                const char *steps_name, rmc_node *out);

/* Record node's value in the draws under name (Stan's transformed parameters). */
RMC_API rmc_status rmc_deterministic(rmc_model *model, const char *name, rmc_node node);

/* ---------------------------------------------------------------- model files
 *
 * A model's JSON form (docs/model-files.md): {"format": "rmc-model", "version": 2,
 * "records": [...]}, one record per builder call, as Python's rmc.save_model writes it.
 * Versions 1 and 2 load; loading replays the records through the builder calls above, so
 * a file gives the same model, and the same draws for a seed, in C and in Python. */

/* Check and build a model from JSON text of len bytes (no terminating NUL needed). On
 * RMC_OK *out is a finished model, owned by the caller (rmc_model_free). On failure *out
 * is NULL and rmc_last_error() names what is wrong and where, as
 * "record 3 (tilde): \"dist\" must be one of ..., got \"normel\"": RMC_ERR_ARGUMENT for
 * text that is not JSON, not a model file, of an unsupported version, or with a record
 * of an unknown kind, the wrong number of inputs, an input that is not an earlier record
 * with a value, or a missing or mistyped attribute; the builder's own status (such as
 * RMC_ERR_MODEL for a name declared twice) for a record it refuses, prefixed the same
 * way; RMC_ERR_NOMEM; RMC_ERR_BACKEND when librmc was built without cJSON. text is only
 * read during the call. Thread-safe: calls on different texts may run at once. */
RMC_API rmc_status rmc_model_load_json(const char *text, size_t len, rmc_model **out);

/* rmc_model_load_json() on the contents of a file; messages start with the path, and a
 * file that cannot be read is an RMC_ERR_ARGUMENT naming the system's reason. */
RMC_API rmc_status rmc_model_load_file(const char *path, rmc_model **out);

/* The model as JSON text, written to *out (NUL-terminated, owned by the caller: free it
 * with rmc_model_json_free). rmc_model_load_json() and Python's rmc.load_model read it
 * back as the same model: the same parameters, data, columns and log density. The records
 * need not be those the model was built from: a data field declared twice is written
 * once, and deterministics come last (in their order). Works without cJSON. Fails with
 * the model's own error for a model whose building failed, and RMC_ERR_MODEL inside an
 * open scan. Reads the model only: may run while other threads read it. */
RMC_API rmc_status rmc_model_save_json(const rmc_model *model, char **out);
RMC_API void rmc_model_json_free(char *text);

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
    RMC_SAMPLER_CHEES,    /* ChEES-HMC: all chains in lockstep with one jittered
                           * trajectory length adapted across chains (chains >= 2;
                           * target_accept applies to the harmonic mean of the
                           * chains' acceptance, for which 0.651 is the usual choice) */
    RMC_SAMPLER_MEADS,    /* MEADS: generalized HMC, no tuning settings; 4 folds of
                           * chains adapted from each other's statistics (chains >= 8) */
    RMC_SAMPLER_AUTO,     /* the default: CHEES for 64 chains or more, else NUTS (with
                           * many chains NUTS keeps every batch waiting for its longest
                           * trajectory); target_accept then applies as for that one */
} rmc_sampler;

typedef enum rmc_backend {
    RMC_BACKEND_AUTO = 0, /* a GPU through Vulkan when one is usable, else the CPU    */
    RMC_BACKEND_CPU,
    RMC_BACKEND_VULKAN,   /* Vulkan only: fails with RMC_ERR_BACKEND when unusable    */
} rmc_backend;

/* Progress report: iterations done over all chains, and their total. Return non-zero to
 * cancel. Called from the thread that called rmc_sample(), at most every 100 ms. */
typedef int (*rmc_progress_fn)(int64_t done, int64_t total, void *user);

/** A fuller progress report, for progress bars: what rmc_progress_fn says, the warmup
 *  share of it and the divergences so far. Filled by the library; valid during the call. */
typedef struct rmc_progress_info {
    int64_t done;            /**< iterations finished over all chains, warmup included */
    int64_t total;           /**< chains x (warmup + draws x thin)                     */
    int64_t warmup_done;     /**< of done, warmup iterations                           */
    int64_t warmup_total;    /**< chains x warmup                                      */
    int64_t divergent;       /**< divergent transitions among the kept draws so far    */
    double seconds;          /**< since rmc_sample() was called                        */
} rmc_progress_info;

/** Receives an rmc_progress_info; same rules as rmc_progress_fn: called from the thread
 *  that called rmc_sample(), at most every 100 ms and once at the end of an uncancelled
 *  run; return non-zero to cancel. */
typedef int (*rmc_progress_info_fn)(const rmc_progress_info *info, void *user);

/** Kept draws handed to the caller chunk by chunk, in draw order, from the thread that
 *  called rmc_sample(): draws [first, first + count) of every chain, as
 *  values[chains][count][columns] (the fit's columns) and stats[chains][count][RMC_STAT_COUNT].
 *  The arrays belong to the library and are valid during the call only. Return non-zero to
 *  stop the run; it then ends as a cancellation (RMC_ERR_CANCELLED), every draw made before
 *  having been delivered. */
typedef int (*rmc_draws_fn)(int64_t first, int64_t count, int64_t chains, int64_t columns,
                            const double *values, const double *stats, void *user);

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
    int32_t device;         /* Vulkan device: 0 chooses (see "Devices" below), k > 0 is
                             * device k - 1 of rmc_devices(); rmc_device_find() maps a
                             * name to it. (Sits in what was padding: the layout of the
                             * other fields is unchanged.)                           */
    rmc_progress_fn progress; /* NULL, or progress and cancellation callback          */
    void *progress_user;
    const volatile int32_t *cancel; /* NULL, or a flag: non-zero stops the run soon   */
    rmc_progress_info_fn progress_info; /* NULL, or a fuller progress callback, given
                                         * progress_user; may be set with progress  */
    /* The memory plan. By default the fit keeps every kept draw (chains x draws x
     * columns doubles, refused up front when absurd); thin keeps fewer. With draws_fn
     * (sampler ChEES only, for now), the draws are also streamed chunk by chunk, and
     * keep_draws = 0 keeps none in the fit, so that memory stays bounded by the chunk
     * whatever chains x draws. */
    rmc_draws_fn draws_fn;   /* NULL, or receives the kept draws chunk by chunk         */
    void *draws_user;
    int64_t chunk_draws;     /* draws per chunk, >= 0; 0: as many as fit in 64 MiB      */
    int32_t keep_draws;      /* 1: the fit keeps the draws; 0 (needs draws_fn): not; 1  */
} rmc_config;

/* The cancel flag is read atomically (__atomic_load_n, relaxed) by the thread in
 * rmc_sample() while the run lasts. Another thread that raises it must store it atomically
 * too, e.g. __atomic_store_n(&flag, 1, __ATOMIC_RELAXED), or the two accesses are a data
 * race under C11. (An aligned int32 store from another language, such as the Python
 * wrapper's ctypes store, is a single instruction on every supported CPU.) */

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
 * rmc_fit_free); a cancelled fit keeps every completed draw. When the Vulkan device was
 * asked for explicitly (RMC_BACKEND_VULKAN) and fails after sampling began (a lost device),
 * the result is RMC_ERR_BACKEND and *out holds the fit of the draws made so far, marked
 * cancelled; with RMC_BACKEND_AUTO the run goes on with the CPU backend instead. On other
 * errors *out is NULL. Thread-safe for distinct fits. */
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

/* The backend that ran (RMC_BACKEND_CPU or RMC_BACKEND_VULKAN); the device, as
 * "cpu (4 threads)" or "NVIDIA H200, float64"; and why that backend was used, e.g.
 * "auto: no Vulkan driver found (...); using the CPU". Strings owned by the fit. A run that
 * moved to the CPU midway reports RMC_BACKEND_CPU and says why. */
RMC_API int32_t rmc_fit_backend(const rmc_fit *fit);
RMC_API const char *rmc_fit_device(const rmc_fit *fit);
RMC_API const char *rmc_fit_backend_reason(const rmc_fit *fit);

/* Gradient evaluations over all chains, warmup included; sampling wall time in seconds. */
RMC_API int64_t rmc_fit_num_gradients(const rmc_fit *fit);
RMC_API double rmc_fit_seconds(const rmc_fit *fit);

/* Lockstep batches (a device): the share of the batch slots that held no useful
 * evaluation, because a chain had finished its trajectory (NUTS) or stopped at a
 * divergence (ChEES) while others went on. With the device's batch as wide as the chains,
 * this is the share of the device's gradient work wasted. NaN for runs on CPU threads,
 * where chains never wait for each other's evaluations. */
RMC_API double rmc_fit_idle_fraction(const rmc_fit *fit);

/* Summary of every column, written to out[columns][RMC_SUM_COUNT]: mean, sd, 5/50/95%
 * quantiles, MCSE of the mean, bulk and tail ESS, rank-normalised split R-hat (Vehtari et
 * al. 2021), over completed draws. */
RMC_API rmc_status rmc_fit_summary(const rmc_fit *fit, double *out);

/* The summary as a printable table, owned by the fit, valid until it is freed. */
RMC_API const char *rmc_fit_summary_text(rmc_fit *fit);

/* ---------------------------------------------------------------- devices
 *
 * The Vulkan backend evaluates a whole batch of chains per dispatch on a GPU. librmc does
 * not link against Vulkan: the loader (libvulkan.so.1) is opened at run time, so a machine
 * without it still loads the library and samples on the CPU.
 *
 * Device choice: a discrete GPU, else an integrated one, else a virtual one. CPU-type
 * devices (Mesa's lavapipe) are only used when named: by rmc_config.device, or by the
 * RMC_VULKAN_DEVICE environment variable when that is 0. A filter (that variable, the
 * evaluator's device argument) is an index into the list below, or a case-insensitive
 * part of the device's name ("lavapipe" also matches llvmpipe). Evaluations use float64 where the device has shaderFloat64, else float32 (the
 * log says so). Compiled shaders are cached under $XDG_CACHE_HOME/rmc (or ~/.cache/rmc;
 * RMC_CACHE_DIR moves it, RMC_SPIRV_CACHE=0 turns it off). docs/VULKAN.md has the rest. */

typedef enum rmc_device_type {   /* the values of VkPhysicalDeviceType */
    RMC_DEVICE_OTHER = 0,
    RMC_DEVICE_INTEGRATED_GPU = 1,
    RMC_DEVICE_DISCRETE_GPU = 2,
    RMC_DEVICE_VIRTUAL_GPU = 3,
    RMC_DEVICE_CPU = 4,
} rmc_device_type;

typedef struct rmc_device_info {
    int32_t index;           /* position in the list, usable as a filter              */
    int32_t type;            /* rmc_device_type                                       */
    char name[256];          /* as the driver reports it                              */
    char driver[256];        /* driver name and version text, where reported          */
    uint32_t vendor_id, device_id;
    uint32_t api_version;    /* Vulkan version, packed as VK_MAKE_API_VERSION          */
    int32_t float64;         /* 1: evaluations run in float64 (shaderFloat64)          */
    int32_t automatic;       /* 1: RMC_BACKEND_AUTO may pick it without a filter (GPUs) */
    int64_t memory;          /* bytes in its largest device-local heap                 */
} rmc_device_info;

/* Write up to capacity devices to out (may be NULL with capacity 0) and their number to
 * *count. RMC_ERR_BACKEND, with *count = 0, when Vulkan cannot be used here: not built in,
 * no loader, no driver; the message says which. */
RMC_API rmc_status rmc_devices(rmc_device_info *out, int32_t capacity, int32_t *count);

/* The index of the device a filter names (the best match, as the backend would choose),
 * for rmc_config.device = index + 1. RMC_ERR_BACKEND when none does. */
RMC_API rmc_status rmc_device_find(const char *filter, int32_t *index);

/* A batched evaluator of a program on a backend, for tests, benchmarks and custom
 * samplers: backend is RMC_BACKEND_CPU (threads: 0 for one per core), RMC_BACKEND_VULKAN
 * (device: a filter as above, or NULL) or RMC_BACKEND_AUTO. The program must outlive it.
 * One evaluation at a time per evaluator. */
typedef struct rmc_evaluator rmc_evaluator;

RMC_API rmc_status rmc_evaluator_create(const rmc_program *program, int32_t backend,
                                        const char *device, int32_t threads,
                                        rmc_evaluator **out);
/* lp[batch] and grad[batch][dim] (grad may be NULL) at x[batch][dim], like
 * rmc_program_logp_grad. */
RMC_API rmc_status rmc_evaluator_logp_grad(rmc_evaluator *ev, int64_t batch, const double *x,
                                           double *lp, double *grad);
RMC_API int32_t rmc_evaluator_backend(const rmc_evaluator *ev);
RMC_API const char *rmc_evaluator_device(const rmc_evaluator *ev);
RMC_API void rmc_evaluator_free(rmc_evaluator *ev);

/* ---------------------------------------------------------------- diagnostics */

/* Diagnostics of one quantity from draws[chains][draws] (chain-major, contiguous). */
RMC_API double rmc_rhat(const double *draws, int64_t chains, int64_t draws_per_chain);
RMC_API double rmc_ess_bulk(const double *draws, int64_t chains, int64_t draws_per_chain);
RMC_API double rmc_ess_tail(const double *draws, int64_t chains, int64_t draws_per_chain);

/** Nested R-hat (Margossian et al. 2023) of one quantity from draws[chains][draws], the
 *  chains taken as `superchains` consecutive groups of equal size: the diagnostic for many
 *  short chains (ChEES), where each chain has too few draws for the classic R-hat to mean
 *  much. Values near 1 (below 1.01) say the superchains agree. NaN when superchains < 2 or
 *  does not divide chains, or draws is NULL. Thread-safe, O(chains x draws). */
RMC_API double rmc_nested_rhat(const double *draws, int64_t chains, int64_t draws_per_chain,
                               int64_t superchains);

/** The summary of one quantity from draws[chains][draws_per_chain] (chain-major,
 *  contiguous), written to out[RMC_SUM_COUNT] in rmc_summary_field order; the same
 *  figures rmc_fit_summary gives for a column, so that draws read back from files (CSV,
 *  npz) summarise exactly as the original fit did. Thread-safe; the caller owns both
 *  arrays. RMC_ERR_ARGUMENT for NULL arrays or counts below 1, RMC_ERR_NOMEM when scratch
 *  memory cannot be had (out is then all NaN). */
RMC_API rmc_status rmc_summary(const double *draws, int64_t chains, int64_t draws_per_chain,
                               double *out);

#ifdef __cplusplus
}
#endif

#endif /* RMC_H */
