/* Tiny-guest tests of the run-loop changes for lockstep (vm.h: halting at
 * the run's limit, clock jumps with owed timer ticks, IRQ pulses, NMIs) and
 * of the multi-VM simulation (sim.h) with timer-driven tiny guests: the
 * lockstep clock, pause, kill, restart from the setup point, clock skew and
 * jump, IRQ injection, the run log, bit-identical runs, and whole-simulation
 * snapshot, restore and fork. The network is covered by the unit tests
 * (tests/unit/test_net_fabric.c) and the Linux tier. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "chaoscontrol/dlog.h"
#include "chaoscontrol/replay.h"
#include "chaoscontrol/schedule.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol/snapshot.h"
#include "kvmtest.h"
#include "tap.h"

#define PIT_1MS 1193u               /* ~1 ms at 1,193,182 Hz */
#define PIT_10MS 11932u
#define MS 1000000ull

/* ---- guest ---- */

static const char setup_msg[] = "SETUP\n";

/* Tick with the PIT at `count` input clocks per period (0: no timer), say
 * SETUP on the console, then halt forever, counting interrupts. IRQ 0 and 3
 * are unmasked. */
GUEST_CODE static void guest_ticker(uint64_t count)
{
    kt_irq_hook = kt_eoi_hook;
    kt_pic_init(0xf6, 0xff);
    if (count) {
        kt_outb(0x43, 0x34);
        kt_outb(0x40, (uint8_t)count);
        kt_outb(0x40, (uint8_t)(count >> 8));
    }
    kt_outb(0x3fb, 0x03);
    for (const char *p = setup_msg; *p; p++)
        kt_outb(0x3f8, (uint8_t)*p);
    for (;;)
        kt_sti_hlt();
}

static uint64_t ticks(struct cc_vm *vm)
{
    uint64_t *p = cc_vm_gpa(vm, (uint64_t)(uintptr_t)&kt_irq_count[0x20], 8);
    return p ? *p : 0;
}

static uint64_t irq3(struct cc_vm *vm)
{
    uint64_t *p = cc_vm_gpa(vm, (uint64_t)(uintptr_t)&kt_irq_count[0x23], 8);
    return p ? *p : 0;
}

static struct cc_vm *ticker(uint64_t count, uint64_t seed)
{
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = KT_MEM_SIZE;
    cfg.seed = seed;
    cfg.trace_keep = getenv("SIM_DIAG") != NULL;
    struct kt_vm *t = kt_create(guest_ticker, count, &cfg);
    struct cc_vm *vm = t->vm;
    free(t);                /* the caller owns the VM now */
    return vm;
}

static void run_to(struct cc_vm *vm, uint64_t until, struct cc_run_result *res)
{
    struct cc_run_limits lim = {.until_vtime_ns = until};
    struct cc_err err = {0};
    if (cc_vm_run(vm, &lim, res, &err) < 0)
        tap_bail("run: %s", err.msg);
}

static void dump_trace(const char *path, struct cc_vm *vm)
{
    size_t nrec;
    const struct cc_trace_rec *rec = cc_vm_trace(vm, &nrec);
    FILE *fp = fopen(path, "w");
    for (size_t k = 0; fp && k < nrec; k++) {
        char line[256];
        cc_trace_format(&rec[k], line, sizeof(line));
        fprintf(fp, "%s\n", line);
    }
    if (fp)
        fclose(fp);
}

/* ---- single VM: the run-loop changes ---- */

