/* bench/snapshot_reset: how long a snapshot reset takes after a guest has
 * dirtied 1 MiB, 16 MiB or (nearly) all of a 256 MiB VM, measured side by
 * side with the naive alternative, copying all of guest memory back.
 * Prints medians and ratios. A tiny guest (the tests/kvm harness) does the
 * dirtying, so no Linux is needed; run it on real KVM for meaningful
 * numbers (bench/snapshot.sh does, through tools/kvm-host). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chaoscontrol/snapshot.h"
#include "kvmtest.h"
#include "tap.h"

#define MEM (256ull << 20)
#define FIRST_FREE (8ull << 20)     /* the guest's image and stack live below */
#define REPS 9

GUEST_CODE static void guest_dirty(uint64_t bytes)
{
    for (;;) {
        volatile uint8_t *p = (volatile uint8_t *)(uintptr_t)FIRST_FREE;
        for (uint64_t off = 0; off < bytes; off += 4096)
            p[off]++;
        GUEST_SYNC(1);
    }
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_d);
    return v[n / 2];
}

static void quiet(void *opaque, const char *msg)
{
    (void)opaque;
    (void)msg;
}

int main(void)
{
    const uint64_t sizes[] = {1ull << 20, 16ull << 20, MEM - FIRST_FREE};
    const char *names[] = {"1 MiB", "16 MiB", "248 MiB (all but the guest's 8 MiB)"};
    /* The naive reset copies 256 MiB of saved memory over guest RAM; the
     * same copy between two resident buffers stands in for it (so the
     * guest's own memory is left alone). */
    uint8_t *copy_src = malloc(MEM), *copy_dst = malloc(MEM);
    if (!copy_src || !copy_dst)
        tap_bail("out of memory");
    memset(copy_src, 1, MEM);
    memset(copy_dst, 2, MEM);

    printf("snapshot reset on a 256 MiB guest (median of %d), vs copying all 256 MiB back\n", REPS);
    printf("%-40s %12s %12s %8s %10s\n", "dirtied", "reset (us)", "copy (us)", "ratio", "pages");
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct cc_vm_config cfg;
        cc_vm_config_default(&cfg);
        cfg.mem_size = MEM;
        cfg.log = quiet;
        struct kt_vm *t = kt_create(guest_dirty, sizes[i], &cfg);
        struct kt_ucall uc;
        if (kt_run(t, &uc) != KT_SYNC)
            tap_bail("guest did not start");
        struct cc_snapshot *s;
        struct cc_err err = {0};
        if (cc_vm_snapshot(t->vm, &s, &err) < 0)
            tap_bail("snapshot: %s", err.msg);
        double reset[REPS], copy[REPS];
        uint64_t pages = 0;
        for (int r = 0; r < REPS; r++) {
            if (kt_run(t, &uc) != KT_SYNC)
                tap_bail("guest stopped");
            double t0 = now_us();
            if (cc_vm_restore(t->vm, s, &err) < 0)
                tap_bail("restore: %s", err.msg);
            reset[r] = now_us() - t0;
            pages = cc_vm_last_reset_pages(t->vm);
            t0 = now_us();
            memcpy(copy_dst, copy_src, MEM);
            copy[r] = now_us() - t0;
        }
        double mr = median(reset, REPS), mc = median(copy, REPS);
        printf("%-40s %12.0f %12.0f %8.3f %10llu\n", names[i], mr, mc, mr / mc,
               (unsigned long long)pages);
        cc_snapshot_put(s);
        kt_destroy(t);
    }
    free(copy_src);
    free(copy_dst);
    return 0;
}
