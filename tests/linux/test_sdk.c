/* Linux tier: the guest SDK end to end, with Linux guests (run it where KVM
 * can run them: tools/kvm-host -- build/tests/linux/test_sdk KERNEL BUILD).
 *
 * guests/sdk-demo:
 *   - its whole catalog is registered before any entry is hit;
 *   - an entry never reached is reported unexercised, by name;
 *   - SOMETIMES true once passes; no failure in a normal run;
 *   - SDK_DEMO_FAIL=always fails the run with the message and file:line;
 *     SDK_DEMO_FAIL=unreachable fails with the UNREACHABLE;
 *   - random values are equal for equal seeds, differ between seeds, are
 *     replayed from a run's record under another seed, and an override of
 *     one choice makes the rare-choice ALWAYS fail;
 *   - the coverage bitmap is non-empty and identical across runs with the
 *     same seed;
 *   - both doorbells give the same assertions and choices.
 * guests/sdk-voidstar (a program using the libvoidstar entry points the way
 * the Antithesis SDKs do): its JSON catalog, assertions, randomness,
 * guidance, events and coverage arrive through the shim; VOIDSTAR_FAIL=1
 * fails the run with its Always assertion. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tap.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/vm.h"
#include "chaoscontrol_protocol.h"

static const char *kernel, *build;

struct result {
    enum cc_stop stop;
    size_t n_catalog_at_registration;   /* entries known at the first catalog event */
    bool all_zero_at_registration;      /* and none of them hit yet */
    uint64_t catalog_event_seq;
    struct cc_assertion *a;
    size_t n;
    bool failed;
    struct cc_sdk_failure failure;
    char failure_details[256];
    char failure_file[256];
    char failure_message[256];
    struct cc_choice *ch;
    size_t nch;
    uint8_t cov[CC_COVERAGE_SIZE];
    size_t edges;
    uint64_t serial_hash;
    struct cc_sdk_stats stats;
    int64_t hello_flags;
    char guidance[256];
    bool saw_custom_event;
    double seconds;
    char *serial;
};

static void result_free(struct result *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free((char *)r->a[i].message);
        free((char *)r->a[i].file);
        free((char *)r->a[i].function);
    }
    free(r->a);
    free(r->ch);
    free(r->serial);
}

static void hook(void *opaque, struct cc_vm *vm, const struct cc_sdk_event *ev)
{
    struct result *r = opaque;
    if (ev->kind == CC_SDK_EV_CATALOG && !r->n_catalog_at_registration) {
        size_t n;
        const struct cc_assertion *a = cc_vm_assertions(vm, &n);
        r->n_catalog_at_registration = n;
        r->all_zero_at_registration = true;
        for (size_t i = 0; i < n; i++)
            if (a[i].hits)
                r->all_zero_at_registration = false;
        r->catalog_event_seq = ev->seq;
    }
    if (ev->kind == CC_SDK_EV_HELLO && !r->hello_flags)
        r->hello_flags = ev->value | (1ll << 40);
    if (ev->kind == CC_SDK_EV_EVENT && !strcmp(ev->name, "voidstar_event"))
        r->saw_custom_event = true;
}

/* The VMM's messages (e.g. about the host's TSC) as TAP comments: kvm-host
 * merges stderr into the TAP stream. */
