/* vk_device.c - the Vulkan loader, instance and devices.
 *
 * The loader is opened at run time through volk, so librmc needs no libvulkan to load.
 * One instance serves the process: it is created on first use (under a lock) and kept; the
 * device list it yields is what rmc_devices() reports. A failure to get this far is not
 * remembered, so a later call tries again (a driver may have been installed meanwhile).
 * Each program opens its own logical device, so that a device lost under one program
 * cannot take others down with it. */
#include <ctype.h>
#include <glob.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "vk.h"
#include "vk_impl.h"

struct context {
    int ready;
    int tried;              /* context_init has run once, whatever it found         */
    VkInstance instance;
    uint32_t count;
    VkPhysicalDevice *phys;
    rmc_device_info *info;
    uint32_t *family;       /* a queue family with compute, or UINT32_MAX          */
    char (*key)[96];        /* device UUID and driver version, for the SPIR-V cache */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct context ctx;

const char *vk_result_name(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
    default: return "VK_ERROR_UNKNOWN";
    }
}

int vk_env_on(const char *name)
{
    const char *v = getenv(name);

    return v && *v && strcmp(v, "0") != 0 && strcmp(v, "off") != 0 && strcmp(v, "no") != 0 &&
           strcmp(v, "false") != 0;
}

static void context_clear(void)
{
    if (ctx.instance)
        vkDestroyInstance(ctx.instance, NULL);
    free(ctx.phys);
    free(ctx.info);
    free(ctx.family);
    free(ctx.key);

    /* A failed probe still counts as tried: its reason, not a guess, is then reported. */
    int tried = ctx.tried;
    memset(&ctx, 0, sizeof ctx);
    ctx.tried = tried;
}

static void describe_device(uint32_t k, uint32_t instance_version)
{
    VkPhysicalDevice pd = ctx.phys[k];
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceFeatures features;
    VkPhysicalDeviceMemoryProperties mem;
    VkQueueFamilyProperties fam[32];
    uint32_t n_fam = 32;
    rmc_device_info *d = &ctx.info[k];

    vkGetPhysicalDeviceProperties(pd, &props);
    vkGetPhysicalDeviceFeatures(pd, &features);
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    memset(d, 0, sizeof *d);
    d->index = (int32_t)k;
    d->type = (int32_t)props.deviceType;
    snprintf(d->name, sizeof d->name, "%s", props.deviceName);
    d->vendor_id = props.vendorID;
    d->device_id = props.deviceID;
    d->api_version = props.apiVersion;
    d->float64 = features.shaderFloat64 ? 1 : 0;
    d->automatic = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ||
                   props.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ||
                   props.deviceType == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU;
    for (uint32_t h = 0; h < mem.memoryHeapCount; h++) {
        if ((mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
            (int64_t)mem.memoryHeaps[h].size > d->memory)
            d->memory = (int64_t)mem.memoryHeaps[h].size;
    }
    snprintf(ctx.key[k], sizeof ctx.key[k], "%08x:%08x:%08x", props.vendorID, props.deviceID,
             props.driverVersion);

    /* Driver name and the device UUID need Vulkan 1.2 on both sides. */
    if (instance_version >= VK_API_VERSION_1_2 && props.apiVersion >= VK_API_VERSION_1_2 &&
        vkGetPhysicalDeviceProperties2) {
        VkPhysicalDeviceDriverProperties drv = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES };
        VkPhysicalDeviceIDProperties ids = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES, .pNext = &drv };
        VkPhysicalDeviceProperties2 p2 = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &ids };
        char uuid[40];

        vkGetPhysicalDeviceProperties2(pd, &p2);
        snprintf(d->driver, sizeof d->driver, "%.120s %.120s", drv.driverName, drv.driverInfo);
        for (int b = 0; b < 16; b++)
            snprintf(uuid + 2 * b, 3, "%02x", ids.deviceUUID[b]);
        snprintf(ctx.key[k], sizeof ctx.key[k], "%s:%08x", uuid, props.driverVersion);
    }

    ctx.family[k] = UINT32_MAX;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_fam, fam);
    for (uint32_t f = 0; f < n_fam; f++) {
        if (fam[f].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            ctx.family[k] = f;
            break;
        }
    }
}

