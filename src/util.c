/* util.c - errors, logging and allocation helpers. */
#include "util.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Each thread keeps the message of its own last failure, so concurrent callers (and the
 * ctypes wrapper, which reads it right after a failing call) never see another's text. */
static _Thread_local char last_error[1024];

static rmc_log_fn log_fn;
static void *log_user;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

const char *rmc_version(void)
{
    return "0.1.0";
}

const char *rmc_status_string(rmc_status status)
{
    switch (status) {
    case RMC_OK:            return "RMC_OK";
    case RMC_ERR_ARGUMENT:  return "RMC_ERR_ARGUMENT";
    case RMC_ERR_MODEL:     return "RMC_ERR_MODEL";
    case RMC_ERR_SHAPE:     return "RMC_ERR_SHAPE";
    case RMC_ERR_DATA:      return "RMC_ERR_DATA";
    case RMC_ERR_NOMEM:     return "RMC_ERR_NOMEM";
    case RMC_ERR_INIT:      return "RMC_ERR_INIT";
    case RMC_ERR_BACKEND:   return "RMC_ERR_BACKEND";
    case RMC_ERR_CANCELLED: return "RMC_ERR_CANCELLED";
    case RMC_ERR_CALLBACK:  return "RMC_ERR_CALLBACK";
    case RMC_ERR_INTERNAL:  return "RMC_ERR_INTERNAL";
    }
    return "RMC_ERR_UNKNOWN";
}

const char *rmc_last_error(void)
{
    return last_error;
}

rmc_status rmc_fail(rmc_status status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void rmc_set_log_callback(rmc_log_fn fn, void *user)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_user = user;
    pthread_mutex_unlock(&log_lock);
}

void rmc_log(rmc_log_level level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    pthread_mutex_lock(&log_lock);
    if (log_fn) {
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        log_fn(level, buf, log_user);
    }
    pthread_mutex_unlock(&log_lock);
}

#ifdef RMC_FAULT_INJECTION
/* Atomics rather than a lock: sampler threads allocate their workspaces concurrently. */
static _Atomic int fault_mode;
static _Atomic int64_t fault_count, fault_at = -1;
static _Atomic int fault_sticky, fault_hit;

void rmc_fault_arm(enum rmc_fault_mode mode, int64_t fail_at, int sticky)
{
    atomic_store(&fault_mode, RMC_FAULT_OFF);
    atomic_store(&fault_count, 0);
    atomic_store(&fault_at, fail_at);
    atomic_store(&fault_sticky, sticky);
    atomic_store(&fault_hit, 0);
    atomic_store(&fault_mode, (int)mode);
}

int64_t rmc_fault_disarm(void)
{
    atomic_store(&fault_mode, RMC_FAULT_OFF);
    return atomic_load(&fault_count);
}

int rmc_fault_fired(void)
{
    return atomic_load(&fault_hit);
}

int rmc_fault_should_fail(int from_util)
{
    int mode = atomic_load(&fault_mode);
    int64_t k, at;

    if (mode == RMC_FAULT_OFF || (mode == RMC_FAULT_UTIL) != (from_util != 0))
        return 0;
    k = atomic_fetch_add(&fault_count, 1);
    at = atomic_load(&fault_at);
    if (at < 0 || k < at || (k > at && !atomic_load(&fault_sticky)))
        return 0;
    atomic_store(&fault_hit, 1);
    return 1;
}
#define FAULT_POINT()                                                                   \
    do {                                                                                \
        if (rmc_fault_should_fail(1))                                                   \
            return NULL;                                                                \
    } while (0)
#else
#define FAULT_POINT() ((void)0)
#endif

void *rmc_calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    FAULT_POINT();
    return calloc(n ? n : 1, size ? size : 1);
}

char *rmc_strdup(const char *s)
{
    size_t len = strlen(s) + 1;
    char *copy;

    FAULT_POINT();
    copy = malloc(len);

    if (copy)
        memcpy(copy, s, len);
    return copy;
}

int64_t rmc_mul_size(int64_t n, int64_t m)
{
    if (n < 0 || m < 0)
        return -1;
    if (n != 0 && m > INT64_MAX / n)
        return -1;
    return n * m;
}

double rmc_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
