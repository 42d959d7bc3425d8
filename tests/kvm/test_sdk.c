/* Tiny-guest tests of the guest SDK's VMM side (src/sdk/host.c) through the
 * real run loop, without Linux: the header page the VMM writes at creation,
 * the port doorbell, the hypercall doorbell (where this KVM offers
 * KVM_CAP_EXIT_HYPERCALL; a tiny guest runs in ring 0, so it can execute
 * VMCALL/VMMCALL itself), every mailbox operation, staging of long payloads,
 * malformed requests, the stop on a failed assertion, choice scripts and
 * the save/load of the SDK state. The guest speaks the wire protocol by
 * hand (sdk/chaoscontrol_protocol.h), as the SDK library would. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/vm_ext.h"
#include "chaoscontrol_protocol.h"
#include "kvmtest.h"
#include "tap.h"
#include "util/buf.h"

#define HDR ((volatile struct cc_proto_header *)CC_PROTO_HEADER_GPA)
#define MB(i) ((volatile struct cc_proto_mailbox *)(CC_PROTO_MAILBOX_GPA + \
                                                     (uint64_t)(i) * CC_PROTO_MAILBOX_SIZE))
#define SLOT(s) ((volatile struct cc_proto_slot *)(CC_PROTO_TABLE_GPA + \
                                                    ((uint64_t)(s) - 1) * CC_PROTO_SLOT_SIZE))

#define ID_ALWAYS    0x1111111111111111ull
#define ID_SOMETIMES 0x2222222222222222ull
#define ID_NEVER     0x3333333333333333ull
#define N_PINGS      10000

/* ---- guest side ---- */

GUEST_CODE static void g_copy(volatile uint8_t *dst, const char *src, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        dst[i] = (uint8_t)src[i];
}

GUEST_CODE static uint32_t g_strlen(const char *s)
{
    uint32_t n = 0;
    while (s[n])
        n++;
    return n;
}

GUEST_CODE static uint64_t g_hypercall(uint64_t gpa, uint64_t op)
{
    uint64_t ret;
    if (HDR->flags & CC_PROTO_F_VMMCALL)
        __asm__ volatile("vmmcall" : "=a"(ret)
                         : "a"((uint64_t)CC_PROTO_HYPERCALL_NR), "b"(gpa), "c"(1ull), "d"(op)
                         : "memory");
    else
        __asm__ volatile("vmcall" : "=a"(ret)
                         : "a"((uint64_t)CC_PROTO_HYPERCALL_NR), "b"(gpa), "c"(1ull), "d"(op)
                         : "memory");
    return ret;
}

/* Fill mailbox i and ring; returns the status. */
GUEST_CODE static int32_t g_call(uint32_t i, uint32_t op, uint32_t flags, uint64_t a0,
                                 uint64_t a1, uint64_t a2, const char *p, uint32_t len,
                                 int hypercall)
{
    volatile struct cc_proto_mailbox *mb = MB(i);
    mb->op = op;
    mb->flags = flags;
    mb->len = len;
    mb->arg[0] = a0;
    mb->arg[1] = a1;
    mb->arg[2] = a2;
    mb->status = -38;
    if (p)
        g_copy(mb->data, p, len);
    if (hypercall)
        g_hypercall(CC_PROTO_MAILBOX_GPA + (uint64_t)i * CC_PROTO_MAILBOX_SIZE, op);
    else
        kt_outl(CC_PROTO_PORT, i);
    return mb->status;
}