static void vm_log(void *opaque, const char *msg)
{
    (void)opaque;
    tap_diag("vm: %s", msg);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *dup_str(const char *s)
{
    return strdup(s ? s : "");
}

/* Boot guest NAME with seed, extra command line, choice script, trigger. */
static int run(const char *name, uint64_t seed, const char *append,
               const struct cc_choice_script *sc, int trigger, struct result *r)
{
    memset(r, 0, sizeof(*r));
    char initrd[4096];
    snprintf(initrd, sizeof(initrd), "%s/guests/%s.initrd", build, name);
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.seed = seed;
    cfg.cmdline_extra = append;
    cfg.watchdog_s = 60;
    cfg.log = vm_log;
    struct cc_err err = {0};
    struct cc_vm *vm = NULL;
    if (cc_vm_create(&cfg, &vm, &err) < 0 || cc_vm_load_linux(vm, kernel, initrd, NULL, &err) < 0 ||
        (sc && cc_vm_sdk_set_script(vm, sc, &err) < 0)) {
        tap_diag("%s: %s", name, err.msg);
        cc_vm_destroy(vm);
        return -1;
    }
    struct cc_sdk_options opt;
    cc_vm_sdk_get_options(vm, &opt);
    opt.hook = hook;
    opt.hook_opaque = r;
    opt.trigger = trigger;
    cc_vm_sdk_set_options(vm, &opt);
    /* A normal run takes ~14,000 exits and 14 ms of virtual time; the
     * limits end a run that hangs with exits (which the watchdog does not
     * report) in minutes, not at the test host's timeout. */
    struct cc_run_limits lim = {.max_exits = 400000, .until_vtime_ns = 60ull * 1000000000u};
    struct cc_run_result res;
    /* Said before the run, so a hang shows which run it was. */
    tap_diag("%s seed %llu%s%s: running", name, (unsigned long long)seed, append ? " " : "",
             append ? append : "");
    double t0 = now_s();
    if (cc_vm_run(vm, &lim, &res, &err) < 0) {
        tap_diag("%s: %s", name, err.msg);
        cc_vm_destroy(vm);
        return -1;
    }
    r->seconds = now_s() - t0;
    r->stop = res.stop;
    const struct cc_assertion *a = cc_vm_assertions(vm, &r->n);
    r->a = calloc(r->n + 1, sizeof(*r->a));
    for (size_t i = 0; i < r->n; i++) {
        r->a[i] = a[i];
        r->a[i].message = dup_str(a[i].message);
        r->a[i].file = dup_str(a[i].file);
        r->a[i].function = dup_str(a[i].function);
    }
    const struct cc_sdk_failure *f = cc_vm_sdk_failure(vm);
    if (f) {
        r->failed = true;
        r->failure = *f;
        snprintf(r->failure_details, sizeof(r->failure_details), "%s", f->details);
        snprintf(r->failure_file, sizeof(r->failure_file), "%s", f->a.file);
        snprintf(r->failure_message, sizeof(r->failure_message), "%s", f->a.message);
    }
    const struct cc_choice *ch = cc_vm_choices(vm, &r->nch);
    r->ch = malloc((r->nch + 1) * sizeof(*ch));
    memcpy(r->ch, ch, r->nch * sizeof(*ch));
    const uint8_t *cov = cc_vm_coverage(vm);
    memcpy(r->cov, cov, CC_COVERAGE_SIZE);
    r->edges = cc_coverage_count(cov, CC_COVERAGE_SIZE);
    r->serial_hash = cc_vm_serial_hash(vm);
    size_t slen;
    const uint8_t *s = cc_vm_serial(vm, &slen);
    r->serial = malloc(slen + 1);
    memcpy(r->serial, s, slen);
    r->serial[slen] = 0;
    cc_vm_sdk_stats(vm, &r->stats);
    size_t ng;
    const struct cc_guidance *g = cc_vm_guidance(vm, &ng);
    for (size_t i = 0; i < ng; i++)
        if (g[i].maximize)
            snprintf(r->guidance, sizeof(r->guidance), "%s=%" PRId64, g[i].message, g[i].best);
    cc_vm_destroy(vm);
    tap_diag("%s seed %" PRIu64 "%s%s: stop %s, %zu assertions, %zu choices, %zu edges, %" PRIu64
             " SDK calls (%" PRIu64 " hypercall, %" PRIu64 " port), %.1f s", name, seed,
             append ? " " : "", append ? append : "", cc_stop_name(r->stop), r->n, r->nch,
             r->edges, r->stats.calls, r->stats.hypercall_calls, r->stats.port_calls, r->seconds);
    return 0;
}

static const struct cc_assertion *find(const struct result *r, const char *message)
{
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->a[i].message, message))
            return &r->a[i];
    return NULL;
}

static bool same_choices(const struct result *x, const struct result *y)
{
    if (x->nch != y->nch)
        return false;
    for (size_t i = 0; i < x->nch; i++)
        if (x->ch[i].value != y->ch[i].value || x->ch[i].kind != y->ch[i].kind)
            return false;
    return true;
}

static bool clean_stop(enum cc_stop s)
{
    return s == CC_STOP_POWEROFF || s == CC_STOP_HALTED;
}

