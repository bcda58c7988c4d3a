/* vk_impl.h - what the Vulkan-only files (vk_device.c, vk_compile.c, vk_eval.c) share.
 * Everything here needs the Vulkan headers, so nothing outside those files includes it. */
#ifndef RMC_VK_IMPL_H
#define RMC_VK_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <volk.h>

#include "rmc.h"

/* A logical device on one physical device, owned by one program. */
struct vk_gpu {
    VkPhysicalDevice phys;
    VkDevice device;
    VkQueue queue;
    uint32_t family;
    int32_t index;               /* in the rmc_devices() list                    */
    rmc_device_info info;
    VkPhysicalDeviceLimits limits;
    VkPhysicalDeviceMemoryProperties memory;
    char key[96];                /* device identity for the SPIR-V cache key     */
};

/* The short name of a VkResult ("VK_ERROR_DEVICE_LOST"). */
const char *vk_result_name(VkResult r);

/* Choose a device for filter (NULL: $RMC_VULKAN_DEVICE, else the best GPU) and create a
 * logical device with one compute queue on it. */
rmc_status vk_gpu_open(const char *filter, struct vk_gpu *gpu);
void vk_gpu_close(struct vk_gpu *gpu);

/* A memory type among bits with all of want (and, if possible, all of prefer), or -1. */
int32_t vk_memory_type(const struct vk_gpu *gpu, uint32_t bits, VkMemoryPropertyFlags want,
                       VkMemoryPropertyFlags prefer);

/* SPIR-V for source: from the disk cache when it holds this source for this device, else
 * compiled (and stored). A compile failure logs the source and the compiler's message and
 * returns RMC_ERR_BACKEND. *hit tells whether the cache answered. Free *spirv with free(). */
rmc_status vk_compile(const char *source, size_t len, const char *device_key, uint32_t **spirv,
                      size_t *words, int *hit);

/* Whether an environment variable is set to something other than "", "0", "off", "no" or
 * "false". */
int vk_env_on(const char *name);

#endif