/* Append a catalog record to buf at *off. */
GUEST_CODE static void g_catrec(volatile uint8_t *buf, uint32_t *off, uint64_t id, uint32_t kind,
                                uint32_t line, const char *msg)
{
    uint32_t ml = g_strlen(msg);
    volatile struct cc_proto_catrec *r = (volatile struct cc_proto_catrec *)(buf + *off);
    r->id = id;
    r->kind = kind;
    r->line = line;
    r->message_len = (uint16_t)ml;
    r->file_len = 6;
    r->function_len = 5;
    r->reserved = 0;
    uint32_t o = *off + sizeof(struct cc_proto_catrec);
    g_copy(buf + o, msg, ml);
    g_copy(buf + o + ml, "demo.c", 6);
    g_copy(buf + o + ml + 6, "guest", 5);
    uint32_t need = (uint32_t)sizeof(struct cc_proto_catrec) + ml + 11;
    need = (need + 7) & ~7u;
    for (uint32_t k = sizeof(struct cc_proto_catrec) + ml + 11; k < need; k++)
        buf[*off + k] = 0;
    *off += need;
}

/* arg: 1 when the hypercall doorbell may be tried (see hypercall_works). */
GUEST_CODE static void guest_sdk(uint64_t arg)
{
    /* 1: the header */
    GUEST_SYNC2(HDR->magic == CC_PROTO_MAGIC && HDR->version == CC_PROTO_VERSION &&
                HDR->mailbox_gpa == CC_PROTO_MAILBOX_GPA && HDR->port == CC_PROTO_PORT,
                HDR->flags);

    /* 2: ping through the port; an unknown op; a bad length */
    HDR->mailbox_owner[0] = 77;
    int32_t ping = g_call(0, CC_OP_PING, 0, 0, 0, 0, 0, 0, 0);
    int32_t unk = g_call(0, 999, 0, 0, 0, 0, 0, 0, 0);
    volatile struct cc_proto_mailbox *mb = MB(0);
    mb->op = CC_OP_PING;
    mb->len = CC_PROTO_MAILBOX_DATA + 1;
    mb->status = -38;
    kt_outl(CC_PROTO_PORT, 0);
    int32_t badlen = mb->status;
    kt_outl(CC_PROTO_PORT, 1000);       /* no such mailbox: ignored */
    GUEST_SYNC4(ping, unk, badlen, 0);

    /* 3: catalog of three entries */
    uint32_t off = 0;
    uint8_t *buf = (uint8_t *)mb->data;
    mb->len = 0;
    g_catrec(buf, &off, ID_ALWAYS, CC_KIND_ALWAYS, 10, "always holds");
    g_catrec(buf, &off, ID_SOMETIMES, CC_KIND_SOMETIMES, 20, "sometimes true");
    g_catrec(buf, &off, ID_NEVER, CC_KIND_REACHABLE, 30, "never reached");
    int32_t st = g_call(0, CC_OP_CATALOG, 0, 3, 0, 0, NULL, off, 0);
    volatile uint32_t *slots = (volatile uint32_t *)mb->data;
    uint32_t s_always = slots[0], s_some = slots[1], s_never = slots[2];
    GUEST_SYNC4(st, s_always, s_some, s_never);

    /* 4: evaluations without exits: table counters only */
    for (int i = 0; i < 5; i++) {
        SLOT(s_always)->hits++;
        SLOT(s_always)->passes++;
        SLOT(s_some)->hits++;
        if (i == 3)
            SLOT(s_some)->passes++;
        else
            SLOT(s_some)->fails++;
    }
    GUEST_SYNC(0);

    /* 5: a failing ALWAYS: counted, then reported (the run stops) */
    SLOT(s_always)->hits++;
    SLOT(s_always)->fails++;
    static const char details[] = "{\"x\": 5}";
    st = g_call(0, CC_OP_ASSERT, 0, ID_ALWAYS,
                CC_ASSERT_COUNTED | ((uint64_t)CC_KIND_ALWAYS << 8), s_always, details,
                sizeof(details) - 1, 0);
    GUEST_SYNC(st);

    /* 6: random values */
    uint64_t c[3];
    for (int i = 0; i < 3; i++) {
        g_call(0, CC_OP_RANDOM, 0, CC_RAND_CHOICE, 10, 0, 0, 0, 0);
        c[i] = mb->ret[0];
    }
    g_call(0, CC_OP_RANDOM, 0, CC_RAND_U64, 0, 0, 0, 0, 0);
    uint64_t u = mb->ret[0];
    GUEST_SYNC4(c[0], c[1], c[2], u);
    st = g_call(0, CC_OP_RANDOM, 0, CC_RAND_BYTES, 16, 0, 0, 0, 0);
    GUEST_SYNC4(st, mb->len, mb->data[0] | (uint64_t)mb->data[15] << 8, 0);

    /* 7: lifecycle events, guidance, an Antithesis JSON event */
    static const char ev[] = "started\0{\"n\":1}";
    g_call(0, CC_OP_EVENT, 0, 0, 0, 0, ev, sizeof(ev) - 1, 0);
    static const char setup[] = "{\"ready\":true}";
    g_call(0, CC_OP_SETUP, 0, 0, 0, 0, setup, sizeof(setup) - 1, 0);
    static const char gm[] = "queue depth";
    g_call(0, CC_OP_GUIDANCE, 0, 5, 1, 0, gm, sizeof(gm) - 1, 0);
    g_call(0, CC_OP_GUIDANCE, 0, 3, 1, 0, gm, sizeof(gm) - 1, 0);    /* not better */
    g_call(0, CC_OP_GUIDANCE, 0, 9, 1, 0, gm, sizeof(gm) - 1, 0);
    static const char js[] =
        "{\"antithesis_assert\":{\"assert_type\":\"sometimes\",\"display_type\":\"Sometimes\","
        "\"condition\":true,\"message\":\"json sometimes\",\"location\":{\"class\":\"\","
        "\"function\":\"f\",\"file\":\"j.c\",\"begin_line\":7,\"begin_column\":0},"
        "\"hit\":true,\"must_hit\":true,\"id\":\"json sometimes\",\"details\":null}}";
    int32_t jst = g_call(0, CC_OP_JSON, 0, 0, 0, 0, js, sizeof(js) - 1, 0);
    int32_t jbad = g_call(0, CC_OP_JSON, 0, 0, 0, 0, "{nope", 5, 0);
    GUEST_SYNC2(jst, jbad);

    /* 8: a long payload in pieces: an event whose details are 10000 bytes */
    char big[4000];
    for (int i = 0; i < 4000; i++)
        big[i] = 'a' + i % 26;
    st = g_call(0, CC_OP_APPEND, 0, 0, 0, 0, "long\0", 5, 0);
    int32_t st2 = g_call(0, CC_OP_APPEND, 0, 5, 0, 0, big, 4000, 0);
    int32_t st3 = g_call(0, CC_OP_APPEND, 0, 4005, 0, 0, big, 4000, 0);
    int32_t st4 = g_call(0, CC_OP_EVENT, CC_MB_STAGED, 0, 0, 0, big, 2000, 0);
    int32_t gap = g_call(0, CC_OP_APPEND, 0, 123, 0, 0, big, 10, 0);   /* wrong offset */
    GUEST_SYNC4(st, st2 | st3, st4, gap);

    /* 9: the hypercall doorbell, when offered */
    if ((HDR->flags & CC_PROTO_F_HYPERCALL) && arg) {
        int32_t hst = g_call(1, CC_OP_PING, 0, 0, 0, 0, 0, 0, 1);
        uint64_t hbad = g_hypercall(0x1234000, 0);     /* not a mailbox */
        GUEST_SYNC4(1, hst, hbad, 0);
    } else {
        GUEST_SYNC4(0, 0, 0, 0);
    }
    GUEST_DONE();
}