/* Make the process-wide instance and device list. Called with the lock held. */
static rmc_status context_init(void)
{
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "rmc",
        .pEngineName = "rmc",
        .apiVersion = VK_API_VERSION_1_2,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pApplicationInfo = &app,
    };
    uint32_t version;
    VkResult r;

    if (ctx.ready)
        return RMC_OK;
    ctx.tried = 1;
    if (volkInitialize() != VK_SUCCESS)
        return rmc_fail(RMC_ERR_BACKEND, "no Vulkan loader: libvulkan.so.1 could not be "
                        "opened (install the Vulkan loader, libvulkan1, and a driver)");
    version = volkGetInstanceVersion();
    if (version < VK_API_VERSION_1_2)
        app.apiVersion = VK_API_VERSION_1_1;
    r = vkCreateInstance(&ci, NULL, &ctx.instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER)
        return rmc_fail(RMC_ERR_BACKEND, "no Vulkan driver: the loader found no usable driver "
                        "(VK_ERROR_INCOMPATIBLE_DRIVER; check VK_DRIVER_FILES / "
                        "VK_ICD_FILENAMES and that a driver such as mesa-vulkan-drivers is "
                        "installed)");
    if (r != VK_SUCCESS) {
        ctx.instance = VK_NULL_HANDLE;
        return rmc_fail(RMC_ERR_BACKEND, "Vulkan: vkCreateInstance failed (%s)",
                        vk_result_name(r));
    }
    volkLoadInstance(ctx.instance);

    r = vkEnumeratePhysicalDevices(ctx.instance, &ctx.count, NULL);
    if (r != VK_SUCCESS || ctx.count == 0) {
        context_clear();
        return rmc_fail(RMC_ERR_BACKEND, "no Vulkan devices: the driver lists none (%s)",
                        vk_result_name(r));
    }
    ctx.phys = rmc_calloc(ctx.count, sizeof *ctx.phys);
    ctx.info = rmc_calloc(ctx.count, sizeof *ctx.info);
    ctx.family = rmc_calloc(ctx.count, sizeof *ctx.family);
    ctx.key = rmc_calloc(ctx.count, sizeof *ctx.key);
    if (!ctx.phys || !ctx.info || !ctx.family || !ctx.key) {
        context_clear();
        return rmc_fail(RMC_ERR_NOMEM, "Vulkan: out of memory listing devices");
    }
    r = vkEnumeratePhysicalDevices(ctx.instance, &ctx.count, ctx.phys);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) {
        context_clear();
        return rmc_fail(RMC_ERR_BACKEND, "Vulkan: vkEnumeratePhysicalDevices failed (%s)",
                        vk_result_name(r));
    }
    for (uint32_t k = 0; k < ctx.count; k++)
        describe_device(k, app.apiVersion);
    ctx.ready = 1;
    return RMC_OK;
}

rmc_status vk_devices(rmc_device_info *out, int32_t capacity, int32_t *count)
{
    rmc_status st;

    pthread_mutex_lock(&lock);
    st = context_init();
    if (st == RMC_OK) {
        *count = (int32_t)ctx.count;
        for (int32_t k = 0; out && k < capacity && k < (int32_t)ctx.count; k++)
            out[k] = ctx.info[k];
    } else {
        *count = 0;
    }
    pthread_mutex_unlock(&lock);
    return st;
}

/* Case-insensitive: does hay contain needle? */
static int contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++) {
        size_t k = 0;

        while (k < n && hay[k] && tolower((unsigned char)hay[k]) ==
                                      tolower((unsigned char)needle[k]))
            k++;
        if (k == n)
            return 1;
    }
    return n == 0;
}