static void test_halt_at_limit(void)
{
    struct cc_vm *vm = ticker(PIT_10MS, 1);
    struct cc_run_result r;
    run_to(vm, 1 * MS, &r);
    ok(r.stop == CC_STOP_VTIME && cc_vm_vtime_ns(vm) == 1 * MS && cc_vm_halted(vm),
       "halted with the timer at 10 ms: stops at the 1 ms limit exactly (%s, %llu ns)",
       cc_stop_name(r.stop), (unsigned long long)cc_vm_vtime_ns(vm));
    uint64_t exits = cc_vm_exit_count(vm);
    run_to(vm, 5 * MS, &r);
    ok(r.stop == CC_STOP_VTIME && cc_vm_vtime_ns(vm) == 5 * MS && cc_vm_exit_count(vm) == exits,
       "next run to 5 ms: stays halted, no exits spent");
    run_to(vm, 25 * MS, &r);
    is_u64(ticks(vm), 2, "then the ticks at 10 and 20 ms arrive on time");
    ok(cc_vm_vtime_ns(vm) == 25 * MS, "and it waits at 25 ms again");
    uint64_t h1 = cc_vm_trace_hash(vm);
    cc_vm_destroy(vm);

    /* The same quanta again: the same trace. */
    vm = ticker(PIT_10MS, 1);
    run_to(vm, 1 * MS, &r);
    run_to(vm, 5 * MS, &r);
    run_to(vm, 25 * MS, &r);
    is_u64(cc_vm_trace_hash(vm), h1, "the same limits give the same trace");
    cc_vm_destroy(vm);

    /* No timer at all: idle to the limit, or CC_STOP_IDLE without one. */
    vm = ticker(0, 1);
    run_to(vm, 3 * MS, &r);
    ok(r.stop == CC_STOP_VTIME && cc_vm_vtime_ns(vm) == 3 * MS,
       "no timer armed: idles until the limit (%s)", cc_stop_name(r.stop));
    exits = cc_vm_exit_count(vm);
    run_to(vm, 8 * MS, &r);
    ok(cc_vm_exit_count(vm) == exits && cc_vm_vtime_ns(vm) == 8 * MS, "without spinning");
    struct cc_err err = {0};
    ok(cc_vm_run(vm, NULL, &r, &err) == 0 && r.stop == CC_STOP_IDLE,
       "without a limit: CC_STOP_IDLE as before");

    /* An IRQ pulse wakes the halted vCPU at once, at the current time. */
    run_to(vm, 10 * MS, &r);
    ok(cc_vm_irq_pulse(vm, 3, &err) == 0, "pulse IRQ 3");
    run_to(vm, 20 * MS, &r);
    is_u64(irq3(vm), 1, "the guest took IRQ 3");
    ok(cc_vm_irq_pulse(vm, 2, &err) < 0 && strstr(err.msg, "cascade"), "line 2 refused: %s",
       err.msg);
    cc_vm_destroy(vm);
}

static void test_clock_jump(void)
{
    struct cc_vm *vm = ticker(PIT_1MS, 1);
    struct cc_run_result r;
    run_to(vm, 10500000, &r);
    uint64_t before = ticks(vm);
    is_u64(before, 10, "10 ticks in 10.5 ms at 1 kHz");
    uint64_t owed = cc_vm_clock_jump(vm, 100 * MS);
    ok(owed >= 98 && owed <= 100, "a 100 ms jump owes %llu ticks", (unsigned long long)owed);
    is_u64(cc_vm_vtime_ns(vm), 110500000, "the clock is at 110.5 ms");
    run_to(vm, 111 * MS, &r);
    uint64_t after = ticks(vm);
    ok(after - before >= 100 && after - before <= 101,
       "within 0.5 ms the guest has taken all %llu owed ticks (%llu in all)",
       (unsigned long long)owed, (unsigned long long)(after - before));
    is_u64(cc_vm_missed_ticks(vm), 0, "nothing owed any more");

    /* Owed ticks survive a snapshot. */
    cc_vm_clock_jump(vm, 50 * MS);
    struct cc_snapshot *s;
    struct cc_err err = {0};
    if (cc_vm_snapshot(vm, &s, &err) < 0)
        tap_bail("snapshot: %s", err.msg);
    struct cc_vm *f;
    struct cc_fork_opts fo;
    cc_fork_opts_default(&fo);
    fo.trace_keep = getenv("SIM_DIAG") != NULL;
    if (cc_vm_fork(s, &fo, &f, &err) < 0)
        tap_bail("fork: %s", err.msg);
    ok(cc_vm_missed_ticks(f) == cc_vm_missed_ticks(vm) && cc_vm_missed_ticks(f) > 40,
       "a fork owes the same %llu ticks", (unsigned long long)cc_vm_missed_ticks(f));
    run_to(vm, 170 * MS, &r);
    run_to(f, 170 * MS, &r);
    if (getenv("SIM_DIAG")) {
        dump_trace("/tmp/jt.orig", vm);
        dump_trace("/tmp/jt.fork", f);
    }
    ok(ticks(vm) == ticks(f) && cc_vm_trace_hash(vm) == cc_vm_trace_hash(f),
       "and continues identically (%llu ticks)", (unsigned long long)ticks(f));
    cc_vm_destroy(f);
    cc_snapshot_put(s);
    cc_vm_destroy(vm);
}

