/* data.c - named data arrays, bound by pointer without a copy. */
#include "data.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

rmc_status rmc_data_create(rmc_data **out)
{
    if (!out)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_data_create: out is NULL");
    *out = rmc_calloc(1, sizeof **out);
    return *out ? RMC_OK : rmc_fail(RMC_ERR_NOMEM, "rmc_data_create: out of memory");
}

void rmc_data_free(rmc_data *data)
{
    if (!data)
        return;
    for (int32_t i = 0; i < data->n; i++)
        free(data->items[i].name);
    free(data->items);
    free(data);
}

const struct binding *data_find(const rmc_data *data, const char *name)
{
    for (int32_t i = 0; data && i < data->n; i++) {
        if (strcmp(data->items[i].name, name) == 0)
            return &data->items[i];
    }
    return NULL;
}

rmc_status rmc_data_set(rmc_data *data, const char *name, rmc_dtype dtype, const void *ptr,
                        int32_t ndim, const int64_t *shape)
{
    struct binding b = { .dtype = dtype, .ptr = ptr, .ndim = ndim, .size = 1 };
    struct binding *slot;

    if (!data || !name || !*name)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_data_set: data and name must be given");
    if (dtype != RMC_REAL && dtype != RMC_INT32 && dtype != RMC_INT64)
        return rmc_fail(RMC_ERR_ARGUMENT, "data '%s': unknown dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > RMC_MAX_DIMS)
        return rmc_fail(RMC_ERR_SHAPE, "data '%s': %d dimensions, at most %d supported", name,
                        (int)ndim, RMC_MAX_DIMS);
    if (ndim > 0 && !shape)
        return rmc_fail(RMC_ERR_ARGUMENT, "data '%s': shape is NULL", name);
    for (int32_t d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return rmc_fail(RMC_ERR_SHAPE, "data '%s': negative size %lld in dimension %d",
                            name, (long long)shape[d], (int)d + 1);
        b.shape[d] = shape[d];
        b.size = rmc_mul_size(b.size, shape[d]);
        if (b.size < 0 || b.size > ((int64_t)1 << 40))
            return rmc_fail(RMC_ERR_NOMEM, "data '%s': size overflows", name);
    }
    if (!ptr && b.size > 0)
        return rmc_fail(RMC_ERR_ARGUMENT, "data '%s': pointer is NULL", name);

    slot = (struct binding *)data_find(data, name);
    if (slot) {
        b.name = slot->name;
        *slot = b;
        return RMC_OK;
    }
    if (data->n == data->cap) {
        int32_t cap = data->cap ? 2 * data->cap : 16;
        struct binding *grown = realloc(data->items, (size_t)cap * sizeof *grown);

        if (!grown)
            return rmc_fail(RMC_ERR_NOMEM, "rmc_data_set: out of memory");
        data->items = grown;
        data->cap = cap;
    }
    b.name = rmc_strdup(name);
    if (!b.name)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_data_set: out of memory");
    data->items[data->n++] = b;
    return RMC_OK;
}

double binding_real(const struct binding *b, int64_t i)
{
    switch (b->dtype) {
    case RMC_INT32: return (double)((const int32_t *)b->ptr)[i];
    case RMC_INT64: return (double)((const int64_t *)b->ptr)[i];
    default:        return ((const double *)b->ptr)[i];
    }
}

int64_t binding_int(const struct binding *b, int64_t i)
{
    return b->dtype == RMC_INT32 ? ((const int32_t *)b->ptr)[i]
                                 : ((const int64_t *)b->ptr)[i];
}
