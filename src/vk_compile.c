/* vk_compile.c - GLSL to SPIR-V with shaderc, and the on-disk SPIR-V cache.
 *
 * One shaderc compiler serves the process: it is made on first use and kept (making one
 * initialises glslang, which is not free), and compilations take a lock, because the
 * compiler object is shared.
 *
 * The cache holds one file per (source, device, compiler) under $RMC_CACHE_DIR, else
 * $XDG_CACHE_HOME/rmc, else ~/.cache/rmc, in spirv/. Files are written to a temporary name
 * and renamed, so concurrent processes never read half a file; a file whose header does
 * not match is ignored and replaced. RMC_SPIRV_CACHE=0 turns the cache off. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <shaderc/shaderc.h>

#include "util.h"
#include "vk_impl.h"

#define CACHE_MAGIC "RMCSPV01"

/* Bump when the compile options change, so old cache files are not reused. */
#define CACHE_FLAVOUR "shaderc-vulkan1.1-O0"

struct cache_header {
    char magic[8];
    uint64_t hash[2];
    uint64_t source_len;
    uint64_t words;
};

static pthread_mutex_t compile_lock = PTHREAD_MUTEX_INITIALIZER;
static shaderc_compiler_t compiler;

/* Two 64-bit FNV-1a hashes with different seeds: 128 bits, enough that two programs never
 * meet by accident. (Not cryptographic: the cache lives in the user's own folder.) */
static void hash_more(uint64_t h[2], const void *data, size_t n)
{
    const unsigned char *b = data;

    for (size_t k = 0; k < n; k++) {
        h[0] = (h[0] ^ b[k]) * 0x100000001b3ull;
        h[1] = (h[1] ^ b[k]) * 0x00000100000001b3ull * 0x9e3779b97f4a7c15ull;
    }
}

/* The cache folder (created), or 0 when the cache is off or has no home. */
static int cache_dir(char *buf, size_t cap)
{
    const char *off = getenv("RMC_SPIRV_CACHE"), *base = getenv("RMC_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;

    if (off && (!strcmp(off, "0") || !strcmp(off, "off") || !strcmp(off, "no") ||
                !strcmp(off, "false")))
        return 0;
    if (base && *base)
        n = snprintf(buf, cap, "%s/spirv", base);
    else if (xdg && *xdg)
        n = snprintf(buf, cap, "%s/rmc/spirv", xdg);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/.cache/rmc/spirv", home);
    else
        return 0;
    if (n < 0 || (size_t)n >= cap)
        return 0;

    /* mkdir -p, private to the user */
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            *p = '/';
            return 0;
        }
        *p = '/';
    }
    return mkdir(buf, 0700) == 0 || errno == EEXIST;
}

static int cache_read(const char *path, const uint64_t hash[2], size_t source_len,
                      uint32_t **spirv, size_t *words)
{
    FILE *f = fopen(path, "rb");
    struct cache_header h;
    uint32_t *code = NULL;
    int ok = 0;

    if (!f)
        return 0;
    if (fread(&h, sizeof h, 1, f) == 1 && !memcmp(h.magic, CACHE_MAGIC, 8) &&
        h.hash[0] == hash[0] && h.hash[1] == hash[1] && h.source_len == source_len &&
        h.words > 5 && h.words < ((uint64_t)1 << 28)) {
        code = malloc((size_t)h.words * sizeof *code);
        ok = code && fread(code, sizeof *code, (size_t)h.words, f) == (size_t)h.words &&
             code[0] == 0x07230203u; /* the SPIR-V magic number */
    }
    fclose(f);
    if (!ok) {
        free(code);
        return 0;
    }
    *spirv = code;
    *words = (size_t)h.words;
    return 1;
}

static void cache_write(const char *path, const uint64_t hash[2], size_t source_len,
                        const uint32_t *spirv, size_t words)
{
    struct cache_header h = { .hash = { hash[0], hash[1] }, .source_len = source_len,
                              .words = words };
    char tmp[1100];
    FILE *f;
    int ok;

    memcpy(h.magic, CACHE_MAGIC, 8);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    f = fopen(tmp, "wb");
    if (!f)
        return;
    ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(spirv, sizeof *spirv, words, f) == words;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        rmc_log(RMC_LOG_DEBUG, "vulkan: could not write the SPIR-V cache file %s", path);
    }
}

