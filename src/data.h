/* data.h - a set of named arrays bound by pointer. */
#ifndef RMC_DATA_H
#define RMC_DATA_H

#include <stdint.h>

#include "rmc.h"

struct binding {
    char *name;
    int32_t dtype;
    const void *ptr;
    int32_t ndim;
    int64_t shape[RMC_MAX_DIMS];
    int64_t size;
};

struct rmc_data {
    struct binding *items;
    int32_t n, cap;
};

const struct binding *data_find(const rmc_data *data, const char *name);

/* Element i of a binding as a double, whatever its dtype. */
double binding_real(const struct binding *b, int64_t i);

/* Element i of an integer binding. */
int64_t binding_int(const struct binding *b, int64_t i);

#endif