GUEST_CODE static void guest_nmi(uint64_t arg)
{
    (void)arg;
    kt_pic_init(0xff, 0xff);
    for (;;)
        kt_sti_hlt();
}

static void test_nmi(void)
{
    struct kt_vm *t = kt_create(guest_nmi, 0, NULL);
    struct kt_ucall uc;
    struct cc_run_result r;
    run_to(t->vm, 2 * MS, &r);
    ok(r.stop == CC_STOP_VTIME && cc_vm_halted(t->vm), "guest idles with everything masked");
    struct cc_err err = {0};
    int rc = cc_vm_nmi(t->vm, &err);
    ok(rc == 0, "KVM_NMI accepted (%s)", err.msg);
    enum kt_ucall_type ty = kt_run(t, &uc);
    ok(ty == KT_EXCEPTION && uc.args[0] == 2, "the guest took vector 2 (NMI), masked PIC "
       "notwithstanding (got %d, vector %llu)", ty, (unsigned long long)uc.args[0]);
    kt_destroy(t);
}

/* ---- simulations ---- */

static struct cc_sim *mksim(unsigned n, uint64_t seed, uint64_t count)
{
    struct cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.seed = seed;
    cfg.setup_marker = "SETUP";
    struct cc_sim *sim;
    struct cc_err err = {0};
    if (cc_sim_new(&cfg, &sim, &err) < 0)
        tap_bail("sim: %s", err.msg);
    for (unsigned i = 0; i < n; i++)
        if (cc_sim_add_vm(sim, ticker(count, seed + i), &err) < 0)
            tap_bail("add: %s", err.msg);
    return sim;
}

static void sim_run(struct cc_sim *sim, uint64_t until, struct cc_sim_result *res)
{
    struct cc_sim_limits lim = {.until_ns = until};
    struct cc_err err = {0};
    if (cc_sim_run(sim, &lim, res, &err) < 0)
        tap_bail("sim run: %s", err.msg);
}

static struct cc_schedule *sched(const char *json)
{
    struct cc_schedule *s;
    struct cc_err err = {0};
    if (cc_schedule_parse(json, "test", 3, &s, &err) < 0)
        tap_bail("schedule: %s", err.msg);
    return s;
}

static void test_lockstep(void)
{
    struct cc_sim *sim = mksim(3, 5, PIT_1MS);
    struct cc_sim_result res;
    struct cc_sim_limits lim = {.until_setup = true, .until_ns = 100 * MS};
    struct cc_err err = {0};
    ok(cc_sim_run(sim, &lim, &res, &err) == 0 && res.stop == CC_SIM_STOP_SETUP,
       "all 3 VMs complete setup (the console marker) (%s at %llu ns)",
       cc_sim_stop_name(res.stop), (unsigned long long)res.vtime);
    sim_run(sim, 50 * MS, &res);
    ok(res.stop == CC_SIM_STOP_VTIME && cc_sim_now(sim) == 50 * MS, "ran to 50 ms global");
    int lock = 1, tick = 1;
    for (unsigned i = 0; i < 3; i++) {
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        lock &= st.vtime >= 50 * MS && st.vtime < 50 * MS + 10000;
        tick &= ticks(cc_sim_vm(sim, i)) >= 49 && ticks(cc_sim_vm(sim, i)) <= 50;
    }
    ok(lock, "every VM's clock is at 50 ms (lockstep)");
    ok(tick, "every VM took its ~50 ticks");
    tap_diag("%llu quanta for 50 ms (quantum 100 us)", (unsigned long long)res.quanta);
    cc_sim_destroy(sim);
}

static const char *faults_json =
    "{\"faults\": ["
    "{\"at\": \"10ms\", \"type\": \"pause\", \"vm\": 1, \"duration\": \"20ms\"},"
    "{\"at\": \"30ms\", \"type\": \"kill\", \"vm\": 2},"
    "{\"at\": \"0ns\", \"type\": \"clock_skew\", \"vm\": 0, \"ppm\": 100000},"
    "{\"at\": \"35ms\", \"type\": \"irq\", \"vm\": 0, \"line\": 3, \"count\": 3},"
    "{\"at\": \"40ms\", \"type\": \"clock_jump\", \"vm\": 1, \"delta\": \"100ms\"},"
    "{\"at\": \"45ms\", \"type\": \"kill\", \"vm\": 2}"
    "]}";

