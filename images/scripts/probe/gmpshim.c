/* Preloaded into the probe: installs its own GMP allocator, as GHC <= 7.8's runtime did
 * (mp_set_memory_functions at start-up), and counts what GMP asks of it, by who asked.
 *
 * Who asked: the first frame of the call stack outside GMP and this shim, told by the library that holds it
 * (dladdr). GnuTLS, nettle and hogweed are TLS; the program (with an old GHC, its Integer arithmetic: integer-gmp
 * 0.5 allocates every big Integer through GMP) and any other library are not. An allocation whose caller the
 * stack does not show is "unknown", never taken for either.
 *
 * GANETI_COMPAT_GMP_SHIM=hostile hands the TLS libraries memory that faults on any access, standing in for GMP
 * memory that the old runtime's garbage collector moved or freed; everyone else gets what they would have got,
 * so a crash is TLS's doing. Unknown callers are not poisoned, and counted, so the tool can say it could not tell.
 *
 * A runtime that installs an allocator of its own after this library's constructor (GHC <= 7.8's RTS does,
 * during start-up) would silently replace the shim, and the probe would count nothing. So the shim also
 * defines __gmp_set_memory_functions (what the mp_set_memory_functions macro calls): what the program
 * installs becomes the allocator the shim hands on to, and the shim stays in front of it. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef void *(*alloc_fn)(size_t);
typedef void *(*realloc_fn)(void *, size_t, size_t);
typedef void (*free_fn)(void *, size_t);
typedef void (*set_fn)(alloc_fn, realloc_fn, free_fn);

enum caller { TLS, OTHER, UNKNOWN, CALLERS };
static const char *const caller_names[CALLERS] = {"tls", "other", "unknown"};
static unsigned long allocations, replaced, by_caller[CALLERS], poisoned_count;
static int hostile;
/* The program's own allocator, once it installs one; NULL: the C library's, as GMP's default. */
static alloc_fn inner_alloc;
static realloc_fn inner_realloc;
static free_fn inner_free;
static void *gmp_base, *shim_base;

/* Who asked, by library: the few that did, for the evidence ("libhogweed.so.6 650"). */
#define NAMED 8
static struct { char name[64]; unsigned long count; } named[NAMED];
static int named_lock, poisoned_said;
static __thread const char *asked_by; /* the library of the last caller, for the first poisoned allocation's line */

/* Poisoned memory is taken from one reserved range that is never readable, so a block is known to be poisoned
 * by its address when it comes back to be freed or grown. */
#define ARENA (64UL << 30)
static char *arena, *arena_next;

static void count_name(const char *name)
{
    while (__atomic_test_and_set(&named_lock, __ATOMIC_ACQUIRE))
        ;
    int i = 0;
    while (i < NAMED - 1 && named[i].name[0] && strcmp(named[i].name, name) != 0)
        i++;
    if (!named[i].name[0] || i == NAMED - 1) /* the last entry holds whoever else asked */
        snprintf(named[i].name, sizeof named[i].name, "%s", i == NAMED - 1 ? "others" : name);
    named[i].count++;
    __atomic_clear(&named_lock, __ATOMIC_RELEASE);
}

static int is_tls(const char *name)
{
    return strncmp(name, "libgnutls", 9) == 0 || strncmp(name, "libhogweed.", 11) == 0 ||
           strncmp(name, "libnettle.", 10) == 0;
}

static enum caller who_asked(void)
{
    void *frames[48];
    int depth = backtrace(frames, 48);
    for (int i = 0; i < depth; i++) {
        Dl_info info;
        if (!dladdr(frames[i], &info) || !info.dli_fbase)
            break; /* code no library holds (a JIT, a broken stack): say so, never guess */
        if (info.dli_fbase == shim_base || info.dli_fbase == gmp_base)
            continue;
        const char *path = info.dli_fname && info.dli_fname[0] ? info.dli_fname : "program";
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        count_name(name);
        asked_by = name;
        return is_tls(name) ? TLS : OTHER;
    }
    count_name("unknown");
    return UNKNOWN;
}

