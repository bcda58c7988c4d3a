/* vk_api.c - the public face of the backends: device listing and batched evaluators.
 *
 * Always built. Without the Vulkan backend (RMC_HAVE_VULKAN unset) the internal vk_*
 * entry points below answer every request with RMC_ERR_BACKEND, so the rest of rmc never
 * needs to know whether it was built in. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "program.h"
#include "util.h"
#include "vk.h"

#ifndef RMC_HAVE_VULKAN

static rmc_status not_built(void)
{
    return rmc_fail(RMC_ERR_BACKEND, "this librmc was built without the Vulkan backend "
                    "(configure with -DRMC_VULKAN=ON after installing libvulkan-dev, "
                    "libvulkan-volk-dev, libshaderc-dev and glslang-dev)");
}

rmc_status vk_devices(rmc_device_info *out, int32_t capacity, int32_t *count)
{
    (void)out;
    (void)capacity;
    *count = 0;
    return not_built();
}

rmc_status vk_device_find(const char *filter, int32_t *index)
{
    (void)filter;
    *index = -1;
    return not_built();
}

rmc_status vk_program_create(const rmc_program *program, const char *filter, int64_t batch_hint,
                             struct vk_program **out)
{
    (void)program;
    (void)filter;
    (void)batch_hint;
    *out = NULL;
    return not_built();
}

rmc_status vk_program_eval(struct vk_program *vp, int64_t batch, const double *x, double *lp,
                           double *grad)
{
    (void)vp;
    (void)batch;
    (void)x;
    (void)lp;
    (void)grad;
    return not_built();
}

void vk_program_free(struct vk_program *vp)
{
    (void)vp;
}

const char *vk_program_describe(const struct vk_program *vp)
{
    (void)vp;
    return "";
}

#endif

rmc_status rmc_devices(rmc_device_info *out, int32_t capacity, int32_t *count)
{
    int32_t dummy;

    if (!count)
        count = &dummy;
    if (capacity < 0 || (capacity > 0 && !out))
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_devices: out must hold capacity entries");
    return vk_devices(out, capacity, count);
}

rmc_status rmc_device_find(const char *filter, int32_t *index)
{
    if (!filter || !index)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_device_find: filter and index must be given");
    return vk_device_find(filter, index);
}

/* ------------------------------------------------------------------ evaluators */

struct rmc_evaluator {
    const rmc_program *p;
    int32_t backend;
    struct vk_program *vk;
    int32_t threads;
    struct workspace **ws;  /* one per CPU thread */
    char device[400];
};

struct cpu_part {
    const rmc_program *p;
    struct workspace *ws;
    int64_t begin, end;
    const double *x;
    double *lp, *grad;
    int rc;
};

static void *cpu_part_run(void *arg)
{
    struct cpu_part *t = arg;
    const int64_t d = t->p->dim;

    for (int64_t b = t->begin; b < t->end && t->rc == 0; b++)
        t->rc = program_eval(t->p, t->ws, t->x + b * d, &t->lp[b],
                             t->grad ? t->grad + b * d : NULL);
    return NULL;
}

static rmc_status cpu_eval(rmc_evaluator *ev, int64_t batch, const double *x, double *lp,
                           double *grad)
{
    struct cpu_part parts[256];
    pthread_t tid[256];
    int32_t n = ev->threads;
    int started[256] = { 0 };
    rmc_status st = RMC_OK;

    /* Small batches are not worth a thread each. */
    if (n > batch / 4)
        n = (int32_t)(batch / 4) > 0 ? (int32_t)(batch / 4) : 1;
    for (int32_t t = 0; t < n; t++) {
        parts[t] = (struct cpu_part){ .p = ev->p, .ws = ev->ws[t], .x = x, .lp = lp,
                                      .grad = grad, .begin = batch * t / n,
                                      .end = batch * (t + 1) / n };
        if (t > 0 && pthread_create(&tid[t], NULL, cpu_part_run, &parts[t]) == 0)
            started[t] = 1;
        else if (t > 0)
            cpu_part_run(&parts[t]);
    }
    cpu_part_run(&parts[0]);
    for (int32_t t = 0; t < n; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        if (parts[t].rc)
            st = rmc_fail(RMC_ERR_CALLBACK, "the log density callback reported failure");
    }
    return st;
}

rmc_status rmc_evaluator_create(const rmc_program *p, int32_t backend, const char *device,
                                int32_t threads, rmc_evaluator **out)
{
    rmc_evaluator *ev;
    rmc_status st = RMC_OK;

    if (!out)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_evaluator_create: out is NULL");
    *out = NULL;
    if (!p || backend < RMC_BACKEND_AUTO || backend > RMC_BACKEND_VULKAN || threads < 0)
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_evaluator_create: need a program, a backend "
                        "(auto, cpu or vulkan) and threads >= 0");
    ev = rmc_calloc(1, sizeof *ev);
    if (!ev)
        return rmc_fail(RMC_ERR_NOMEM, "rmc_evaluator_create: out of memory");
    ev->p = p;
    if (backend != RMC_BACKEND_CPU) {
        st = vk_program_create(p, device, 256, &ev->vk);
        if (st == RMC_OK) {
            ev->backend = RMC_BACKEND_VULKAN;
            snprintf(ev->device, sizeof ev->device, "%s", vk_program_describe(ev->vk));
        } else if (backend == RMC_BACKEND_VULKAN) {
            free(ev);
            return st;
        } else {
            rmc_log(RMC_LOG_INFO, "auto: using the CPU backend: %s", rmc_last_error());
            st = RMC_OK;
        }
    }
    if (!ev->vk) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);

        ev->backend = RMC_BACKEND_CPU;
        ev->threads = threads ? threads : (int32_t)(cores > 0 ? cores : 1);
        if (ev->threads > 256)
            ev->threads = 256;
        ev->ws = rmc_calloc((size_t)ev->threads, sizeof *ev->ws);
        for (int32_t t = 0; ev->ws && t < ev->threads; t++) {
            ev->ws[t] = workspace_create(p);
            if (!ev->ws[t])
                st = RMC_ERR_NOMEM;
        }
        if (!ev->ws || st != RMC_OK) {
            rmc_evaluator_free(ev);
            return rmc_fail(RMC_ERR_NOMEM, "rmc_evaluator_create: out of memory");
        }
        snprintf(ev->device, sizeof ev->device, "cpu (%d thread%s)", (int)ev->threads,
                 ev->threads == 1 ? "" : "s");
    }
    *out = ev;
    return RMC_OK;
}

rmc_status rmc_evaluator_logp_grad(rmc_evaluator *ev, int64_t batch, const double *x,
                                   double *lp, double *grad)
{
    if (!ev || batch < 0 || (batch > 0 && (!x || !lp)))
        return rmc_fail(RMC_ERR_ARGUMENT, "rmc_evaluator_logp_grad: bad arguments");
    if (ev->vk)
        return vk_program_eval(ev->vk, batch, x, lp, grad);
    return cpu_eval(ev, batch, x, lp, grad);
}

int32_t rmc_evaluator_backend(const rmc_evaluator *ev)
{
    return ev ? ev->backend : -1;
}

const char *rmc_evaluator_device(const rmc_evaluator *ev)
{
    return ev ? ev->device : "";
}

void rmc_evaluator_free(rmc_evaluator *ev)
{
    if (!ev)
        return;
    vk_program_free(ev->vk);
    for (int32_t t = 0; ev->ws && t < ev->threads; t++)
        workspace_free(ev->ws[t]);
    free(ev->ws);
    free(ev);
}