static void test_faults(void)
{
    struct cc_sim *sim = mksim(3, 5, PIT_1MS);
    struct cc_sim_result res;
    struct cc_err err = {0};
    struct cc_schedule *s = sched(faults_json);
    ok(cc_sim_set_schedule(sim, s, &err) == 0, "schedule set");
    sim_run(sim, 20 * MS, &res);
    struct cc_sim_vm_status st1;
    cc_sim_vm_status(sim, 1, &st1);
    ok(st1.state == CC_SIM_VM_PAUSED && st1.vtime < 10100000 && st1.paused_until == 30 * MS,
       "at 20 ms vm 1 is paused, its clock stopped at ~10 ms (%llu)",
       (unsigned long long)st1.vtime);
    uint64_t t1 = ticks(cc_sim_vm(sim, 1));
    ok(t1 >= 9 && t1 <= 10, "it took only the ticks before the pause (%llu)",
       (unsigned long long)t1);
    sim_run(sim, 33 * MS, &res);
    cc_sim_vm_status(sim, 1, &st1);
    ok(st1.state == CC_SIM_VM_RUNNING && st1.vtime >= 33 * MS, "resumed at 30 ms; its clock "
       "jumped to the global time (%llu)", (unsigned long long)st1.vtime);
    t1 = ticks(cc_sim_vm(sim, 1));
    ok(t1 >= 31 && t1 <= 33, "and it caught up on the owed ticks (%llu at 33 ms)",
       (unsigned long long)t1);
    struct cc_sim_vm_status st2;
    cc_sim_vm_status(sim, 2, &st2);
    ok(st2.state == CC_SIM_VM_KILLED && st2.vtime < 30100000, "vm 2 killed at 30 ms");
    sim_run(sim, 50 * MS, &res);
    cc_sim_vm_status(sim, 2, &st2);
    ok(st2.vtime < 30100000, "a killed VM never runs again");
    struct cc_sim_vm_status st0;
    cc_sim_vm_status(sim, 0, &st0);
    ok(st0.vtime >= 54900000 && st0.vtime <= 55100000 && st0.skew_ppm == 100000,
       "vm 0 skewed +10%%: 55 ms of its time in 50 ms (%llu)", (unsigned long long)st0.vtime);
    uint64_t t0 = ticks(cc_sim_vm(sim, 0));
    ok(t0 >= 54 && t0 <= 55, "and 55 ticks (%llu)", (unsigned long long)t0);
    is_u64(irq3(cc_sim_vm(sim, 0)), 3, "3 IRQ 3 edges injected into vm 0, 1 ms apart");
    cc_sim_vm_status(sim, 1, &st1);
    ok(st1.vtime >= 150 * MS && st1.vtime < 150 * MS + 200000 && st1.clock_offset_ns > 99 * (int64_t)MS,
       "vm 1's clock jumped +100 ms at 40 ms (%llu at 50 ms)", (unsigned long long)st1.vtime);
    t1 = ticks(cc_sim_vm(sim, 1));
    ok(t1 >= 148 && t1 <= 150, "and its guest saw the ticks of the jump (%llu)",
       (unsigned long long)t1);

    size_t n;
    const struct cc_sim_log_entry *log = cc_sim_log(sim, &n);
    int kinds[8] = {0};
    for (size_t i = 0; i < n; i++) {
        char line[300];
        cc_sim_log_format(&log[i], line, sizeof(line));
        tap_diag("%s", line);
        if (log[i].kind < 8)
            kinds[log[i].kind]++;
    }
    ok(kinds[CC_SIM_LOG_SETUP] == 3, "log: 3 setups");
    ok(kinds[CC_SIM_LOG_FAULT] == 5, "log: 5 faults applied");
    ok(kinds[CC_SIM_LOG_FAULT_END] == 1, "log: the pause ended");
    ok(kinds[CC_SIM_LOG_SKIPPED] == 1, "log: the second kill of vm 2 skipped");
    int at_ok = 0;
    for (size_t i = 0; i < n; i++)
        if (log[i].kind == CC_SIM_LOG_FAULT && log[i].type == CC_FAULT_KILL)
            at_ok = log[i].vtime == 30 * MS && log[i].fault >= 0;
    ok(at_ok, "each fault logged at its exact virtual time");
    char *json = cc_sim_json(sim);
    ok(json && strstr(json, "\"state\": \"killed\"") && strstr(json, "\"log\""),
       "the JSON report has states and the log");
    free(json);
    cc_schedule_free(s);
    cc_sim_destroy(sim);
}