/* A filter is an index into the list, or part of the name or driver text. Mesa calls its
 * Vulkan CPU driver lavapipe but the device llvmpipe: either name finds it. */
static int matches(const char *filter, const rmc_device_info *d)
{
    const char *f = filter;
    char *end;
    long k = strtol(f, &end, 10);

    if (*f && *end == '\0')
        return k == d->index;
    if (contains("lavapipe", f) && strlen(f) >= 4)
        f = "llvmpipe";
    return contains(d->name, f) || contains(d->driver, f);
}

static int rank(int32_t type)
{
    switch (type) {
    case RMC_DEVICE_DISCRETE_GPU: return 0;
    case RMC_DEVICE_INTEGRATED_GPU: return 1;
    case RMC_DEVICE_VIRTUAL_GPU: return 2;
    case RMC_DEVICE_OTHER: return 3;
    default: return 4; /* RMC_DEVICE_CPU */
    }
}

static const char *type_name(int32_t type)
{
    switch (type) {
    case RMC_DEVICE_DISCRETE_GPU: return "discrete GPU";
    case RMC_DEVICE_INTEGRATED_GPU: return "integrated GPU";
    case RMC_DEVICE_VIRTUAL_GPU: return "virtual GPU";
    case RMC_DEVICE_CPU: return "CPU";
    default: return "other";
    }
}

/* Whether this machine shows a device node through which a Vulkan driver reaches a GPU:
 * DRM render nodes (AMD, Intel, Nouveau, Asahi, virtio-gpu), NVIDIA's nodes, Mali's,
 * and WSL's /dev/dxg. Without one, only CPU-type devices can exist, which the automatic
 * choice never takes, so creating an instance (which loads every installed driver, and
 * lavapipe's LLVM with it: 20-300 ms here) would buy nothing; RMC_VULKAN_PROBE=1 probes
 * anyway, for a GPU reached some other way. */
static int gpu_node_present(void)
{
    static const char *const patterns[] = { "/dev/dri/renderD*", "/dev/nvidia[0-9]*",
                                            "/dev/mali*", "/dev/dxg" };
    const char *force = getenv("RMC_VULKAN_PROBE");

    if (force && *force && strcmp(force, "0") != 0)
        return 1;
    for (size_t k = 0; k < sizeof patterns / sizeof patterns[0]; k++) {
        glob_t g;
        int found = glob(patterns[k], 0, NULL, &g) == 0 && g.gl_pathc > 0;

        globfree(&g);
        if (found)
            return 1;
    }
    return 0;
}

/* The best device for filter; with no filter only GPUs qualify. Lock held. */
static rmc_status choose(const char *filter, uint32_t *pick)
{
    char seen[512] = "";
    size_t used = 0;
    int best = -1;

    for (uint32_t k = 0; k < ctx.count; k++) {
        const rmc_device_info *d = &ctx.info[k];

        if (used < sizeof seen)
            used += (size_t)snprintf(seen + used, sizeof seen - used, "%s#%u %s (%s)",
                                     k ? ", " : "", (unsigned)k, d->name, type_name(d->type));
        if (ctx.family[k] == UINT32_MAX)
            continue;
        if (filter ? !matches(filter, d) : !d->automatic)
            continue;
        if (best < 0 || rank(d->type) < rank(ctx.info[best].type))
            best = (int)k;
    }
    if (best >= 0) {
        *pick = (uint32_t)best;
        return RMC_OK;
    }
    if (filter)
        return rmc_fail(RMC_ERR_BACKEND, "no Vulkan device matches '%s' (devices: %s)", filter,
                        seen);
    return rmc_fail(RMC_ERR_BACKEND, "no Vulkan GPU (devices: %s); a CPU-type device is used "
                    "only when named, e.g. device='llvmpipe' or RMC_VULKAN_DEVICE=llvmpipe",
                    seen);
}

