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

#ifdef RMC_FAULT_INJECTION
/*
 * Allocation fault injection, compiled only with -DRMC_FAULT_INJECTION=ON (CMake), for
 * tests/test_faults.c: arm it, run a call, and check that the call fails cleanly with
 * RMC_ERR_NOMEM and leaks nothing, for every allocation the call makes in turn.
 *
 * RMC_FAULT_UTIL counts the allocations made through rmc_calloc and rmc_strdup.
 * RMC_FAULT_ALL counts every malloc, calloc and realloc of the library instead; it needs
 * the test to be linked with -Wl,--wrap for those symbols and to route its __wrap_*
 * functions through rmc_fault_should_fail(0) (util.c then stays out of the count, so that
 * rmc_calloc's own calloc is not counted twice).
 */
enum rmc_fault_mode { RMC_FAULT_OFF = 0, RMC_FAULT_UTIL, RMC_FAULT_ALL };

/* Count allocations from now on; the one numbered fail_at (from 0) returns NULL, and with
 * sticky every later one too. fail_at < 0 only counts. Safe from any thread. */
void rmc_fault_arm(enum rmc_fault_mode mode, int64_t fail_at, int sticky);

/* Stop counting and failing; returns how many allocations were counted since arming. */
int64_t rmc_fault_disarm(void);

/* Whether an armed fault has been injected since arming. */
int rmc_fault_fired(void);

/* Count one allocation and say whether it must fail. from_util: the caller is util.c. */
int rmc_fault_should_fail(int from_util);
#endif

/* n * m, or -1 when the product overflows int64 or either is negative. */
int64_t rmc_mul_size(int64_t n, int64_t m);

/* Seconds on a monotonic clock. */
double rmc_now(void);

#endif