static void test_restart(void)
{
    struct cc_sim *sim = mksim(2, 9, PIT_1MS);
    struct cc_sim_result res;
    sim_run(sim, 20 * MS, &res);
    struct cc_sim_vm_status st;
    cc_sim_vm_status(sim, 1, &st);
    ok(st.setup_done && st.setup_at < MS, "vm 1 completed setup at %llu ns",
       (unsigned long long)st.setup_at);
    uint64_t before = ticks(cc_sim_vm(sim, 1));
    struct cc_fault f;
    cc_fault_init(&f, CC_FAULT_RESTART, 0);
    f.vm = 1;
    struct cc_err err = {0};
    ok(cc_sim_apply_fault(sim, &f, &err) == 0, "restart vm 1 at 20 ms");
    uint64_t after = ticks(cc_sim_vm(sim, 1));
    cc_sim_vm_status(sim, 1, &st);
    ok(before >= 19 && after == 0 && st.restarts == 1 && st.vtime < MS,
       "it is back at its setup point (ticks %llu -> %llu, clock %llu)",
       (unsigned long long)before, (unsigned long long)after, (unsigned long long)st.vtime);
    sim_run(sim, 30 * MS, &res);
    after = ticks(cc_sim_vm(sim, 1));
    ok(after >= 9 && after <= 10, "and runs on from there: 10 ms later 10 ticks (%llu)",
       (unsigned long long)after);
    ok(ticks(cc_sim_vm(sim, 0)) >= 29, "vm 0 unaffected");
    cc_sim_destroy(sim);
}

/* cc_sim_inject_fault from an on_boundary hook: the run equals one whose
 * schedule held the same faults from the start (what lets the explorer's
 * reactive faults be replayed from recipes). */
struct inject_ctx {
    unsigned done;
    struct cc_fault f[3];
    int rc[3];
};

static void inject_hook(void *opaque, struct cc_sim *sim)
{
    struct inject_ctx *c = opaque;
    uint64_t now = cc_sim_now(sim);
    struct cc_err err = {0};
    if (c->done == 0 && now >= 12 * MS + 345678) {
        /* a pause now and an IRQ burst 3.21 ms later */
        cc_fault_init(&c->f[0], CC_FAULT_PAUSE, now);
        c->f[0].vm = 1;
        c->f[0].duration_ns = 7 * MS;
        cc_fault_init(&c->f[1], CC_FAULT_IRQ, now + 3210000);
        c->f[1].vm = 0;
        c->f[1].line = 3;
        c->f[1].count = 2;
        c->rc[0] = cc_sim_inject_fault(sim, &c->f[0], &err);
        c->rc[1] = cc_sim_inject_fault(sim, &c->f[1], &err);
        /* the past is refused */
        cc_fault_init(&c->f[2], CC_FAULT_KILL, now - 1);
        c->rc[2] = cc_sim_inject_fault(sim, &c->f[2], &err);
        c->done = 1;
    }
}

static void test_inject(void)
{
    struct inject_ctx c = {0};
    struct cc_sim *a = mksim(3, 9, PIT_1MS);
    struct cc_sim_result res;
    struct cc_err err = {0};
    struct cc_sim_limits lim = {.until_ns = 40 * MS, .on_boundary = inject_hook, .opaque = &c};
    ok(cc_sim_run(a, &lim, &res, &err) == 0 && c.done, "ran 40 ms with the injecting hook");
    ok(c.rc[0] == 0 && c.rc[1] == 0 && c.rc[2] == -EINVAL,
       "a fault now and one later are taken, one in the past is refused (%d %d %d)", c.rc[0],
       c.rc[1], c.rc[2]);
    is_u64(cc_schedule_count(cc_sim_schedule(a)), 2, "the simulation's schedule holds both");
    is_u64(irq3(cc_sim_vm(a, 0)), 2, "the later IRQ burst arrived");
    uint64_t ha = cc_sim_hash(a);

    /* the same faults scheduled from the start */
    struct cc_sim *b = mksim(3, 9, PIT_1MS);
    struct cc_schedule *s = cc_schedule_new();
    cc_schedule_add(s, &c.f[0], &err);
    cc_schedule_add(s, &c.f[1], &err);
    ok(cc_sim_set_schedule(b, s, &err) == 0, "schedule with the injected faults set");
    sim_run(b, 40 * MS, &res);
    uint64_t hb = cc_sim_hash(b);
    ok(ha == hb, "the run equals the injected one (%016llx, %016llx)", (unsigned long long)ha,
       (unsigned long long)hb);
    /* and the faults did something */
    struct cc_sim *n = mksim(3, 9, PIT_1MS);
    sim_run(n, 40 * MS, &res);
    ok(cc_sim_hash(n) != ha, "without them the run differs (%016llx)",
       (unsigned long long)cc_sim_hash(n));
    cc_schedule_free(s);
    cc_sim_destroy(a);
    cc_sim_destroy(b);
    cc_sim_destroy(n);
}

