/* Guest SDK, coverage: a 64 KiB AFL-style edge bitmap.
 *
 * Every instrumented location has a 16-bit id; an edge is (previous
 * location >> 1) XOR (this location), and its byte in the bitmap counts
 * executions (saturating at 255). Under the VMM the bitmap is the shared
 * one in guest RAM (CC_PROTO_COVERAGE_GPA), so the VMM reads it without an
 * exit and snapshots carry it; before start-up and in local mode it is a
 * private array.
 *
 * Sources of locations:
 *   - clang -fsanitize-coverage=trace-pc-guard: __sanitizer_cov_trace_pc_guard
 *     with ids assigned in __sanitizer_cov_trace_pc_guard_init;
 *   - gcc -fsanitize-coverage=trace-pc: __sanitizer_cov_trace_pc, with the
 *     caller's PC hashed to an id;
 *   - cc_coverage_edge(id) placed by hand;
 *   - kernel coverage: when /sys/kernel/debug/kcov works, each thread that
 *     makes SDK calls collects the kernel PCs it executes, and the SDK folds
 *     them into the same bitmap at its calls (a separate edge chain).
 * Without KCOV (no debugfs, kernel without it) the kernel part is silently
 * skipped. This file must not be compiled with coverage instrumentation. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sdk_internal.h"

#define MAP_SIZE CC_PROTO_COVERAGE_SIZE

static uint8_t private_map[MAP_SIZE];
static uint8_t *volatile cov_map = private_map;
static __thread uint32_t prev_loc;
static uint32_t guard_next;

static inline uint32_t mix32(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x;
}

CCSDK_NOINSTR static inline void edge(uint32_t loc)
{
    uint8_t *m = cov_map;
    uint32_t i = (loc ^ prev_loc) & (MAP_SIZE - 1);
    if (m[i] != 255)
        m[i]++;
    prev_loc = (loc & (MAP_SIZE - 1)) >> 1;
}

void ccsdk_cov_edge(uint32_t loc)
{
    edge(loc);
}

void ccsdk_cov_attach(uint8_t *map)
{
    if (!map || map == cov_map)
        return;
    /* Carry over what was counted before start-up. */
    for (size_t i = 0; i < MAP_SIZE; i++) {
        if (private_map[i]) {
            unsigned v = (unsigned)map[i] + private_map[i];
            map[i] = (uint8_t)(v > 255 ? 255 : v);
        }
    }
    memset(private_map, 0, sizeof(private_map));
    __atomic_store_n(&cov_map, map, __ATOMIC_SEQ_CST);
}

void cc_coverage_edge(uint32_t id)
{
    edge(mix32(id) | 1);
}

/* ---- compiler callbacks ---- */

__attribute__((visibility("default"))) CCSDK_NOINSTR
void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop);
__attribute__((visibility("default"))) CCSDK_NOINSTR
void __sanitizer_cov_trace_pc_guard(uint32_t *guard);
__attribute__((visibility("default"))) CCSDK_NOINSTR
void __sanitizer_cov_trace_pc(void);

void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop)
{
    if (start == stop || *start)
        return;     /* already initialised (each module calls once per ctor) */
    for (uint32_t *g = start; g < stop; g++) {
        uint32_t id = mix32(++guard_next) & (MAP_SIZE - 1);
        *g = id ? id : 1;
    }
}

void __sanitizer_cov_trace_pc_guard(uint32_t *guard)
{
    uint32_t id = *guard;
    if (id)
        edge(id);
}

void __sanitizer_cov_trace_pc(void)
{
    edge(mix32((uint64_t)(uintptr_t)__builtin_return_address(0)));
}

/* ---- kernel coverage ---- */

#define KCOV_INIT_TRACE 0x80086301ul    /* _IOR('c', 1, unsigned long) */
#define KCOV_ENABLE     0x6364ul        /* _IO('c', 100) */
#define KCOV_TRACE_PC   0
#define KCOV_WORDS      (1u << 16)

static bool kcov_wanted;
static int kcov_broken;         /* set once KCOV proved unusable */
static __thread int kcov_fd = -1;
static __thread uint64_t *kcov_area;
static __thread bool kcov_tried;
static __thread uint32_t kcov_prev;

static int kcov_open(void)
{
    int fd = open("/sys/kernel/debug/kcov", O_RDWR | O_CLOEXEC);
    if (fd >= 0 || getpid() != 1)
        return fd;
    /* We are init: mount what the path needs, once, ignoring failures. */
    struct stat st;
    if (stat("/sys/kernel", &st) < 0)
        mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount("debugfs", "/sys/kernel/debug", "debugfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    return open("/sys/kernel/debug/kcov", O_RDWR | O_CLOEXEC);
}

static void kcov_setup(void)
{
    kcov_tried = true;
    if (!kcov_wanted || __atomic_load_n(&kcov_broken, __ATOMIC_RELAXED))
        return;
    int fd = kcov_open();
    if (fd < 0) {
        __atomic_store_n(&kcov_broken, 1, __ATOMIC_RELAXED);
        return;
    }
    if (ioctl(fd, KCOV_INIT_TRACE, (unsigned long)KCOV_WORDS) < 0) {
        close(fd);
        __atomic_store_n(&kcov_broken, 1, __ATOMIC_RELAXED);
        return;
    }
    void *area = mmap(NULL, KCOV_WORDS * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
                      fd, 0);
    if (area == MAP_FAILED) {
        close(fd);
        __atomic_store_n(&kcov_broken, 1, __ATOMIC_RELAXED);
        return;
    }
    if (ioctl(fd, KCOV_ENABLE, KCOV_TRACE_PC) < 0) {
        munmap(area, KCOV_WORDS * sizeof(uint64_t));
        close(fd);
        __atomic_store_n(&kcov_broken, 1, __ATOMIC_RELAXED);
        return;
    }
    __atomic_store_n((uint64_t *)area, 0, __ATOMIC_RELAXED);
    kcov_fd = fd;
    kcov_area = area;
}

void ccsdk_kcov_enable(bool on)
{
    kcov_wanted = on;
}

bool ccsdk_kcov_active(void)
{
    if (!kcov_tried)
        kcov_setup();
    return kcov_area != NULL;
}

void ccsdk_kcov_fold(void)
{
    if (!kcov_tried)
        kcov_setup();
    uint64_t *a = kcov_area;
    if (!a)
        return;
    uint64_t n = __atomic_load_n(&a[0], __ATOMIC_RELAXED);
    if (n > KCOV_WORDS - 1)
        n = KCOV_WORDS - 1;
    uint8_t *m = cov_map;
    uint32_t prev = kcov_prev;
    for (uint64_t i = 1; i <= n; i++) {
        uint32_t loc = mix32(a[i]) & (MAP_SIZE - 1);
        uint32_t idx = loc ^ prev;
        if (m[idx] != 255)
            m[idx]++;
        prev = loc >> 1;
    }
    kcov_prev = prev;
    __atomic_store_n(&a[0], 0, __ATOMIC_RELAXED);
}

void ccsdk_kcov_forget(void)
{
    /* In a fork child: the parent's KCOV is not ours (it traces the parent
     * thread); drop it and set up our own on the next call. */
    if (kcov_area)
        munmap(kcov_area, KCOV_WORDS * sizeof(uint64_t));
    if (kcov_fd >= 0)
        close(kcov_fd);
    kcov_area = NULL;
    kcov_fd = -1;
    kcov_tried = false;
    kcov_prev = 0;
}
