/* util.h - errors, logging and allocation helpers shared by every module. */
#ifndef RMC_UTIL_H
#define RMC_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "rmc.h"

#if defined(__GNUC__)
#define RMC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RMC_PRINTF(f, a)
#endif

/* Record status and a formatted message as this thread's last error; returns status so
 * that callers can write `return rmc_fail(RMC_ERR_DATA, "...")`. */
rmc_status rmc_fail(rmc_status status, const char *fmt, ...) RMC_PRINTF(2, 3);

/* Send a message to the log callback, if any. Never allocates. */
void rmc_log(rmc_log_level level, const char *fmt, ...) RMC_PRINTF(2, 3);

/* calloc of n * size bytes that refuses sizes whose product overflows. */
void *rmc_calloc(size_t n, size_t size);

/* A copy of s (NULL on failure). */
char *rmc_strdup(const char *s);

/* n * m, or -1 when the product overflows int64 or either is negative. */
int64_t rmc_mul_size(int64_t n, int64_t m);

/* Seconds on a monotonic clock. */
double rmc_now(void);

#endif