static void diag_sim(const char *what, struct cc_sim *sim)
{
    for (unsigned i = 0; i < cc_sim_vm_count(sim); i++) {
        struct cc_sim_vm_status st;
        cc_sim_vm_status(sim, i, &st);
        size_t nrec;
        const struct cc_trace_rec *rec = cc_vm_trace(cc_sim_vm(sim, i), &nrec);
        char path[64];
        snprintf(path, sizeof(path), "/tmp/simtrace.%s.%u", what, i);
        FILE *fp = fopen(path, "w");
        for (size_t k = 0; fp && k < nrec; k++) {
            char line[256];
            cc_trace_format(&rec[k], line, sizeof(line));
            fprintf(fp, "%s\n", line);
        }
        if (fp)
            fclose(fp);
        tap_diag("%s: vm %u %s vtime %llu exits %llu trace %016llx restarts %llu ticks %llu", what,
                 i, cc_sim_vm_state_name(st.state), (unsigned long long)st.vtime,
                 (unsigned long long)st.exits, (unsigned long long)st.trace_hash,
                 (unsigned long long)st.restarts, (unsigned long long)ticks(cc_sim_vm(sim, i)));
    }
}

static void test_determinism_and_snapshots(void)
{
    const char *j = "{\"faults\": ["
        "{\"at\": \"3ms\", \"type\": \"pause\", \"vm\": 0, \"duration\": \"4ms\"},"
        "{\"at\": \"12ms\", \"type\": \"clock_jump\", \"vm\": 2, \"delta\": \"20ms\"},"
        "{\"at\": \"15ms\", \"type\": \"restart\", \"vm\": 1},"
        "{\"at\": \"18ms\", \"type\": \"irq\", \"vm\": 0, \"line\": 3, \"count\": 2}]}";
    struct cc_schedule *s = sched(j);
    uint64_t h[2];
    struct cc_sim_result res;
    struct cc_err err = {0};
    for (int k = 0; k < 2; k++) {
        struct cc_sim *sim = mksim(3, 11, PIT_1MS);
        cc_sim_set_schedule(sim, s, &err);
        sim_run(sim, 30 * MS, &res);
        h[k] = cc_sim_hash(sim);
        if (getenv("SIM_DIAG"))
            diag_sim(k ? "second" : "first", sim);
        cc_sim_destroy(sim);
    }
    ok(h[0] == h[1], "two simulations with one seed and schedule: equal hashes (%016llx)",
       (unsigned long long)h[0]);

    struct cc_sim *sim = mksim(3, 11, PIT_1MS);
    cc_sim_set_schedule(sim, s, &err);
    sim_run(sim, 10 * MS, &res);
    struct cc_sim_snapshot *snap;
    ok(cc_sim_snapshot(sim, &snap, &err) == 0, "snapshot at 10 ms (%s)", err.msg);
    sim_run(sim, 30 * MS, &res);
    is_u64(cc_sim_hash(sim), h[0], "a snapshot in the middle changes nothing");
    size_t nlog;
    cc_sim_log(sim, &nlog);
    ok(cc_sim_restore(sim, snap, &err) == 0 && cc_sim_now(sim) == 10 * MS,
       "restore to 10 ms (%s)", err.msg);
    size_t nlog2;
    cc_sim_log(sim, &nlog2);
    ok(nlog2 < nlog, "the log is back to 10 ms too (%zu < %zu entries)", nlog2, nlog);
    sim_run(sim, 30 * MS, &res);
    is_u64(cc_sim_hash(sim), h[0], "run again from the restore: the same hash");
    cc_sim_log(sim, &nlog2);
    is_int(nlog2, nlog, "and the same log");

    struct cc_sim *f1, *f2;
    ok(cc_sim_fork(snap, NULL, &f1, &err) == 0, "fork (%s)", err.msg);
    sim_run(f1, 30 * MS, &res);
    is_u64(cc_sim_hash(f1), h[0], "the fork runs to the same hash");
    struct cc_sim_fork_opts fo;
    cc_sim_fork_opts_default(&fo);
    struct cc_schedule *empty = cc_schedule_new();
    fo.schedule = empty;
    ok(cc_sim_fork(snap, &fo, &f2, &err) == 0, "fork with another schedule (none)");
    sim_run(f2, 30 * MS, &res);
    ok(cc_sim_hash(f2) != h[0], "which gives another run");
    struct cc_sim_vm_status st;
    cc_sim_vm_status(f2, 1, &st);
    ok(st.restarts == 0, "(no restart in it)");
    cc_sim_destroy(f1);
    cc_sim_destroy(f2);
    cc_schedule_free(empty);

    /* Restores are repeatable and cheap. */
    uint64_t hh = 0;
    int same = 1;
    for (int k = 0; k < 20; k++) {
        cc_sim_restore(sim, snap, &err);
        size_t n0[3];
        for (unsigned i = 0; i < 3; i++)
            cc_vm_trace(cc_sim_vm(sim, i), &n0[i]);
        sim_run(sim, 20 * MS, &res);
        if (getenv("SIM_DIAG"))
            for (unsigned i = 0; i < 3; i++) {
                size_t nrec;
                const struct cc_trace_rec *rec = cc_vm_trace(cc_sim_vm(sim, i), &nrec);
                char path[64];
                snprintf(path, sizeof(path), "/tmp/rr.%d.%u", k, i);
                FILE *fp = fopen(path, "w");
                for (size_t q = n0[i]; fp && q < nrec; q++) {
                    char line[256];
                    cc_trace_format(&rec[q], line, sizeof(line));
                    fprintf(fp, "%s\n", line);
                }
                if (fp)
                    fclose(fp);
            }
        if (k == 0)
            hh = cc_sim_hash(sim);
        if (getenv("SIM_DIAG") && (k == 0 || cc_sim_hash(sim) != hh))
            diag_sim(k ? "second" : "first", sim);
        same &= cc_sim_hash(sim) == hh;
    }
    ok(same, "20 restore-and-run rounds: all equal");
    cc_sim_snapshot_put(snap);
    cc_sim_destroy(sim);
    cc_schedule_free(s);
}

