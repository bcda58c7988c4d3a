/* vk_eval.c - a program on a Vulkan device: buffers, pipeline, batched evaluation.
 *
 * Buffers: positions in and results out live in host-visible memory (small, touched once
 * per evaluation); the data (uploaded once, at creation) and the per-chain workspace live
 * in device-local memory. One evaluation is one dispatch per sub-batch: a workgroup holds
 * WG / TPC chains, and the buffers hold `cap` chains, growing on demand up to what the
 * device's limits allow; a larger batch is evaluated in turns.
 *
 * Faults: every Vulkan call is checked. Creation failures come back as RMC_ERR_BACKEND
 * with what failed; once the device is lost, every later evaluation fails at once, so the
 * caller can move on (the sampler then finishes on the CPU, or stops with the draws made).
 *
 * RMC_VULKAN_FAULT injects faults for tests: "compile" (a shader that does not compile),
 * "memory" (device memory allocation fails), "lost:N" (the device is lost after N
 * dispatches). RMC_VULKAN_DUMP=file writes the generated shader source there;
 * RMC_VULKAN_LANES forces the threads per chain ("wide": the model's choice, or a number),
 * RMC_VULKAN_WIDE_BELOW moves the batch size below which GPUs use the wide form. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "program.h"
#include "util.h"
#include "vk.h"
#include "vk_impl.h"

struct buffer {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map;             /* host-visible buffers stay mapped */
};

/* One compiled form of the program. Its threads per chain fix the workgroup's shape:
 * one thread per chain (narrow) has no barriers at all and suits CPU devices and large
 * batches; several (wide) split each vector operation and cut the time to one answer when
 * the batch is too small to fill a GPU. The workspace layout is the same in both. */
struct variant {
    uint32_t tpc, wg, cpw; /* threads per chain, per workgroup; chains per workgroup */
    int state;             /* 0: not built yet, 1: ready, -1: failed */
    int64_t runs;          /* dispatches made with it */
    VkShaderModule module;
    VkPipeline pipeline;
};

enum { NARROW = 0, WIDE = 1 };

/* Chains per workgroup of the narrow form, and so the unit the buffers are sized in: a
 * multiple of every form's chains per workgroup (all forms have 64 threads). */
#define GROUP 64

struct vk_program {
    const rmc_program *p;
    struct vk_gpu gpu;
    int f64;
    size_t rs;             /* bytes per real */
    int64_t dim, ws;
    int64_t cap, cap_max;  /* chains the buffers hold; the most they may hold */
    struct variant var[2];
    int force;             /* -1: choose per batch; else always this form */
    uint32_t force_lanes;  /* threads per chain of a forced wide form, 0: the model's */
    int64_t wide_below;    /* batches smaller than this use the wide form (GPUs only) */
    int bad_source;        /* RMC_VULKAN_FAULT=compile */

    VkDescriptorSetLayout set_layout;
    VkPipelineLayout layout;
    VkDescriptorPool pool;
    VkDescriptorSet set;
    VkCommandPool cmd_pool;
    VkCommandBuffer cmd;
    VkFence fence;
    struct buffer x, res, data, index, scratch;

    int lost;              /* the device failed: refuse every evaluation */
    int64_t dispatches, lose_after;
    int fault_memory;      /* RMC_VULKAN_FAULT=memory */
    char describe[400];
};

#define CHECK(call, what)                                                                \
    do {                                                                                 \
        VkResult r_ = (call);                                                            \
        if (r_ != VK_SUCCESS)                                                            \
            return fail_vk(vp, r_, what);                                                \
    } while (0)

static rmc_status fail_vk(struct vk_program *vp, VkResult r, const char *what)
{
    if (r == VK_ERROR_DEVICE_LOST) {
        vp->lost = 1;
        return rmc_fail(RMC_ERR_BACKEND, "vulkan: the device %s was lost (%s)",
                        vp->gpu.info.name, what);
    }
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        return rmc_fail(RMC_ERR_BACKEND, "vulkan: out of %s memory on %s (%s)",
                        r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? "device" : "host",
                        vp->gpu.info.name, what);
    return rmc_fail(RMC_ERR_BACKEND, "vulkan: %s failed on %s (%s)", what, vp->gpu.info.name,
                    vk_result_name(r));
}