rmc_status vk_device_find(const char *filter, int32_t *index)
{
    uint32_t k = 0;
    rmc_status st;

    *index = -1;
    pthread_mutex_lock(&lock);
    st = context_init();
    if (st == RMC_OK)
        st = choose(filter, &k);
    pthread_mutex_unlock(&lock);
    if (st == RMC_OK)
        *index = (int32_t)k;
    return st;
}

rmc_status vk_gpu_open(const char *filter, struct vk_gpu *gpu)
{
    const float priority = 1.0f;
    VkPhysicalDeviceFeatures features = { 0 };
    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueCount = 1,
        .pQueuePriorities = &priority,
    };
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
        .pEnabledFeatures = &features,
    };
    VkPhysicalDeviceProperties props;
    uint32_t k = 0;
    rmc_status st;
    VkResult r;

    memset(gpu, 0, sizeof *gpu);
    if (!filter || !*filter)
        filter = getenv("RMC_VULKAN_DEVICE");
    if (filter && !*filter)
        filter = NULL;

    pthread_mutex_lock(&lock);
    if (!filter && !ctx.tried && !gpu_node_present()) {
        pthread_mutex_unlock(&lock);
        return rmc_fail(RMC_ERR_BACKEND, "no Vulkan GPU: no GPU device node "
                        "(/dev/dri/renderD*, /dev/nvidia*, /dev/mali*, /dev/dxg), so Vulkan "
                        "was not probed "
                        "(RMC_VULKAN_PROBE=1 probes anyway); a CPU-type device is used only "
                        "when named, e.g. device='llvmpipe' or RMC_VULKAN_DEVICE=llvmpipe");
    }
    st = context_init();
    if (st == RMC_OK)
        st = choose(filter, &k);
    if (st == RMC_OK) {
        gpu->phys = ctx.phys[k];
        gpu->family = ctx.family[k];
        gpu->index = (int32_t)k;
        gpu->info = ctx.info[k];
        snprintf(gpu->key, sizeof gpu->key, "%s", ctx.key[k]);
    }
    pthread_mutex_unlock(&lock);
    if (st != RMC_OK)
        return st;

    vkGetPhysicalDeviceProperties(gpu->phys, &props);
    vkGetPhysicalDeviceMemoryProperties(gpu->phys, &gpu->memory);
    gpu->limits = props.limits;
    features.shaderFloat64 = gpu->info.float64 ? VK_TRUE : VK_FALSE;
    qci.queueFamilyIndex = gpu->family;
    r = vkCreateDevice(gpu->phys, &dci, NULL, &gpu->device);
    if (r != VK_SUCCESS) {
        gpu->device = VK_NULL_HANDLE;
        return rmc_fail(RMC_ERR_BACKEND, "Vulkan: could not open %s (vkCreateDevice: %s)",
                        gpu->info.name, vk_result_name(r));
    }
    vkGetDeviceQueue(gpu->device, gpu->family, 0, &gpu->queue);
    return RMC_OK;
}

void vk_gpu_close(struct vk_gpu *gpu)
{
    if (gpu->device) {
        vkDeviceWaitIdle(gpu->device);
        vkDestroyDevice(gpu->device, NULL);
    }
    memset(gpu, 0, sizeof *gpu);
}

int32_t vk_memory_type(const struct vk_gpu *gpu, uint32_t bits, VkMemoryPropertyFlags want,
                       VkMemoryPropertyFlags prefer)
{
    int32_t fallback = -1;

    for (uint32_t t = 0; t < gpu->memory.memoryTypeCount; t++) {
        VkMemoryPropertyFlags f = gpu->memory.memoryTypes[t].propertyFlags;

        if (!(bits & (1u << t)) || (f & want) != want)
            continue;
        if ((f & prefer) == prefer)
            return (int32_t)t;
        if (fallback < 0)
            fallback = (int32_t)t;
    }
    return fallback;
}