/* Doorbells in a loop, for a host-side time per call. */
GUEST_CODE static void guest_pings(uint64_t hypercall)
{
    for (int i = 0; i < N_PINGS; i++)
        g_call(0, CC_OP_PING, 0, 0, 0, 0, 0, 0, (int)hypercall);
    GUEST_DONE();
}

/* One hypercall doorbell (the probe below). */
GUEST_CODE static void guest_hc_probe(uint64_t arg)
{
    (void)arg;
    GUEST_SYNC(g_call(0, CC_OP_PING, 0, 0, 0, 0, 0, 0, 1));
    GUEST_DONE();
}

/* Random values only, for the choice-script tests. */
GUEST_CODE static void guest_choices(uint64_t n)
{
    uint64_t v[4] = {0, 0, 0, 0};
    for (uint64_t i = 0; i < n; i++) {
        g_call(0, CC_OP_RANDOM, 0, CC_RAND_CHOICE, 100, 0, 0, 0, 0);
        if (i < 4)
            v[i] = MB(0)->ret[0];
    }
    GUEST_SYNC4(v[0], v[1], v[2], v[3]);
    GUEST_DONE();
}

/* The guest as an adversary: random mailbox contents, ops, lengths,
 * flags, staging offsets and mailbox indexes, rung many times. */
