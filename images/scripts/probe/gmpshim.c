/* Preloaded into the probe: installs its own GMP allocator, as GHC <= 7.8's runtime did
 * (mp_set_memory_functions at start-up), and counts what GMP asks of it.
 * GANETI_COMPAT_GMP_SHIM=hostile hands out memory that faults on any access, standing in for GMP
 * memory that the old runtime's garbage collector moved or freed. */
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static unsigned long allocations;
static int hostile;

static void *poisoned(size_t size)
{
    void *p = mmap(NULL, size ? size : 1, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void *shim_alloc(size_t size)
{
    allocations++;
    if (hostile)
        return poisoned(size);
    void *p = malloc(size);
    if (!p)
        abort();
    return p;
}

static void *shim_realloc(void *old, size_t old_size, size_t size)
{
    (void)old_size;
    allocations++;
    if (hostile)
        return poisoned(size);
    void *p = realloc(old, size);
    if (!p)
        abort();
    return p;
}

static void shim_free(void *p, size_t size)
{
    (void)size;
    if (!hostile)
        free(p);
}

__attribute__((constructor)) static void install(void)
{
    const char *mode = getenv("GANETI_COMPAT_GMP_SHIM");
    hostile = mode && strcmp(mode, "hostile") == 0;
    mp_set_memory_functions(shim_alloc, shim_realloc, shim_free);
    fprintf(stderr, "gmp-shim: allocator hook installed (%s)\n", hostile ? "hostile" : "counting");
}

__attribute__((destructor)) static void report(void)
{
    /* Named by run, since the container's output streams may interleave out of order. */
    const char *run = getenv("GANETI_COMPAT_PROBE_RUN");
    fprintf(stderr, "gmp-shim: allocations %lu (%s)\n", allocations, run ? run : "unnamed");
}