/* ------------------------------------------------------------------ buffers */

static void buffer_free(struct vk_program *vp, struct buffer *b)
{
    if (b->map)
        vkUnmapMemory(vp->gpu.device, b->mem);
    if (b->buf)
        vkDestroyBuffer(vp->gpu.device, b->buf, NULL);
    if (b->mem)
        vkFreeMemory(vp->gpu.device, b->mem, NULL);
    memset(b, 0, sizeof *b);
}

/* A storage buffer of size bytes; host-visible (and mapped) when host is set, else
 * device-local if the device has such memory. */
static rmc_status buffer_make(struct vk_program *vp, struct buffer *b, VkDeviceSize size,
                              int host, const char *what)
{
    VkBufferCreateInfo bi = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                 VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    VkMemoryRequirements req;
    VkMemoryAllocateInfo ai = { .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO };
    int32_t type;

    memset(b, 0, sizeof *b);
    b->size = size;
    CHECK(vkCreateBuffer(vp->gpu.device, &bi, NULL, &b->buf), what);
    vkGetBufferMemoryRequirements(vp->gpu.device, b->buf, &req);
    if (host)
        type = vk_memory_type(&vp->gpu, req.memoryTypeBits,
                              VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                              VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                              VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    else
        type = vk_memory_type(&vp->gpu, req.memoryTypeBits, 0,
                              VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type < 0)
        return rmc_fail(RMC_ERR_BACKEND, "vulkan: %s has no memory type for the %s buffer",
                        vp->gpu.info.name, what);
    ai.allocationSize = req.size;
    ai.memoryTypeIndex = (uint32_t)type;
    if (vp->fault_memory)
        return fail_vk(vp, VK_ERROR_OUT_OF_DEVICE_MEMORY, what);
    CHECK(vkAllocateMemory(vp->gpu.device, &ai, NULL, &b->mem), what);
    CHECK(vkBindBufferMemory(vp->gpu.device, b->buf, b->mem, 0), what);
    if (host)
        CHECK(vkMapMemory(vp->gpu.device, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map), what);
    return RMC_OK;
}

/* Run the recorded command buffer and wait for it, up to `seconds`: longer without an
 * answer is a hung device, treated as lost. */
static rmc_status submit(struct vk_program *vp, const char *what, uint64_t seconds)
{
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &vp->cmd,
    };
    VkResult r;

    CHECK(vkResetFences(vp->gpu.device, 1, &vp->fence), what);
    CHECK(vkQueueSubmit(vp->gpu.queue, 1, &si, vp->fence), what);
    r = vkWaitForFences(vp->gpu.device, 1, &vp->fence, VK_TRUE, seconds * 1000000000ull);
    if (r == VK_TIMEOUT)
        r = VK_ERROR_DEVICE_LOST;
    CHECK(r, what);
    return RMC_OK;
}

static rmc_status begin(struct vk_program *vp, const char *what)
{
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };

    CHECK(vkResetCommandBuffer(vp->cmd, 0), what);
    CHECK(vkBeginCommandBuffer(vp->cmd, &bi), what);
    return RMC_OK;
}

/* Fill a device-local buffer from host memory (converting to float32 when needed), mapped
 * directly where the memory is host-visible, else through a staging copy. */
static rmc_status upload(struct vk_program *vp, struct buffer *dst, const void *src,
                         size_t count, int reals, const char *what)
{
    struct buffer staging = { 0 };
    VkBufferCopy region = { .size = dst->size };
    void *map;
    rmc_status st;

    st = buffer_make(vp, &staging, dst->size, 1, what);
    if (st != RMC_OK) {
        buffer_free(vp, &staging);
        return st;
    }
    map = staging.map;
    if (reals && !vp->f64) {
        for (size_t k = 0; k < count; k++)
            ((float *)map)[k] = (float)((const double *)src)[k];
    } else {
        memcpy(map, src, count * (reals ? sizeof(double) : sizeof(int32_t)));
    }
    st = begin(vp, what);
    if (st == RMC_OK) {
        vkCmdCopyBuffer(vp->cmd, staging.buf, dst->buf, 1, &region);
        if (vkEndCommandBuffer(vp->cmd) != VK_SUCCESS)
            st = rmc_fail(RMC_ERR_BACKEND, "vulkan: recording the %s upload failed", what);
    }
    if (st == RMC_OK)
        st = submit(vp, what, 60);
    buffer_free(vp, &staging);
    return st;
}