GUEST_CODE static void guest_garbage(uint64_t seed)
{
    uint64_t x = seed | 1;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t idx = (uint32_t)(x >> 8) % 4;
        volatile struct cc_proto_mailbox *mb = MB(idx);
        volatile uint64_t *w = (volatile uint64_t *)mb;
        /* scribble a few words anywhere in the mailbox */
        for (int k = 0; k < 8; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w[(x >> 20) % (CC_PROTO_MAILBOX_SIZE / 8)] = x;
        }
        mb->op = (uint32_t)(x % 12);
        mb->len = (uint32_t)((x >> 12) % (CC_PROTO_MAILBOX_DATA + 64));
        mb->flags = (uint32_t)(x >> 40) & 3;
        if ((x & 0xf0) == 0x10)
            mb->arg[0] = (x >> 16) % 9000;      /* plausible staging offsets */
        if ((x & 0xf00) == 0x100)
            mb->arg[0] = 1 + (x >> 30) % 200;   /* plausible catalog counts */
        kt_outl(CC_PROTO_PORT, (x & 0xff) == 7 ? 1000 + (uint32_t)x % 100 : idx);
    }
    GUEST_DONE();
}

/* ---- host side ---- */

/* Some KVMs offer KVM_CAP_EXIT_HYPERCALL but never return from a guest's
 * VMCALL (the kvm_pvm software hypervisor spins in KVM_RUN). This test runs
 * only where the probe says KVM is real (tests/kvm/suite.sh: --real), so
 * there the hypercall doorbell must work; if it does not, the hypercall
 * checks fail with the reason (hypercall_why). One call is tried first in
 * a child process with a time limit, so a VMCALL that never returns fails
 * the checks instead of hanging the test. */
static const char *hypercall_why = "not tried";