static const char *random_line(const struct result *r)
{
    static char buf[2][256];
    static int k;
    const char *p = strstr(r->serial, "sdk-demo: random:");
    char *out = buf[k++ & 1];
    size_t n = p ? strcspn(p, "\r\n") : 0;
    if (n >= sizeof(buf[0]))
        n = sizeof(buf[0]) - 1;
    memcpy(out, p ? p : "", n);
    out[n] = 0;
    return out;
}

static void test_demo(void)
{
    struct result r1, r1b, r2;
    if (run("sdk-demo", 1, NULL, NULL, CC_SDK_TRIGGER_AUTO, &r1) < 0)
        tap_bail("cannot run sdk-demo");
    ok(clean_stop(r1.stop) && !r1.failed, "sdk-demo runs to the end without a failure (%s)",
       cc_stop_name(r1.stop));
    ok(r1.n_catalog_at_registration >= 11 && r1.all_zero_at_registration,
       "the whole catalog (%zu entries) is registered before any entry is hit",
       r1.n_catalog_at_registration);
    is_int(r1.n, r1.n_catalog_at_registration, "no entry appeared later than the catalog");
    const struct cc_assertion *a = find(&r1, "never reached: a huge x");
    ok(a && a->hits == 0 && cc_assertion_verdict(a) == CC_VERDICT_UNEXERCISED &&
       strstr(a->file, "sdk-demo.c") && !strcmp(a->function, "never_called"),
       "an entry never reached is reported unexercised, by name and location");
    a = find(&r1, "the loop reaches iteration 13");
    ok(a && a->hits == 20 && a->passes == 1 && cc_assertion_verdict(a) == CC_VERDICT_PASSED,
       "SOMETIMES true once (1 of 20 hits) passes");
    a = find(&r1, "a child process reports too");
    ok(a && a->passes == 1, "a forked child's assertion lands in the same table");
    a = find(&r1, "a second thread uses the SDK");
    ok(a && a->hits == 1, "a second thread's assertion counts");
    ok(r1.edges > 100, "coverage bitmap is non-empty (%zu edges)", r1.edges);
    tap_diag("kernel coverage (KCOV) %s", r1.hello_flags & CC_HELLO_KCOV ? "folded into the bitmap" :
                                                           "not available");
    /* Linux-tier tests run only on a KVM that passes the probe, where the
     * hypercall exit exists: the automatic doorbell must be the hypercall,
     * or the port-doorbell comparison below would compare the port with
     * itself. */
    ok(r1.stats.hypercall_calls > 0 && r1.stats.port_calls == 0,
       "the automatic doorbell is the hypercall (%" PRIu64 " hypercall, %" PRIu64 " port calls)",
       r1.stats.hypercall_calls, r1.stats.port_calls);

    if (run("sdk-demo", 1, NULL, NULL, CC_SDK_TRIGGER_AUTO, &r1b) < 0)
        tap_bail("cannot run sdk-demo");
    ok(r1.nch >= 6 && same_choices(&r1, &r1b), "random values are equal for equal seeds");
    ok(!memcmp(r1.cov, r1b.cov, CC_COVERAGE_SIZE),
       "coverage bitmap identical across runs with the same seed");
    ok(r1.serial_hash == r1b.serial_hash, "serial output identical");

    /* Kernel coverage: our kernel has KCOV, so the SDK folds kernel edges
     * into the bitmap (equal for equal seeds, checked just above through
     * the whole bitmap); with CHAOSCONTROL_SDK_KCOV=0 it falls back to the
     * program's own edges and the run is otherwise the same. */
    ok(r1.hello_flags & CC_HELLO_KCOV, "the SDK folds kernel coverage (KCOV) into the bitmap");
    ok(r1.edges == r1b.edges, "same edge count for the same seed (%zu, %zu)", r1.edges,
       r1b.edges);
    struct result rk;
    if (run("sdk-demo", 1, "CHAOSCONTROL_SDK_KCOV=0", NULL, CC_SDK_TRIGGER_AUTO, &rk) < 0)
        tap_bail("cannot run sdk-demo");
    ok(!(rk.hello_flags & CC_HELLO_KCOV), "CHAOSCONTROL_SDK_KCOV=0: the SDK reports KCOV off");
    ok(rk.edges > 0 && rk.edges < r1.edges,
       "kernel edges reach the bitmap: %zu edges with KCOV, %zu without", r1.edges, rk.edges);
    bool same_run = clean_stop(rk.stop) && !rk.failed && rk.n == r1.n && same_choices(&r1, &rk);
    for (size_t i = 0; same_run && i < r1.n; i++)
        same_run = rk.a[i].id == r1.a[i].id && rk.a[i].hits == r1.a[i].hits;
    ok(same_run, "without KCOV the run is otherwise the same (assertions, hits, choices)");
    result_free(&rk);
    if (run("sdk-demo", 2, NULL, NULL, CC_SDK_TRIGGER_AUTO, &r2) < 0)
        tap_bail("cannot run sdk-demo");
    ok(!same_choices(&r1, &r2) && strcmp(random_line(&r1), random_line(&r2)),
       "random values differ between seeds 1 and 2");
    tap_diag("seed 1: %s", random_line(&r1));
    tap_diag("seed 2: %s", random_line(&r2));
    result_free(&r2);

    /* Replay seed 1's choices under seed 3. */
    uint64_t *vals = malloc(r1.nch * sizeof(*vals));
    for (size_t i = 0; i < r1.nch; i++)
        vals[i] = r1.ch[i].value;
    struct cc_choice_script sc = {.replay = vals, .n_replay = r1.nch};
    struct result r3;
    if (run("sdk-demo", 3, NULL, &sc, CC_SDK_TRIGGER_AUTO, &r3) < 0)
        tap_bail("cannot run sdk-demo");
    ok(same_choices(&r1, &r3) && !strcmp(random_line(&r1), random_line(&r3)),
       "seed 1's recorded choices replayed under seed 3 give seed 1's values");
    free(vals);
    result_free(&r3);

    /* Override one choice: #4 is the rare choice (n = 1000). */
    ok(r1.nch > 4 && r1.ch[4].kind == CC_CHOICE_CHOICE && r1.ch[4].n == 1000,
       "choice #4 is the rare choice");
    struct cc_choice_override ov = {4, 999};
    struct cc_choice_script so = {.overrides = &ov, .n_overrides = 1};
    struct result r4;
    if (run("sdk-demo", 1, NULL, &so, CC_SDK_TRIGGER_AUTO, &r4) < 0)
        tap_bail("cannot run sdk-demo");
    ok(r4.stop == CC_STOP_ASSERTION && r4.failed &&
       !strcmp(r4.failure_message, "the rare choice 999 is never taken"),
       "overriding choice #4 with 999 fails the rare-choice ALWAYS (%s)",
       r4.failed ? r4.failure_message : "no failure");
    ok(r4.nch > 4 && r4.ch[4].source == CC_CHOICE_OVERRIDE && r4.ch[4].value == 999 &&
       r4.ch[1].value == r1.ch[1].value, "the override is logged; other choices unchanged");
    result_free(&r4);

    /* Failures on demand. */
    struct result rf;
    if (run("sdk-demo", 1, "SDK_DEMO_FAIL=always", NULL, CC_SDK_TRIGGER_AUTO, &rf) < 0)
        tap_bail("cannot run sdk-demo");
    a = find(&rf, "balance never goes negative");
    ok(rf.stop == CC_STOP_ASSERTION && rf.failed &&
       !strcmp(rf.failure_message, "balance never goes negative") &&
       rf.failure.a.kind == CC_ASSERT_ALWAYS && strstr(rf.failure_file, "sdk-demo.c") && a &&
       rf.failure.a.line == a->line && a->line > 0,
       "a failing ALWAYS fails the run with its message and file:line (%s:%u)",
       rf.failure_file, rf.failure.a.line);
    is_str(rf.failure_details, "{\"balance\":-5}", "the failure carries its details");
    ok(a && cc_assertion_verdict(a) == CC_VERDICT_FAILED, "its verdict is failed");
    result_free(&rf);
    if (run("sdk-demo", 1, "SDK_DEMO_FAIL=unreachable", NULL, CC_SDK_TRIGGER_AUTO, &rf) < 0)
        tap_bail("cannot run sdk-demo");
    ok(rf.stop == CC_STOP_ASSERTION && rf.failed && rf.failure.a.kind == CC_ASSERT_UNREACHABLE &&
       !strcmp(rf.failure_message, "the impossible branch"),
       "reaching an UNREACHABLE fails the run (%s:%u)", rf.failure_file, rf.failure.a.line);
    result_free(&rf);

    /* The other doorbell: same assertions and choices. */
    struct result rp;
    if (run("sdk-demo", 1, NULL, NULL, CC_SDK_TRIGGER_PORT, &rp) < 0)
        tap_bail("cannot run sdk-demo");
    ok(rp.stats.port_calls > 0 && rp.stats.hypercall_calls == 0,
       "--trigger port: the guest rings the port doorbell");
    bool same = rp.n == r1.n && same_choices(&r1, &rp) && clean_stop(rp.stop) && !rp.failed;
    for (size_t i = 0; same && i < r1.n; i++)
        same = rp.a[i].id == r1.a[i].id && rp.a[i].hits == r1.a[i].hits &&
               rp.a[i].passes == r1.a[i].passes;
    ok(same, "port doorbell: same catalog, counts and choices as the hypercall run");
    result_free(&rp);
    result_free(&r1b);
    result_free(&r1);
}

