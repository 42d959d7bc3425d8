/* bench/sdk_doorbell: what one guest SDK call costs on each doorbell.
 *
 *   build/bench/sdk_doorbell --kernel K --initrd build/guests/sdk-bench.initrd [--n N]
 *
 * Boots guests/sdk-bench, which makes N calls per segment between
 * bench_start and bench_end events (port doorbell, hypercall doorbell,
 * cc_random_choice, an assertion that does not exit, a plain port write).
 * The host stamps each event with CLOCK_MONOTONIC as the exit is handled
 * (guest clocks are virtual and say nothing about cost) and counts exits, so
 * each segment gives wall time and exits per call. Ratios against the plain
 * port write, measured in the same run, are what carry over to other
 * machines. Needs KVM that runs Linux guests (tools/kvm-host). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/vm.h"

#define MAX_SEG 8

struct seg {
    char name[32];
    long n;
    double t0, t1;
    uint64_t e0, e1;
    bool done, skipped;
};

static struct seg segs[MAX_SEG];
static int nseg;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct seg *seg_of(const char *details)
{
    const char *p = strstr(details, "\"segment\":\"");
    if (!p)
        return NULL;
    p += 11;
    size_t len = strcspn(p, "\"");
    for (int i = 0; i < nseg; i++)
        if (strlen(segs[i].name) == len && !strncmp(segs[i].name, p, len))
            return &segs[i];
    if (nseg == MAX_SEG || len >= sizeof(segs[0].name))
        return NULL;
    struct seg *s = &segs[nseg++];
    memcpy(s->name, p, len);
    s->name[len] = 0;
    const char *n = strstr(details, "\"n\":");
    s->n = n ? strtol(n + 4, NULL, 10) : 0;
    return s;
}

static void hook(void *opaque, struct cc_vm *vm, const struct cc_sdk_event *ev)
{
    (void)opaque;
    if (ev->kind != CC_SDK_EV_EVENT)
        return;
    double t = now_s();
    struct seg *s = seg_of(ev->details);
    if (!s)
        return;
    if (!strcmp(ev->name, "bench_start")) {
        s->t0 = t;
        s->e0 = cc_vm_exit_count(vm);
    } else if (!strcmp(ev->name, "bench_end")) {
        s->t1 = t;
        s->e1 = cc_vm_exit_count(vm);
        s->done = true;
    } else if (!strcmp(ev->name, "bench_skip")) {
        s->skipped = true;
    }
}

int main(int argc, char **argv)
{
    const char *kernel = NULL, *initrd = NULL;
    long n = 10000;
    static const struct option opts[] = {
        {"kernel", required_argument, NULL, 'k'}, {"initrd", required_argument, NULL, 'i'},
        {"n", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': kernel = optarg; break;
        case 'i': initrd = optarg; break;
        case 'n': n = strtol(optarg, NULL, 10); break;
        default:
            fprintf(stderr, "usage: sdk_doorbell --kernel K --initrd I [--n N]\n");
            return 2;
        }
    }
    if (!kernel || !initrd || n <= 0) {
        fprintf(stderr, "usage: sdk_doorbell --kernel K --initrd I [--n N]\n");
        return 2;
    }
    char append[64];
    snprintf(append, sizeof(append), "SDK_BENCH_N=%ld", n);
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.cmdline_extra = append;
    struct cc_err err = {0};
    struct cc_vm *vm = NULL;
    if (cc_vm_create(&cfg, &vm, &err) < 0 || cc_vm_load_linux(vm, kernel, initrd, NULL, &err) < 0) {
        fprintf(stderr, "sdk_doorbell: %s\n", err.msg);
        cc_vm_destroy(vm);
        return 1;
    }
    struct cc_sdk_options opt;
    cc_vm_sdk_get_options(vm, &opt);
    opt.hook = hook;
    cc_vm_sdk_set_options(vm, &opt);
    struct cc_run_result res;
    if (cc_vm_run(vm, NULL, &res, &err) < 0) {
        fprintf(stderr, "sdk_doorbell: %s\n", err.msg);
        cc_vm_destroy(vm);
        return 1;
    }
    struct cc_sdk_stats st;
    cc_vm_sdk_stats(vm, &st);
    printf("sdk doorbell benchmark: %ld calls per segment; hypercall doorbell %s; guest stop %s\n",
           n, st.hypercall_enabled ? "enabled" : "not offered by this KVM", cc_stop_name(res.stop));
    double base = 0;
    for (int i = 0; i < nseg; i++)
        if (!strcmp(segs[i].name, "pio") && segs[i].done)
            base = (segs[i].t1 - segs[i].t0) / (double)segs[i].n;
    printf("%-10s %12s %12s %14s\n", "segment", "us/call", "exits/call", "vs plain exit");
    for (int i = 0; i < nseg; i++) {
        struct seg *s = &segs[i];
        if (s->skipped || !s->done) {
            printf("%-10s %12s\n", s->name, "n/a");
            continue;
        }
        double per = (s->t1 - s->t0) / (double)s->n;
        double exits = (double)(s->e1 - s->e0) / (double)s->n;
        if (base > 0)
            printf("%-10s %12.2f %12.3f %13.2fx\n", s->name, per * 1e6, exits, per / base);
        else
            printf("%-10s %12.2f %12.3f %14s\n", s->name, per * 1e6, exits, "-");
    }
    cc_vm_destroy(vm);
    return 0;
}