static bool hypercall_works(void)
{
    static int known = -1;
    if (known >= 0)
        return known;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(5);
        struct kt_vm *t = kt_create(guest_hc_probe, 0, NULL);
        struct cc_sdk_stats st;
        cc_vm_sdk_stats(t->vm, &st);
        if (!st.hypercall_enabled)
            _exit(2);
        struct kt_ucall uc;
        kt_run(t, &uc);
        cc_vm_sdk_stats(t->vm, &st);
        _exit(uc.type == KT_SYNC && uc.args[0] == 0 && st.hypercall_calls == 1 ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    known = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    hypercall_why = known ? "works" :
                    WIFSIGNALED(status) ? "a VMCALL never returned from KVM_RUN" :
                    WIFEXITED(status) && WEXITSTATUS(status) == 2 ?
                    "this KVM does not offer KVM_CAP_EXIT_HYPERCALL" : "the calls failed";
    if (!known)
        tap_diag("the hypercall doorbell does not work on this KVM: %s", hypercall_why);
    return known;
}

static const struct cc_assertion *find(struct cc_vm *vm, uint64_t id)
{
    size_t n;
    const struct cc_assertion *a = cc_vm_assertions(vm, &n);
    for (size_t i = 0; i < n; i++)
        if (a[i].id == id)
            return &a[i];
    return NULL;
}

static unsigned hook_events, hook_catalog_n;

static void hook(void *opaque, struct cc_vm *vm, const struct cc_sdk_event *ev)
{
    (void)opaque;
    hook_events++;
    if (ev->kind == CC_SDK_EV_CATALOG && !hook_catalog_n) {
        size_t n;
        const struct cc_assertion *a = cc_vm_assertions(vm, &n);
        unsigned zero = 0;
        for (size_t i = 0; i < n; i++)
            zero += a[i].hits == 0;
        hook_catalog_n = zero == n ? (unsigned)n : 0;
    }
}

static void test_protocol(void)
{
    struct kt_vm *t = kt_create(guest_sdk, hypercall_works(), NULL);
    struct cc_host_caps caps;
    cc_vm_host_caps(t->vm, &caps);
    struct cc_sdk_options opt;
    cc_vm_sdk_get_options(t->vm, &opt);
    ok(opt.stop_on_failure && !opt.stop_on_setup, "default options: stop on failure only");
    opt.hook = hook;
    cc_vm_sdk_set_options(t->vm, &opt);
    struct cc_sdk_stats stats;
    cc_vm_sdk_stats(t->vm, &stats);
    tap_diag("KVM_CAP_EXIT_HYPERCALL: %s, enabled for the SDK: %s",
             caps.exit_hypercall ? "offered" : "not offered",
             stats.hypercall_enabled ? "yes" : "no");

    struct kt_ucall uc;
    kt_run(t, &uc);
    ok(uc.type == KT_SYNC && uc.args[0] == 1, "guest sees the header (magic, version, layout)");
    is_int(!!(uc.args[1] & CC_PROTO_F_HYPERCALL), stats.hypercall_enabled,
           "header says hypercall exactly when the VMM enabled it");

    kt_run(t, &uc);
    is_int((int32_t)uc.args[0], 0, "ping through the port: status 0");
    is_int((int32_t)uc.args[1], -ENOSYS, "unknown op: -ENOSYS");
    is_int((int32_t)uc.args[2], -EINVAL, "payload longer than a mailbox: -EINVAL");
    cc_vm_sdk_stats(t->vm, &stats);
    ok(stats.bad_calls >= 3, "bad calls counted (%" PRIu64 ")", stats.bad_calls);

    kt_run(t, &uc);
    is_int((int32_t)uc.args[0], 0, "catalog registered");
    ok(uc.args[1] == 1 && uc.args[2] == 2 && uc.args[3] == 3, "slots 1, 2, 3 handed out");
    is_int(hook_catalog_n, 3, "hook saw the whole catalog, nothing hit yet");
    const struct cc_assertion *a = find(t->vm, ID_NEVER);
    ok(a && !strcmp(a->message, "never reached") && !strcmp(a->file, "demo.c") &&
       a->line == 30 && !strcmp(a->function, "guest") && a->kind == CC_ASSERT_REACHABLE,
       "catalog entry has message, file, line, function, kind");

    kt_run(t, &uc);
    a = find(t->vm, ID_SOMETIMES);
    ok(a && a->hits == 5 && a->passes == 1 && a->fails == 4,
       "counts come from the guest's table without exits");
    is_int(cc_assertion_verdict(a), CC_VERDICT_PASSED, "SOMETIMES true once: passed");
    a = find(t->vm, ID_NEVER);
    is_int(cc_assertion_verdict(a), CC_VERDICT_UNEXERCISED, "never reached: unexercised");

    kt_run(t, &uc);
    ok(uc.type == KT_NONE && uc.stop == CC_STOP_ASSERTION, "failed ALWAYS stops the run (%s)",
       cc_stop_name(uc.stop));
    const struct cc_sdk_failure *f = cc_vm_sdk_failure(t->vm);
    ok(f && f->a.id == ID_ALWAYS && !strcmp(f->a.message, "always holds") && f->a.line == 10 &&
       !strcmp(f->details, "{\"x\": 5}") && f->a.fails == 1 && f->a.hits == 6,
       "failure: message, line, details, counts");
    a = find(t->vm, ID_ALWAYS);
    is_int(cc_assertion_verdict(a), CC_VERDICT_FAILED, "ALWAYS verdict: failed");
    kt_run(t, &uc);
    is_int((int32_t)uc.args[0], 0, "the guest continues after the stop");

    kt_run(t, &uc);
    size_t nc;
    const struct cc_choice *ch = cc_vm_choices(t->vm, &nc);
    ok(nc == 4 && ch[0].value == uc.args[0] && ch[1].value == uc.args[1] &&
       ch[2].value == uc.args[2] && ch[3].value == uc.args[3] && ch[3].kind == CC_CHOICE_U64,
       "random values are logged as choices");
    ok(uc.args[0] < 10 && uc.args[1] < 10 && uc.args[2] < 10, "choices are in range");
    kt_run(t, &uc);
    ok(uc.args[0] == 0 && uc.args[1] == 16, "16 random bytes returned");
    ch = cc_vm_choices(t->vm, &nc);
    ok(nc == 5 && ch[4].kind == CC_CHOICE_BYTES && ch[4].n == 16, "bytes logged as a choice");

    kt_run(t, &uc);
    is_int((int32_t)uc.args[0], 0, "Antithesis JSON assertion accepted");
    is_int((int32_t)uc.args[1], -EINVAL, "malformed JSON: -EINVAL");
    size_t ne;
    const struct cc_sdk_event *ev = cc_vm_sdk_events(t->vm, &ne);
    bool saw_event = false, saw_setup = false;
    for (size_t i = 0; i < ne; i++) {
        if (ev[i].kind == CC_SDK_EV_EVENT && !strcmp(ev[i].name, "started") &&
            !strcmp(ev[i].details, "{\"n\":1}") && ev[i].pid == 77)
            saw_event = true;
        if (ev[i].kind == CC_SDK_EV_SETUP && !strcmp(ev[i].details, "{\"ready\":true}"))
            saw_setup = true;
    }
    ok(saw_event, "send_event logged with name, details and the thread id");
    ok(saw_setup, "setup_complete logged with details");
    size_t ng;
    const struct cc_guidance *g = cc_vm_guidance(t->vm, &ng);
    ok(ng == 1 && g[0].maximize && g[0].best == 9 && g[0].updates == 2,
       "guidance keeps the maximum (9, 2 updates)");
    uint64_t jid = cc_proto_assert_id("j.c", 3, 7, "json sometimes", 14);
    a = find(t->vm, jid);
    ok(a && a->kind == CC_ASSERT_SOMETIMES && a->passes == 1 &&
       cc_assertion_verdict(a) == CC_VERDICT_PASSED,
       "JSON assertion joins the catalog with id from file:line:message");

    kt_run(t, &uc);
    ok(uc.args[0] == 0 && uc.args[1] == 0 && uc.args[2] == 0, "staged pieces accepted");
    is_int((int32_t)uc.args[3], -EINVAL, "append at the wrong offset: -EINVAL");
    ev = cc_vm_sdk_events(t->vm, &ne);
    ok(ne && ev[ne - 1].kind == CC_SDK_EV_EVENT && !strcmp(ev[ne - 1].name, "long") &&
       strlen(ev[ne - 1].details) == 10000, "10,005-byte event arrives whole");

    kt_run(t, &uc);
    if (uc.args[0]) {
        is_int((int32_t)uc.args[1], 0, "ping through the hypercall: status 0");
        is_int((int64_t)uc.args[2], -1000, "hypercall on a non-mailbox: -KVM_ENOSYS");
        cc_vm_sdk_stats(t->vm, &stats);
        ok(stats.hypercall_calls == 1, "hypercall counted");
    } else {
        ok(0, "ping through the hypercall (%s)", hypercall_why);
        ok(0, "hypercall on a non-mailbox (%s)", hypercall_why);
        ok(0, "hypercall counted (%s)", hypercall_why);
    }
    kt_run(t, &uc);
    is_int(uc.type, KT_DONE, "guest done");

    /* Save, load into a fresh VM, same report: through the extension's
     * operations, as snapshots do (chaoscontrol/vm_ext.h). */
    const struct cc_vm_ext_ops *x = &cc_sdk_ext_ops;
    struct cc_err err = {0};
    uint8_t *data = NULL;
    size_t len = 0;
    ok(x->save(cc_vm_ext(t->vm, x), &data, &len, &err) == 0, "SDK state saved (%s)", err.msg);
    struct kt_vm *t2 = kt_create(guest_pings, 0, NULL);
    void *st2 = cc_vm_ext(t2->vm, x);
    /* the guest table is guest RAM: copy it too, as a snapshot would */
    memcpy(cc_vm_gpa(t2->vm, CC_PROTO_AREA_GPA, CC_PROTO_AREA_SIZE),
           cc_vm_gpa(t->vm, CC_PROTO_AREA_GPA, CC_PROTO_AREA_SIZE), CC_PROTO_AREA_SIZE);
    ok(data && x->load(st2, data, len, &err) == 0, "SDK state loaded (%zu bytes) %s", len,
       err.msg);
    char *j1 = cc_vm_sdk_json(t->vm), *j2 = cc_vm_sdk_json(t2->vm);
    ok(j1 && j2 && !strcmp(j1, j2), "loaded state gives the same report");
    free(j1);
    free(j2);
    /* Every truncation is refused cleanly. */
    bool all_refused = true;
    for (size_t cut = 0; data && cut < len; cut += 1 + cut / 8)
        if (x->load(st2, data, cut, &err) == 0)
            all_refused = false;
    ok(all_refused, "every truncated record is refused");
    if (data)
        data[8] = 99;     /* version */
    ok(data && x->load(st2, data, len, &err) < 0 && strstr(err.msg, "version 99"),
       "newer version refused: %s", err.msg);
    free(data);
    kt_destroy(t2);
    kt_destroy(t);
}

static void run_choices(uint64_t seed, const struct cc_choice_script *sc, uint64_t out[4])
{
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = KT_MEM_SIZE;
    cfg.seed = seed;
    struct kt_vm *t = kt_create(guest_choices, 6, &cfg);
    struct cc_err err = {0};
    if (sc && cc_vm_sdk_set_script(t->vm, sc, &err) < 0)
        tap_bail("%s", err.msg);
    struct kt_ucall uc;
    kt_run(t, &uc);
    memcpy(out, uc.args, 4 * sizeof(uint64_t));
    kt_run(t, &uc);
    kt_destroy(t);
}

static void test_choices(void)
{
    uint64_t a[4], b[4], c[4], d[4], e[4];
    run_choices(1, NULL, a);
    run_choices(1, NULL, b);
    run_choices(2, NULL, c);
    ok(!memcmp(a, b, sizeof(a)), "same seed, same choices (%" PRIu64 " %" PRIu64 " %" PRIu64
       " %" PRIu64 ")", a[0], a[1], a[2], a[3]);
    ok(memcmp(a, c, sizeof(a)), "another seed, other choices");

    struct cc_choice_override ov[] = {{1, 42}, {3, 1234}, {1, 43}};
    struct cc_choice_script sc = {.overrides = ov, .n_overrides = 3};
    run_choices(1, &sc, d);
    ok(d[0] == a[0] && d[1] == 43 && d[2] == a[2] && d[3] == 1234 % 100,
       "overrides change choices 1 and 3 only (last one wins; values reduced mod n)");

    uint64_t rp[] = {7, 8};
    struct cc_choice_script sr = {.replay = rp, .n_replay = 2, .overrides = ov, .n_overrides = 1};
    run_choices(1, &sr, e);
    ok(e[0] == 7 && e[1] == 42 && e[2] == a[2] && e[3] == a[3],
       "replay list, then the stream; overrides win over the replay list");

    /* A report's choices replay the run exactly. */
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = KT_MEM_SIZE;
    cfg.seed = 5;
    struct kt_vm *t = kt_create(guest_choices, 6, &cfg);
    struct kt_ucall uc;
    kt_run(t, &uc);
    kt_run(t, &uc);
    char *json = cc_vm_sdk_json(t->vm);
    kt_destroy(t);
    struct cc_choice_script js;
    struct cc_err err = {0};
    ok(json && cc_choice_script_from_json(json, &js, &err) == 0 && js.n_overrides == 6,
       "choice script from a run report %s", err.msg);
    free(json);
    uint64_t f[4], g[4];
    run_choices(5, NULL, f);
    run_choices(99, &js, g);
    ok(!memcmp(f, g, sizeof(f)), "replaying the report under another seed gives the same values");
    cc_choice_script_free(&js);

    ok(cc_choice_script_from_json("{\"replay\": [1, \"x\"]}", &js, &err) < 0 &&
       strstr(err.msg, "replay[1]"), "bad script: %s", err.msg);
    ok(cc_choice_script_from_json("[1]", &js, &err) < 0, "bad script: %s", err.msg);
    ok(cc_choice_script_from_json("{\"overrides\":[{\"index\":2,\"value\":\"18446744073709551615\"}]}",
                                  &js, &err) == 0 && js.n_overrides == 1 &&
       js.overrides[0].value == UINT64_MAX, "values above 2^53 as decimal strings");
    cc_choice_script_free(&js);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_cost(void)
{
    for (int hc = 0; hc < 2; hc++) {
        struct kt_vm *t = kt_create(guest_pings, (uint64_t)hc, NULL);
        struct cc_sdk_stats st;
        cc_vm_sdk_stats(t->vm, &st);
        if (hc && !hypercall_works()) {
            ok(0, "%d pings by hypercall (%s)", N_PINGS, hypercall_why);
            kt_destroy(t);
            continue;
        }
        struct kt_ucall uc;
        double t0 = now_s();
        kt_run(t, &uc);
        double dt = now_s() - t0;
        cc_vm_sdk_stats(t->vm, &st);
        ok(uc.type == KT_DONE && st.calls == N_PINGS, "%d pings by %s", N_PINGS,
           hc ? "hypercall" : "port");
        tap_diag("tiny guest, %s doorbell: %.2f us per call (%d calls, %.3f s)",
                 hc ? "hypercall" : "port", dt / N_PINGS * 1e6, N_PINGS, dt);
        kt_destroy(t);
    }
}

static void test_garbage(void)
{
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = KT_MEM_SIZE;
    struct kt_vm *t = kt_create(guest_garbage, 0x9e3779b97f4a7c15ull, &cfg);
    struct cc_sdk_options opt;
    cc_vm_sdk_get_options(t->vm, &opt);
    opt.stop_on_failure = false;    /* random ASSERT ops must not stop it */
    opt.stop_on_setup = false;
    cc_vm_sdk_set_options(t->vm, &opt);
    struct kt_ucall uc;
    kt_run(t, &uc);
    struct cc_sdk_stats st;
    cc_vm_sdk_stats(t->vm, &st);
    ok(uc.type == KT_DONE && st.calls + st.bad_calls > 0,
       "20,000 random requests: the VMM survives (%" PRIu64 " handled, %" PRIu64 " refused)",
       st.calls, st.bad_calls);
    char *j = cc_vm_sdk_json(t->vm);
    ok(j != NULL, "and still reports (%zu bytes of JSON)", j ? strlen(j) : 0);
    const struct cc_vm_ext_ops *x = &cc_sdk_ext_ops;
    void *st0 = cc_vm_ext(t->vm, x);
    uint8_t *data = NULL;
    size_t len = 0;
    struct cc_err err = {0};
    ok(x->save(st0, &data, &len, &err) == 0 && x->load(st0, data, len, &err) == 0,
       "and its state saves and loads %s", err.msg);
    free(data);
    free(j);
    kt_destroy(t);
}

int main(void)
{
    tap_plan(0);
    test_protocol();
    test_garbage();
    test_choices();
    test_cost();
    return tap_exit();
}