/* Stopping a simulation right after one VM's exit N (cc_sim_limits
 * stop_exit) changes nothing before it: the VM's registers there equal
 * the register dump at exit N in the dlog of a run without the stop. And a
 * stop at a time (stop_after_ns) ends at a boundary of the original run
 * without adding one: the same hash as a run to that boundary. */
static struct cc_sim *mksim_dlog(struct cc_dlog *d)
{
    struct cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.seed = 11;
    cfg.setup_marker = "SETUP";
    cfg.dlog = d;
    struct cc_sim *sim;
    struct cc_err err = {0};
    if (cc_sim_new(&cfg, &sim, &err) < 0)
        tap_bail("sim: %s", err.msg);
    for (unsigned i = 0; i < 3; i++)
        if (cc_sim_add_vm(sim, ticker(PIT_1MS, 11 + i), &err) < 0)
            tap_bail("add: %s", err.msg);
    return sim;
}

static void test_stop_exit(void)
{
    const char *j = "{\"faults\": ["
        "{\"at\": \"3ms\", \"type\": \"pause\", \"vm\": 0, \"duration\": \"4ms\"},"
        "{\"at\": \"12ms\", \"type\": \"clock_jump\", \"vm\": 1, \"delta\": \"20ms\"},"
        "{\"at\": \"18ms\", \"type\": \"irq\", \"vm\": 1, \"line\": 3, \"count\": 2}]}";
    struct cc_schedule *s = sched(j);
    char path[] = "/tmp/test_sim_stop.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        tap_bail("mkstemp: %s", strerror(errno));
    close(fd);
    struct cc_err err = {0};
    struct cc_dlog *d;
    struct cc_dlog_opts o = {.n_vms = 3, .seed = 11, .regs_every = 7, .source = "test"};
    if (cc_dlog_create(path, &o, &d, &err) < 0)
        tap_bail("dlog: %s", err.msg);
    struct cc_sim *sim = mksim_dlog(d);
    cc_sim_set_schedule(sim, s, &err);
    struct cc_sim_result res;
    sim_run(sim, 30 * MS, &res);
    uint64_t full = cc_sim_hash(sim);
    cc_sim_destroy(sim);
    ok(cc_dlog_close(d, &err) == 0, "reference run with a dlog (%s)", err.msg);

    /* vm 1's register dumps: take one from the middle of the run */
    struct cc_dlog_reader *r;
    struct cc_dlog_rec rec, pick[64];
    size_t n = 0;
    if (cc_dlog_open(path, &r, &err) < 0)
        tap_bail("dlog open: %s", err.msg);
    while (cc_dlog_next(r, &rec, &err) == 1)
        if (rec.type == CC_DLOG_REGS && rec.vm == 1 && n < 64)
            pick[n++] = rec;
    cc_dlog_reader_close(r);
    unlink(path);
    ok(n >= 4, "vm 1 has register dumps (%zu)", n);
    if (n < 4) {
        cc_schedule_free(s);
        return;
    }
    const struct cc_dlog_rec *want = &pick[n / 2];

    sim = mksim(3, 11, PIT_1MS);
    cc_sim_set_schedule(sim, s, &err);
    struct cc_sim_limits lim = {.until_ns = 30 * MS, .stop_vm = 1, .stop_exit = want->exit};
    if (cc_sim_run(sim, &lim, &res, &err) < 0)
        tap_bail("sim run: %s", err.msg);
    struct cc_vm *vm = cc_sim_vm(sim, 1);
    ok(res.stop == CC_SIM_STOP_EXIT && cc_vm_exit_count(vm) == want->exit,
       "the run stops right after vm 1's exit %llu (%s, at exit %llu)",
       (unsigned long long)want->exit, cc_sim_stop_name(res.stop),
       (unsigned long long)cc_vm_exit_count(vm));
    uint64_t regs[CC_REPLAY_NREGS];
    int same = cc_replay_regs(vm, regs, &err) == 0 && want->nregs == CC_REPLAY_NREGS;
    for (unsigned i = 0; same && i < CC_REPLAY_NREGS; i++)
        if (regs[i] != want->regs[i]) {
            tap_diag("%s: %llx, the dlog's %llx", cc_dlog_reg_name(i),
                     (unsigned long long)regs[i], (unsigned long long)want->regs[i]);
            same = 0;
        }
    ok(same, "its registers are the dlog's dump at that exit (rip %llx)",
       (unsigned long long)regs[16]);
    is_u64(cc_vm_vtime_ns(vm), want->vtime, "and its clock too");
    cc_sim_destroy(sim);

    sim = mksim(3, 11, PIT_1MS);
    cc_sim_set_schedule(sim, s, &err);
    lim = (struct cc_sim_limits){.until_ns = 30 * MS, .stop_after_ns = 12 * MS + 30000};
    if (cc_sim_run(sim, &lim, &res, &err) < 0)
        tap_bail("sim run: %s", err.msg);
    uint64_t at = cc_sim_now(sim), h = cc_sim_hash(sim);
    ok(res.stop == CC_SIM_STOP_VTIME && at >= 12 * MS + 30000 && at < 13 * MS,
       "stop_after_ns: stopped at the boundary %llu ns", (unsigned long long)at);
    sim_run(sim, 30 * MS, &res);
    is_u64(cc_sim_hash(sim), full, "and the run goes on as without the stop");
    cc_sim_destroy(sim);
    sim = mksim(3, 11, PIT_1MS);
    cc_sim_set_schedule(sim, s, &err);
    sim_run(sim, at, &res);
    is_u64(cc_sim_hash(sim), h, "a run to that boundary with until_ns: the same hash");
    cc_sim_destroy(sim);
    cc_schedule_free(s);
}

int main(void)
{
    test_halt_at_limit();
    test_clock_jump();
    test_nmi();
    test_lockstep();
    test_faults();
    test_restart();
    test_inject();
    test_determinism_and_snapshots();
    test_stop_exit();
    return tap_exit();
}