static void bind_buffers(struct vk_program *vp)
{
    struct buffer *bufs[5] = { &vp->x, &vp->res, &vp->data, &vp->index, &vp->scratch };
    VkDescriptorBufferInfo info[5];
    VkWriteDescriptorSet w[5];

    for (int k = 0; k < 5; k++) {
        info[k] = (VkDescriptorBufferInfo){ .buffer = bufs[k]->buf, .range = VK_WHOLE_SIZE };
        w[k] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = vp->set,
            .dstBinding = (uint32_t)k,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &info[k],
        };
    }
    vkUpdateDescriptorSets(vp->gpu.device, 5, w, 0, NULL);
}

/* The most chains one dispatch may take: buffers within maxStorageBufferRange (and 1 GiB
 * of workspace, so that one program never takes the whole device), workgroups within
 * maxComputeWorkGroupCount. */
static int64_t capacity_limit(const struct vk_program *vp)
{
    const VkPhysicalDeviceLimits *l = &vp->gpu.limits;
    const double range = (double)l->maxStorageBufferRange;
    double chains = (double)l->maxComputeWorkGroupCount[0];
    double per_scratch = (double)(2 * vp->ws) * (double)vp->rs;
    double per_io = (double)(vp->dim + 1) * (double)vp->rs;

    chains = fmin(chains, range / per_scratch);
    chains = fmin(chains, (double)(1ll << 30) / per_scratch);
    chains = fmin(chains, range / per_io);
    chains = fmin(chains, 1 << 24);
    chains = floor(chains / GROUP) * GROUP;
    return chains < GROUP ? 0 : (int64_t)chains;
}

/* Make the per-batch buffers hold at least want chains (rounded up to whole workgroups). */
static rmc_status reserve(struct vk_program *vp, int64_t want)
{
    int64_t cap = (want + GROUP - 1) / GROUP * GROUP;
    rmc_status st;

    if (cap <= vp->cap)
        return RMC_OK;
    if (cap > vp->cap_max)
        cap = vp->cap_max;
    buffer_free(vp, &vp->x);
    buffer_free(vp, &vp->res);
    buffer_free(vp, &vp->scratch);
    vp->cap = 0;
    st = buffer_make(vp, &vp->x, (VkDeviceSize)(cap * vp->dim) * vp->rs, 1, "positions");
    if (st == RMC_OK)
        st = buffer_make(vp, &vp->res, (VkDeviceSize)(cap * (vp->dim + 1)) * vp->rs, 1,
                         "results");
    if (st == RMC_OK)
        st = buffer_make(vp, &vp->scratch, (VkDeviceSize)(cap * 2 * vp->ws) * vp->rs, 0,
                         "workspace");
    if (st != RMC_OK) {
        buffer_free(vp, &vp->x);
        buffer_free(vp, &vp->res);
        buffer_free(vp, &vp->scratch);
        return st;
    }
    vp->cap = cap;
    bind_buffers(vp);
    return RMC_OK;
}

/* ------------------------------------------------------------------ creation */

static rmc_status make_layouts(struct vk_program *vp)
{
    VkDescriptorSetLayoutBinding bind[5];
    VkDescriptorSetLayoutCreateInfo li = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = 5,
        .pBindings = bind,
    };
    VkPushConstantRange push = {
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        .size = 2 * sizeof(uint32_t),
    };
    VkPipelineLayoutCreateInfo pli = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &vp->set_layout,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &push,
    };
    VkDescriptorPoolSize ps = { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 5 };
    VkDescriptorPoolCreateInfo pi = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
        .maxSets = 1,
        .poolSizeCount = 1,
        .pPoolSizes = &ps,
    };
    VkDescriptorSetAllocateInfo si = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorSetCount = 1,
        .pSetLayouts = &vp->set_layout,
    };

    for (uint32_t k = 0; k < 5; k++)
        bind[k] = (VkDescriptorSetLayoutBinding){
            .binding = k,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    CHECK(vkCreateDescriptorSetLayout(vp->gpu.device, &li, NULL, &vp->set_layout),
          "descriptor set layout");
    CHECK(vkCreatePipelineLayout(vp->gpu.device, &pli, NULL, &vp->layout), "pipeline layout");
    CHECK(vkCreateDescriptorPool(vp->gpu.device, &pi, NULL, &vp->pool), "descriptor pool");
    si.descriptorPool = vp->pool;
    CHECK(vkAllocateDescriptorSets(vp->gpu.device, &si, &vp->set), "descriptor set");
    return RMC_OK;
}

