/* Preloaded into the probe: installs its own GMP allocator, as GHC <= 7.8's runtime did
 * (mp_set_memory_functions at start-up), and counts what GMP asks of it.
 * GANETI_COMPAT_GMP_SHIM=hostile hands out memory that faults on any access, standing in for GMP
 * memory that the old runtime's garbage collector moved or freed.
 *
 * A runtime that installs an allocator of its own after this library's constructor (GHC <= 7.8's RTS does,
 * during start-up) would silently replace the shim, and the probe would count nothing. So the shim also
 * defines __gmp_set_memory_functions (what the mp_set_memory_functions macro calls): what the program
 * installs becomes the allocator the shim hands on to, and the shim stays in front of it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef void *(*alloc_fn)(size_t);
typedef void *(*realloc_fn)(void *, size_t, size_t);
typedef void (*free_fn)(void *, size_t);
typedef void (*set_fn)(alloc_fn, realloc_fn, free_fn);

static unsigned long allocations, replaced;
static int hostile;
/* The program's own allocator, once it installs one; NULL: the C library's, as GMP's default. */
static alloc_fn inner_alloc;
static realloc_fn inner_realloc;
static free_fn inner_free;

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
    void *p = inner_alloc ? inner_alloc(size) : malloc(size);
    if (!p)
        abort();
    return p;
}

static void *shim_realloc(void *old, size_t old_size, size_t size)
{
    allocations++;
    if (hostile)
        return poisoned(size);
    void *p = inner_realloc ? inner_realloc(old, old_size, size) : realloc(old, size);
    if (!p)
        abort();
    return p;
}

static void shim_free(void *p, size_t size)
{
    if (hostile)
        return;
    if (inner_free)
        inner_free(p, size);
    else
        free(p);
}

static void install_shim(void)
{
    /* GMP's own setter: calling mp_set_memory_functions here would reach the definition below. */
    set_fn real_set = (set_fn)dlsym(RTLD_NEXT, "__gmp_set_memory_functions");
    if (!real_set) {
        fprintf(stderr, "gmp-shim: __gmp_set_memory_functions not found: %s\n", dlerror());
        abort();
    }
    real_set(shim_alloc, shim_realloc, shim_free);
}

void __gmp_set_memory_functions(alloc_fn alloc, realloc_fn realloc_, free_fn free_)
{
    replaced++;
    inner_alloc = alloc;
    inner_realloc = realloc_;
    inner_free = free_;
    install_shim();
}

__attribute__((constructor)) static void install(void)
{
    const char *mode = getenv("GANETI_COMPAT_GMP_SHIM");
    hostile = mode && strcmp(mode, "hostile") == 0;
    install_shim();
    fprintf(stderr, "gmp-shim: allocator hook installed (%s)\n", hostile ? "hostile" : "counting");
}

__attribute__((destructor)) static void report(void)
{
    /* Named by run, since the container's output streams may interleave out of order. */
    const char *run = getenv("GANETI_COMPAT_PROBE_RUN");
    if (replaced)
        fprintf(stderr, "gmp-shim: the program installed its own allocator %lu time(s): counted through it (%s)\n",
                replaced, run ? run : "unnamed");
    fprintf(stderr, "gmp-shim: allocations %lu (%s)\n", allocations, run ? run : "unnamed");
}