static void test_voidstar(void)
{
    struct result r;
    if (run("sdk-voidstar", 1, NULL, NULL, CC_SDK_TRIGGER_AUTO, &r) < 0)
        tap_bail("cannot run sdk-voidstar");
    ok(clean_stop(r.stop) && !r.failed, "sdk-voidstar runs to the end (%s)", cc_stop_name(r.stop));
    ok(r.hello_flags & CC_HELLO_VOIDSTAR, "the shim introduces itself (hello flags 0x%llx)",
       (unsigned long long)(r.hello_flags & 0xff));
    ok(r.n == 6 && r.n_catalog_at_registration >= 1, "its 6 catalog entries arrive as JSON");
    const struct cc_assertion *a = find(&r, "voidstar: never reached at all");
    ok(a && cc_assertion_verdict(a) == CC_VERDICT_UNEXERCISED && a->line == 106 &&
       !strcmp(a->file, "sdk-voidstar.c"), "an entry never reached: unexercised, by name");
    a = find(&r, "voidstar: totals add up");
    ok(a && a->kind == CC_ASSERT_ALWAYS && cc_assertion_verdict(a) == CC_VERDICT_PASSED,
       "Always: passed");
    a = find(&r, "voidstar: a big random value");
    ok(a && a->kind == CC_ASSERT_SOMETIMES && cc_assertion_verdict(a) == CC_VERDICT_PASSED,
       "Sometimes true once: passed");
    a = find(&r, "voidstar: the impossible");
    ok(a && a->kind == CC_ASSERT_UNREACHABLE && a->hits == 0, "Unreachable not reached");
    a = find(&r, "voidstar: never negative");
    ok(a && a->kind == CC_ASSERT_ALWAYS_OR_UNREACHABLE, "AlwaysOrUnreachable kind mapped");
    ok(r.nch == 4 && r.ch[0].kind == CC_CHOICE_U64, "fuzz_get_random values are logged choices");
    is_str(r.guidance, "voidstar: total=200", "numeric guidance (left - right) kept");
    ok(r.saw_custom_event, "a custom event arrives");
    ok(r.edges > 0, "coverage through the shim (%zu edges)", r.edges);
    struct result r2;
    if (run("sdk-voidstar", 1, NULL, NULL, CC_SDK_TRIGGER_AUTO, &r2) < 0)
        tap_bail("cannot run sdk-voidstar");
    ok(same_choices(&r, &r2) && !memcmp(r.cov, r2.cov, CC_COVERAGE_SIZE),
       "same seed: same random values and coverage through the shim");
    result_free(&r2);
    result_free(&r);

    if (run("sdk-voidstar", 1, "VOIDSTAR_FAIL=1", NULL, CC_SDK_TRIGGER_AUTO, &r) < 0)
        tap_bail("cannot run sdk-voidstar");
    ok(r.stop == CC_STOP_ASSERTION && r.failed &&
       !strcmp(r.failure_message, "voidstar: totals add up") && r.failure.a.line == 101 &&
       !strcmp(r.failure_details, "{\"total\":-1}"),
       "a false Always through the shim fails the run with message, line and details");
    result_free(&r);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_sdk KERNEL BUILD_DIR\n");
        return 2;
    }
    kernel = argv[1];
    build = argv[2];
    tap_plan(0);
    test_demo();
    test_voidstar();
    return tap_exit();
}