static rmc_status make_pipeline(struct vk_program *vp, struct variant *v, const uint32_t *spirv,
                                size_t words)
{
    VkShaderModuleCreateInfo mi = {
        .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
        .codeSize = words * sizeof *spirv,
        .pCode = spirv,
    };
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .pName = "main",
        },
    };

    CHECK(vkCreateShaderModule(vp->gpu.device, &mi, NULL, &v->module), "shader module");
    ci.stage.module = v->module;
    ci.layout = vp->layout;
    CHECK(vkCreateComputePipelines(vp->gpu.device, VK_NULL_HANDLE, 1, &ci, NULL, &v->pipeline),
          "compute pipeline");
    return RMC_OK;
}

static rmc_status make_commands(struct vk_program *vp)
{
    VkCommandPoolCreateInfo pi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = vp->gpu.family,
    };
    VkCommandBufferAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
        .commandBufferCount = 1,
    };
    VkFenceCreateInfo fi = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };

    CHECK(vkCreateCommandPool(vp->gpu.device, &pi, NULL, &vp->cmd_pool), "command pool");
    ai.commandPool = vp->cmd_pool;
    CHECK(vkAllocateCommandBuffers(vp->gpu.device, &ai, &vp->cmd), "command buffer");
    CHECK(vkCreateFence(vp->gpu.device, &fi, NULL, &vp->fence), "fence");
    return RMC_OK;
}

static void read_settings(struct vk_program *vp)
{
    const char *f = getenv("RMC_VULKAN_FAULT"), *lanes = getenv("RMC_VULKAN_LANES");
    const char *wide = getenv("RMC_VULKAN_WIDE_BELOW");

    vp->lose_after = -1;
    if (f && !strcmp(f, "compile"))
        vp->bad_source = 1;
    else if (f && !strcmp(f, "memory"))
        vp->fault_memory = 1;
    else if (f && !strncmp(f, "lost:", 5))
        vp->lose_after = strtoll(f + 5, NULL, 10);

    /* RMC_VULKAN_LANES: "wide" (the model's own threads per chain), or a number. */
    vp->force = -1;
    if (lanes && !strcmp(lanes, "wide")) {
        vp->force = WIDE;
    } else if (lanes && *lanes) {
        unsigned long t = strtoul(lanes, NULL, 10);

        vp->force = t > 1 ? WIDE : NARROW;
        vp->force_lanes = t > 64 ? 64 : (uint32_t)t;
    }
    /* TODO: the crossover from wide to narrow is a guess for GPUs (about the number of
     * chains that fills the device one thread each); bench/gpu/ measures both. */
    vp->wide_below = wide ? strtoll(wide, NULL, 10) : 4096;
}

/* lavapipe (Mesa's llvmpipe underneath) ends loops once an invocation has run 65535
 * iterations, counting all its loops together, without a word (its guard against endless
 * loops; vk_loop_trips estimates the count from above, and half the guard is used here
 * for margin). On CPU devices, take the fewest threads per chain that keep the count below
 * that: usually one; more for big likelihoods and matrices. Returns non-zero when no
 * number of threads does.
 * TODO: splitting a long loop into several dispatches would lift the limit. */
#define CPU_LOOP_LIMIT 30000

static int fit_loop_limit(struct vk_program *vp)
{
    if (vp->gpu.info.type != RMC_DEVICE_CPU)
        return 0;
    if (vp->force >= 0)
        return vk_loop_trips(vp->p, vp->force == NARROW ? 1 : vp->force_lanes ? vp->force_lanes
                                                                                : 64)
               > CPU_LOOP_LIMIT;
    for (uint32_t t = 1; t <= 64; t *= 2) {
        if (vk_loop_trips(vp->p, t) <= CPU_LOOP_LIMIT) {
            if (t > 1) {
                vp->force = WIDE;
                vp->force_lanes = t;
            }
            return 0;
        }
    }
    return 1;
}