static void *poisoned(size_t size)
{
    size_t length = ((size ? size : 1) + 4095) & ~4095UL;
    char *p = __atomic_fetch_add(&arena_next, length, __ATOMIC_RELAXED);
    if (!arena || p + length > arena + ARENA)
        return NULL;
    __atomic_fetch_add(&poisoned_count, 1, __ATOMIC_RELAXED);
    if (!__atomic_test_and_set(&poisoned_said, __ATOMIC_RELAXED)) {
        /* Said now: a run that crashes never reaches the report at exit. */
        const char *run = getenv("GANETI_COMPAT_PROBE_RUN");
        fprintf(stderr, "gmp-shim: first poisoned allocation, by %s (%s)\n", asked_by ? asked_by : "unknown",
                run ? run : "unnamed");
    }
    return p;
}

static int is_poisoned(void *p)
{
    return arena && (char *)p >= arena && (char *)p < arena + ARENA;
}

static enum caller counted(void)
{
    __atomic_fetch_add(&allocations, 1, __ATOMIC_RELAXED);
    enum caller who = who_asked();
    __atomic_fetch_add(&by_caller[who], 1, __ATOMIC_RELAXED);
    return who;
}

static void *shim_alloc(size_t size)
{
    void *p = NULL;
    if (counted() == TLS && hostile)
        p = poisoned(size);
    if (!p)
        p = inner_alloc ? inner_alloc(size) : malloc(size);
    if (!p)
        abort();
    return p;
}

static void *shim_realloc(void *old, size_t old_size, size_t size)
{
    enum caller who = counted();
    void *p = NULL;
    if (hostile && (who == TLS || is_poisoned(old))) /* a poisoned block cannot be copied: it stays poisoned */
        p = poisoned(size);
    else
        p = inner_realloc ? inner_realloc(old, old_size, size) : realloc(old, size);
    if (!p)
        abort();
    return p;
}

static void shim_free(void *p, size_t size)
{
    if (is_poisoned(p))
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

static void *base_of(void *address)
{
    Dl_info info;
    return address && dladdr(address, &info) ? info.dli_fbase : NULL;
}

__attribute__((constructor)) static void install(void)
{
    const char *mode = getenv("GANETI_COMPAT_GMP_SHIM");
    void *frames[2];
    hostile = mode && strcmp(mode, "hostile") == 0;
    backtrace(frames, 2); /* loads the unwinder now, not inside the first allocation */
    shim_base = base_of((void *)install);
    gmp_base = base_of(dlsym(RTLD_NEXT, "__gmpz_init"));
    if (hostile) {
        void *p = mmap(NULL, ARENA, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        arena = arena_next = p == MAP_FAILED ? NULL : p;
    }
    install_shim();
    fprintf(stderr, "gmp-shim: allocator hook installed (%s)\n", hostile ? "hostile: TLS libraries only" : "counting");
}

__attribute__((destructor)) static void report(void)
{
    /* Named by run, since the container's output streams may interleave out of order. */
    const char *run = getenv("GANETI_COMPAT_PROBE_RUN");
    char by[NAMED * 84] = "", *at = by;
    if (replaced)
        fprintf(stderr, "gmp-shim: the program installed its own allocator %lu time(s): counted through it (%s)\n",
                replaced, run ? run : "unnamed");
    for (int i = 0; i < NAMED && named[i].name[0]; i++)
        at += snprintf(at, by + sizeof by - at, "%s%s=%lu", i ? "," : "", named[i].name, named[i].count);
    fprintf(stderr, "gmp-shim: allocations %lu (%s) %s %lu %s %lu %s %lu poisoned %lu by %s\n", allocations,
            run ? run : "unnamed", caller_names[TLS], by_caller[TLS], caller_names[OTHER], by_caller[OTHER],
            caller_names[UNKNOWN], by_caller[UNKNOWN], poisoned_count, by[0] ? by : "-");
}