/* The log gets the whole generated source with line numbers (the compiler's messages
 * cite them), one line per message so that no log buffer cuts it short. */
static void log_source(const char *source, size_t len)
{
    const char *line = source, *end = source + len;
    int number = 1;

    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        int n = (int)(nl ? nl - line : end - line);

        rmc_log(RMC_LOG_ERROR, "vulkan: source %5d| %.*s", number++, n > 900 ? 900 : n, line);
        line += n + 1;
    }
}

static rmc_status compile_now(const char *source, size_t len, uint32_t **spirv, size_t *words)
{
    shaderc_compile_options_t opts;
    shaderc_compilation_result_t res;
    rmc_status st = RMC_OK;

    pthread_mutex_lock(&compile_lock);
    if (!compiler)
        compiler = shaderc_compiler_initialize();
    if (!compiler) {
        pthread_mutex_unlock(&compile_lock);
        return rmc_fail(RMC_ERR_BACKEND, "vulkan: the shader compiler (shaderc) could not "
                        "start");
    }
    opts = shaderc_compile_options_initialize();
    if (!opts) {
        pthread_mutex_unlock(&compile_lock);
        return rmc_fail(RMC_ERR_NOMEM, "vulkan: out of memory for compile options");
    }
    /* Unoptimised SPIR-V: the driver's own compiler does the real optimisation, and
     * spirv-opt on a large generated shader costs more time than it saves. */
    shaderc_compile_options_set_target_env(opts, shaderc_target_env_vulkan,
                                           shaderc_env_version_vulkan_1_1);
    shaderc_compile_options_set_optimization_level(opts, shaderc_optimization_level_zero);
    res = shaderc_compile_into_spv(compiler, source, len, shaderc_compute_shader, "model.comp",
                                   "main", opts);
    if (!res || shaderc_result_get_compilation_status(res) != shaderc_compilation_status_success) {
        const char *msg = res ? shaderc_result_get_error_message(res) : "no result";

        log_source(source, len);
        rmc_log(RMC_LOG_ERROR, "vulkan: the generated shader failed to compile:\n%s", msg);
        st = rmc_fail(RMC_ERR_BACKEND, "vulkan: the generated shader failed to compile (the "
                      "log has the source): %.600s", msg);
    } else {
        size_t bytes = shaderc_result_get_length(res);

        *words = bytes / sizeof(uint32_t);
        *spirv = malloc(bytes);
        if (!*spirv)
            st = rmc_fail(RMC_ERR_NOMEM, "vulkan: out of memory for SPIR-V");
        else
            memcpy(*spirv, shaderc_result_get_bytes(res), bytes);
    }
    if (res)
        shaderc_result_release(res);
    shaderc_compile_options_release(opts);
    pthread_mutex_unlock(&compile_lock);
    return st;
}

rmc_status vk_compile(const char *source, size_t len, const char *device_key, uint32_t **spirv,
                      size_t *words, int *hit)
{
    uint64_t hash[2] = { 0xcbf29ce484222325ull, 0x84222325cbf29ce4ull };
    char dir[900], path[1000];
    int cached;
    rmc_status st;

    *spirv = NULL;
    *words = 0;
    *hit = 0;
    hash_more(hash, CACHE_FLAVOUR, sizeof CACHE_FLAVOUR);
    hash_more(hash, device_key, strlen(device_key) + 1);
    hash_more(hash, source, len);
    cached = cache_dir(dir, sizeof dir);
    if (cached) {
        snprintf(path, sizeof path, "%s/%016llx%016llx.spv", dir, (unsigned long long)hash[0],
                 (unsigned long long)hash[1]);
        if (cache_read(path, hash, len, spirv, words)) {
            *hit = 1;
            return RMC_OK;
        }
    }
    st = compile_now(source, len, spirv, words);
    if (st == RMC_OK && cached)
        cache_write(path, hash, len, *spirv, *words);
    return st;
}