/* The form a batch of nb chains runs in. */
static int pick(const struct vk_program *vp, int64_t nb)
{
    if (vp->force >= 0)
        return vp->force;
    if (vp->gpu.info.type == RMC_DEVICE_CPU || vp->var[WIDE].state < 0)
        return NARROW; /* a CPU device runs a workgroup on one core: barriers only cost */
    return nb < vp->wide_below ? WIDE : NARROW;
}

/* Lower, compile and make the pipeline of form k. lw, when given, is the lowering for it
 * (and is kept by the caller); otherwise one is made and dropped here. */
static rmc_status build_variant(struct vk_program *vp, int k, struct vk_lowered *given)
{
    struct variant *v = &vp->var[k];
    struct vk_lowered own, *lw = given;
    uint32_t *spirv = NULL;
    size_t words = 0;
    int hit = 0;
    double t0 = rmc_now(), t1, t2;
    rmc_status st = RMC_OK;

    if (!lw) {
        lw = &own;
        st = vk_lower(vp->p, vp->f64, k == NARROW ? 1 : vp->force_lanes, lw);
        if (st != RMC_OK) {
            v->state = -1;
            return st;
        }
    }
    if (getenv("RMC_VULKAN_DUMP") && *getenv("RMC_VULKAN_DUMP")) { /* for debugging */
        FILE *f = fopen(getenv("RMC_VULKAN_DUMP"), "w");

        if (f) {
            fwrite(lw->source, 1, lw->source_len, f);
            fclose(f);
        }
    }
    if (vp->bad_source) { /* injected: a shader that cannot compile */
        char *bad = realloc(lw->source, lw->source_len + 64);

        if (bad) {
            lw->source = bad;
            strcpy(lw->source + lw->source_len, "\n#error injected by RMC_VULKAN_FAULT\n");
            lw->source_len = strlen(lw->source);
        }
    }
    v->tpc = lw->tpc;
    v->wg = lw->wg;
    v->cpw = lw->wg / lw->tpc;
    if (lw->wg > vp->gpu.limits.maxComputeWorkGroupInvocations ||
        lw->wg > vp->gpu.limits.maxComputeWorkGroupSize[0] || lw->wg != GROUP)
        st = rmc_fail(RMC_ERR_BACKEND, "vulkan: %s allows %u threads per workgroup, the "
                      "program needs %u", vp->gpu.info.name,
                      (unsigned)vp->gpu.limits.maxComputeWorkGroupInvocations,
                      (unsigned)lw->wg);
    if (st == RMC_OK)
        st = vk_compile(lw->source, lw->source_len, vp->gpu.key, &spirv, &words, &hit);
    t1 = rmc_now();
    if (st == RMC_OK)
        st = make_pipeline(vp, v, spirv, words);
    t2 = rmc_now();
    free(spirv);
    if (st == RMC_OK)
        rmc_log(RMC_LOG_INFO, "vulkan: %s form of %u thread%s per chain (%d operations "
                "fused): compile %.1f ms %s, pipeline %.1f ms", k == NARROW ? "narrow" : "wide",
                (unsigned)v->tpc, v->tpc == 1 ? "" : "s", (int)lw->fused, 1e3 * (t1 - t0),
                hit ? "(SPIR-V cache)" : "(compiled)", 1e3 * (t2 - t1));
    if (lw == &own)
        vk_lowered_free(&own);
    v->state = st == RMC_OK ? 1 : -1;
    return st;
}

rmc_status vk_program_create(const rmc_program *p, const char *filter, int64_t batch_hint,
                             struct vk_program **out)
{
    struct vk_program *vp;
    struct vk_lowered lw;
    double t0 = rmc_now(), t1;
    int first;
    rmc_status st;

    *out = NULL;
    if (p->kind != PROGRAM_GRAPH)
        return rmc_fail(RMC_ERR_BACKEND, "the Vulkan backend runs models, not a program over a "
                        "user callback (those run on the CPU)");
    vp = rmc_calloc(1, sizeof *vp);
    if (!vp)
        return rmc_fail(RMC_ERR_NOMEM, "vulkan: out of memory");
    vp->p = p;
    read_settings(vp);

    st = vk_gpu_open(filter, &vp->gpu);
    if (st != RMC_OK) {
        free(vp);
        return st;
    }
    t1 = rmc_now();
    vp->f64 = vp->gpu.info.float64 && !vk_env_on("RMC_VULKAN_FLOAT32");
    vp->rs = vp->f64 ? sizeof(double) : sizeof(float);
    if (!vp->gpu.info.float64)
        rmc_log(RMC_LOG_WARN, "vulkan: %s has no shaderFloat64: evaluating in float32 "
                "(relative errors near 1e-6 instead of 1e-15)", vp->gpu.info.name);

    if (fit_loop_limit(vp)) {
        st = rmc_fail(RMC_ERR_BACKEND, "vulkan: the model is too large for %s: its loops "
                      "would run %lld times per thread, past the %d its driver runs safely "
                      "(it stops an invocation's loops after 65535)", vp->gpu.info.name,
                      (long long)vk_loop_trips(p, 64), CPU_LOOP_LIMIT);
        vk_program_free(vp);
        return st;
    }

    /* The form the expected batch runs in is built now, so that a model the backend
     * cannot compile is known before sampling starts; the other form waits for a batch
     * that needs it. */
    first = pick(vp, batch_hint > 0 ? batch_hint : 1);
    st = vk_lower(p, vp->f64, first == NARROW ? 1 : vp->force_lanes, &lw);
    if (st != RMC_OK) {
        vk_program_free(vp);
        return st;
    }
    vp->dim = lw.dim;
    vp->ws = lw.ws;
    st = make_layouts(vp);
    if (st == RMC_OK)
        st = make_commands(vp);
    if (st == RMC_OK)
        st = build_variant(vp, first, &lw);
    if (st == RMC_OK && first == WIDE && vp->var[WIDE].tpc == 1)
        vp->force = NARROW; /* a model of scalars: the wide form is the narrow one */
    vp->cap_max = capacity_limit(vp);
    if (st == RMC_OK && vp->cap_max < 1)
        st = rmc_fail(RMC_ERR_BACKEND, "vulkan: one chain's workspace (%lld reals) does not "
                      "fit %s's storage buffer limit", (long long)(2 * vp->ws),
                      vp->gpu.info.name);
    if (st == RMC_OK)
        st = buffer_make(vp, &vp->data, (VkDeviceSize)lw.n_data * vp->rs, 0, "data");
    if (st == RMC_OK)
        st = buffer_make(vp, &vp->index, (VkDeviceSize)lw.n_index * sizeof(int32_t), 0,
                         "index");
    if (st == RMC_OK)
        st = upload(vp, &vp->data, lw.data, (size_t)lw.n_data, 1, "data");
    if (st == RMC_OK)
        st = upload(vp, &vp->index, lw.index, (size_t)lw.n_index, 0, "index");
    if (st == RMC_OK)
        st = reserve(vp, batch_hint > 0 ? batch_hint : 1);
    vk_lowered_free(&lw);
    if (st != RMC_OK) {
        vk_program_free(vp);
        return st;
    }
    snprintf(vp->describe, sizeof vp->describe, "%s, %s", vp->gpu.info.name,
             vp->f64 ? "float64" : "float32");
    rmc_log(RMC_LOG_INFO, "vulkan: ready on %s in %.1f ms (device %.1f ms)", vp->describe,
            1e3 * (rmc_now() - t0), 1e3 * (t1 - t0));
    *out = vp;
    return RMC_OK;
}

/* ------------------------------------------------------------------ evaluation */

static rmc_status eval_part(struct vk_program *vp, int64_t nb, const double *x, double *lp,
                            double *grad)
{
    const uint32_t push[2] = { (uint32_t)nb, (uint32_t)vp->cap };
    const int form = pick(vp, nb);
    struct variant *v = &vp->var[form];
    const int64_t d = vp->dim;
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    rmc_status st;

    if (vp->f64) {
        memcpy(vp->x.map, x, (size_t)(nb * d) * sizeof *x);
    } else {
        float *xf = vp->x.map;

        for (int64_t k = 0; k < nb * d; k++)
            xf[k] = (float)x[k];
    }
    if (v->state == 0) {
        st = build_variant(vp, form, NULL);
        if (st != RMC_OK)
            return st;
    }
    if (v->state < 0)
        return rmc_fail(RMC_ERR_BACKEND, "vulkan: the %s form of the program could not be "
                        "built", form == NARROW ? "narrow" : "wide");
    st = begin(vp, "dispatch");
    if (st != RMC_OK)
        return st;
    vkCmdBindPipeline(vp->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, v->pipeline);
    vkCmdBindDescriptorSets(vp->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, vp->layout, 0, 1, &vp->set,
                            0, NULL);
    vkCmdPushConstants(vp->cmd, vp->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof push, push);
    vkCmdDispatch(vp->cmd, (uint32_t)((nb + v->cpw - 1) / v->cpw), 1, 1);
    vkCmdPipelineBarrier(vp->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    CHECK(vkEndCommandBuffer(vp->cmd), "recording a dispatch");
    if (vp->lose_after >= 0 && vp->dispatches >= vp->lose_after)
        return fail_vk(vp, VK_ERROR_DEVICE_LOST, "injected by RMC_VULKAN_FAULT");
    /* A minute, but ten for a form's first dispatch: lavapipe compiles the shader then,
     * which takes about a second per matrix node of the model on a small CPU. */
    st = submit(vp, "dispatch", v->runs++ ? 60 : 600);
    if (st != RMC_OK)
        return st;
    vp->dispatches++;

    for (int64_t b = 0; b < nb; b++) {
        double value = vp->f64 ? ((const double *)vp->res.map)[b]
                               : (double)((const float *)vp->res.map)[b];

        value += vp->p->lp_const;
        lp[b] = value == value ? value : -INFINITY;
    }
    if (grad && vp->f64) {
        memcpy(grad, (const double *)vp->res.map + vp->cap, (size_t)(nb * d) * sizeof *grad);
    } else if (grad) {
        const float *g = (const float *)vp->res.map + vp->cap;

        for (int64_t k = 0; k < nb * d; k++)
            grad[k] = g[k];
    }
    return RMC_OK;
}

rmc_status vk_program_eval(struct vk_program *vp, int64_t batch, const double *x, double *lp,
                           double *grad)
{
    rmc_status st;

    if (vp->lost)
        return rmc_fail(RMC_ERR_BACKEND, "vulkan: the device %s was lost earlier",
                        vp->gpu.info.name);
    if (batch <= 0)
        return RMC_OK;
    st = reserve(vp, batch);
    for (int64_t b = 0; st == RMC_OK && b < batch; b += vp->cap) {
        int64_t nb = batch - b < vp->cap ? batch - b : vp->cap;

        st = eval_part(vp, nb, x + b * vp->dim, lp + b, grad ? grad + b * vp->dim : NULL);
    }
    return st;
}

void vk_program_free(struct vk_program *vp)
{
    VkDevice dev;

    if (!vp)
        return;
    dev = vp->gpu.device;
    if (dev) {
        vkDeviceWaitIdle(dev);
        buffer_free(vp, &vp->x);
        buffer_free(vp, &vp->res);
        buffer_free(vp, &vp->data);
        buffer_free(vp, &vp->index);
        buffer_free(vp, &vp->scratch);
        if (vp->fence)
            vkDestroyFence(dev, vp->fence, NULL);
        if (vp->cmd_pool)
            vkDestroyCommandPool(dev, vp->cmd_pool, NULL);
        if (vp->pool)
            vkDestroyDescriptorPool(dev, vp->pool, NULL);
        for (int k = 0; k < 2; k++) {
            if (vp->var[k].pipeline)
                vkDestroyPipeline(dev, vp->var[k].pipeline, NULL);
            if (vp->var[k].module)
                vkDestroyShaderModule(dev, vp->var[k].module, NULL);
        }
        if (vp->layout)
            vkDestroyPipelineLayout(dev, vp->layout, NULL);
        if (vp->set_layout)
            vkDestroyDescriptorSetLayout(dev, vp->set_layout, NULL);
    }
    vk_gpu_close(&vp->gpu);
    free(vp);
}

const char *vk_program_describe(const struct vk_program *vp)
{
    return vp->describe;
}
