/* Linux tier: multi-VM simulations (chaoscontrol/sim.h) with three
 * guests/net-demo VMs (run it where KVM can run Linux guests:
 * tools/kvm-host -- build/tests/linux/test_sim_linux KERNEL BUILD).
 *
 * The three VMs boot once, in lockstep, to setup_complete; the simulation
 * is snapshotted after a warm-up, and every case restores that snapshot
 * (cheap: dirty pages only) and observes its fault from inside the guests,
 * through net-demo's periodic reports (SDK events with counters, RTTs,
 * clocks, /proc/interrupts, /proc/meminfo and a disk probe):
 *   - TCP works between every pair; payload integrity and per-connection
 *     order hold (SDK assertions);
 *   - a partition stops the traffic across it, not within a side; heal
 *     restores it;
 *   - 20% loss: measured by the link counters and by the guests' own UDP
 *     counters;
 *   - latency, jitter, bandwidth, corruption, reorder and duplication, each
 *     on its own link, seen in the receivers' one-way delays, reorder and
 *     duplicate counters and the kernel's checksum error counters;
 *   - the same seed and schedule give identical multi-VM traces and hash,
 *     another seed a different one;
 *   - kill (a node stops answering), pause (answers late, its clock jumps),
 *     restart (comes back with its disk: boot counter 2, peers reconnect),
 *     clock skew and clock jump (visible in the guest's clocks), the six
 *     disk faults (EIO on read and write, torn and corrupted data seen on
 *     read-back, disk full), memory pressure (MemTotal/MemFree drop by the
 *     balloon size), IRQ injection (/proc/interrupts) and NMI (the NMI count
 *     and the kernel's message on the console). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../tap.h"
#include "chaoscontrol/sdk_host.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol/virtio.h"

#define NVM 3
#define SEC CC_SEC
#define MS CC_MSEC

static struct cc_sim *sim;

/* ---- net-demo reports, as they arrive ---- */

struct sample {
    unsigned vm;
    uint64_t g;                 /* global time (quantum start) */
    json_t *d;
};

static struct sample *samples;
static size_t nsamples, capsamples;
static int boots[NVM];

static void hook(void *opaque, struct cc_sim *s, unsigned vm, const struct cc_sdk_event *ev)
{
    (void)opaque;
    if (ev->kind != CC_SDK_EV_EVENT || vm >= NVM)
        return;
    json_t *d = json_loads(ev->details, 0, NULL);
    if (!d)
        return;
    if (!strcmp(ev->name, "boot")) {
        boots[vm] = (int)json_integer_value(json_object_get(d, "boots"));
        json_decref(d);
        return;
    }
    if (strcmp(ev->name, "netdemo")) {
        json_decref(d);
        return;
    }
    if (nsamples == capsamples) {
        capsamples = capsamples ? capsamples * 2 : 256;
        samples = realloc(samples, capsamples * sizeof(*samples));
    }
    samples[nsamples++] = (struct sample){vm, cc_sim_now(s), d};
}

static void clear_samples(void)
{
    for (size_t i = 0; i < nsamples; i++)
        json_decref(samples[i].d);
    nsamples = 0;
    memset(boots, 0, sizeof(boots));
}

/* The last report of vm (NULL if none). */
static const struct sample *last(unsigned vm)
{
    for (size_t i = nsamples; i-- > 0;)
        if (samples[i].vm == vm)
            return &samples[i];
    return NULL;
}

/* The first report of vm at or after global time g. */
static const struct sample *first_after(unsigned vm, uint64_t g)
{
    for (size_t i = 0; i < nsamples; i++)
        if (samples[i].vm == vm && samples[i].g >= g)
            return &samples[i];
    return NULL;
}

static uint64_t num(const struct sample *s, const char *key)
{
    json_t *v = s ? json_object_get(s->d, key) : NULL;
    return v ? (uint64_t)json_integer_value(v) : 0;
}

static uint64_t at(const struct sample *s, const char *key, unsigned i)
{
    json_t *a = s ? json_object_get(s->d, key) : NULL;
    json_t *v = a ? json_array_get(a, i) : NULL;
    return v ? (uint64_t)json_integer_value(v) : 0;
}

/* ---- running ---- */

static double wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void run_for(uint64_t ns)
{
    struct cc_sim_limits lim = {.until_ns = cc_sim_now(sim) + ns};
    struct cc_sim_result res;
    struct cc_err err = {0};
    if (cc_sim_run(sim, &lim, &res, &err) < 0)
        tap_bail("sim run: %s", err.msg);
    if (res.stop != CC_SIM_STOP_VTIME)
        tap_diag("run stopped early: %s (vm %d)", cc_sim_stop_name(res.stop), res.vm);
}

static struct cc_sim_snapshot *base;
static uint64_t t_base;

static void reset(const char *what)
{
    struct cc_err err = {0};
    if (cc_sim_restore(sim, base, &err) < 0)
        tap_bail("restore: %s", err.msg);
    clear_samples();
    tap_diag("---- %s (from %.3f s)", what, t_base / 1e9);
}

static void fault(const char *json)
{
    char text[1024];
    snprintf(text, sizeof(text), "{\"faults\": [%s]}", json);
    struct cc_schedule *s;
    struct cc_err err = {0};
    if (cc_schedule_parse(text, "test", NVM, &s, &err) < 0)
        tap_bail("schedule: %s", err.msg);
    /* Times in the text are relative to now. */
    struct cc_schedule *abs = cc_schedule_new();
    for (size_t i = 0; i < cc_schedule_count(s); i++) {
        struct cc_fault f = *cc_schedule_get(s, i);
        f.at_ns += cc_sim_now(sim);
        cc_schedule_add(abs, &f, &err);
    }
    if (cc_sim_set_schedule(sim, abs, &err) < 0)
        tap_bail("set schedule: %s", err.msg);
    cc_schedule_free(s);
    cc_schedule_free(abs);
}

static void link_stats(struct cc_link_stats *sum, unsigned from, unsigned to)
{
    cc_sim_link_stats(sim, from, to, sum);
}

static uint64_t acked(unsigned from, unsigned to)
{
    return at(last(from), "acked", to);
}

static const char *assertion_verdict(const char *message)
{
    struct cc_err err = {0};
    struct cc_oracle *o = cc_sim_oracle(sim, &err);
    static char v[32];
    snprintf(v, sizeof(v), "missing");
    size_t n;
    const struct cc_oracle_entry *e = o ? cc_oracle_entries(o, &n) : NULL;
    for (size_t i = 0; e && i < n; i++)
        if (!strcmp(e[i].a.message, message))
            snprintf(v, sizeof(v), "%s", cc_verdict_name(cc_oracle_verdict(&e[i])));
    cc_oracle_free(o);
    return v;
}

static bool serial_has(unsigned vm, const char *needle)
{
    size_t len;
    const uint8_t *s = cc_vm_serial(cc_sim_vm(sim, vm), &len);
    return s && memmem(s, len, needle, strlen(needle)) != NULL;
}

/* ---- cases ---- */

static void test_tcp(void)
{
    reset("TCP between every pair");
    run_for(1500 * MS);
    int all = 1;
    for (unsigned i = 0; i < NVM; i++)
        for (unsigned j = 0; j < NVM; j++)
            if (i != j) {
                const struct sample *a = first_after(i, t_base), *b = last(i);
                uint64_t d = at(b, "acked", j) - at(a, "acked", j);
                all &= d >= 5;
                tap_diag("%u -> %u: %" PRIu64 " acknowledged messages in the last %.2f s, rtt "
                         "%" PRIu64 " us (max %" PRIu64 ")", i, j, d,
                         b && a ? (b->g - a->g) / 1e9 : 0, at(b, "rtt_last_us", j),
                         at(b, "rtt_max_us", j));
            }
    ok(all, "TCP works between all 3 VMs: every pair exchanges and acknowledges messages");
    is_str(assertion_verdict("payload integrity: every message arrives as it was sent"), "passed",
           "ALWAYS payload integrity passed");
    is_str(assertion_verdict("per-connection order: messages arrive in sequence, without gaps"),
           "passed", "ALWAYS per-connection order passed");
    is_str(assertion_verdict("a message is delivered and acknowledged"), "passed",
           "SOMETIMES message delivered passed");
}

static void test_partition(void)
{
    reset("partition [0] | [1 2] for 2 s, then heal");
    run_for(500 * MS);
    uint64_t a01 = acked(0, 1), a10 = acked(1, 0), a12 = acked(1, 2);
    fault("{\"at\": 0, \"type\": \"partition\", \"sides\": [[0]], \"duration\": \"2s\"}");
    run_for(300 * MS);          /* in-flight acknowledgements drain */
    uint64_t b01 = acked(0, 1), b10 = acked(1, 0), b12 = acked(1, 2), b21 = acked(2, 1);
    run_for(1500 * MS);
    ok(!cc_sim_connected(sim, 0, 1) && cc_sim_connected(sim, 1, 2), "partition in place");
    uint64_t c01 = acked(0, 1), c10 = acked(1, 0), c12 = acked(1, 2), c21 = acked(2, 1);
    tap_diag("acked 0->1 %" PRIu64 " %" PRIu64 " %" PRIu64 ", 1->0 %" PRIu64 " %" PRIu64 " %" PRIu64
             ", 1->2 %" PRIu64 " %" PRIu64 " %" PRIu64, a01, b01, c01, a10, b10, c10, a12, b12,
             c12);
    ok(c01 == b01 && c10 == b10, "no message crosses the partition (0<->1 acknowledgements stop)");
    ok(c12 > b12 + 5 && c21 > b21 + 5, "within a side traffic goes on (1<->2)");
    struct cc_link_stats s;
    link_stats(&s, 0, 1);
    ok(s.dropped_partition > 0, "the link counts partition drops (%" PRIu64 ")",
       s.dropped_partition);
    run_for(3000 * MS);         /* healed at +2 s; TCP retransmits within its backoff */
    ok(cc_sim_connected(sim, 0, 1), "healed");
    uint64_t d01 = acked(0, 1), d10 = acked(1, 0);
    tap_diag("after heal: acked 0->1 %" PRIu64 ", 1->0 %" PRIu64, d01, d10);
    ok(d01 > c01 && d10 > c10, "after heal 0<->1 messages are acknowledged again");
    size_t n;
    const struct cc_sim_log_entry *log = cc_sim_log(sim, &n);
    int logged = 0;
    for (size_t i = 0; i < n; i++)
        logged += (log[i].type == CC_FAULT_PARTITION);
    ok(logged == 2, "the partition and its heal are in the run log");
}

static uint64_t hash_run(bool reseed, uint64_t seed, uint64_t trace[NVM], struct cc_sim **out)
{
    struct cc_sim_fork_opts fo;
    cc_sim_fork_opts_default(&fo);
    fo.reseed = reseed;
    fo.seed = seed;
    fo.sdk_hook = hook;
    struct cc_err err = {0};
    struct cc_sim *f;
    if (cc_sim_fork(base, &fo, &f, &err) < 0)
        tap_bail("fork: %s", err.msg);
    struct cc_sim *save = sim;
    sim = f;
    clear_samples();
    fault("{\"at\": 0, \"type\": \"loss\", \"rate\": 0.2},"
          "{\"at\": 0, \"type\": \"jitter\", \"jitter\": \"300us\"},"
          "{\"at\": \"2s\", \"type\": \"partition\", \"sides\": [[2]], \"duration\": \"300ms\"}");
    run_for(2500 * MS);
    uint64_t h = cc_sim_hash(f);
    for (unsigned i = 0; i < NVM; i++) {
        struct cc_sim_vm_status st;
        cc_sim_vm_status(f, i, &st);
        trace[i] = st.trace_hash;
    }
    sim = save;
    *out = f;
    return h;
}

static void test_loss_and_determinism(void)
{
    reset("20% loss with jitter and a partition: three forks of one snapshot");
    uint64_t ta[NVM], tb[NVM], tc[NVM];
    struct cc_sim *fa, *fb, *fc;
    uint64_t ha = hash_run(false, 0, ta, &fa);

    /* Loss measured by the network and by the guests. */
    struct cc_link_stats s;
    uint64_t sent = 0, lost = 0;
    for (unsigned i = 0; i < NVM; i++)
        for (unsigned j = 0; j < NVM; j++) {
            if (i == j)
                continue;
            cc_sim_link_stats(fa, i, j, &s);
            /* minus what the base snapshot had counted (sim is back at it) */
            struct cc_link_stats b0;
            cc_sim_link_stats(sim, i, j, &b0);
            sent += (s.sent - s.dropped_partition) - (b0.sent - b0.dropped_partition);
            lost += s.dropped_loss - b0.dropped_loss;
        }
    double rate = sent ? (double)lost / sent : 0;
    ok(sent > 300 && rate > 0.16 && rate < 0.24, "20%% loss: the links dropped %" PRIu64 " of %"
       PRIu64 " frames = %.1f%%", lost, sent, 100 * rate);
    /* Over the reports before the partition at +2 s. */
    uint64_t usent = 0, urecv = 0;
    for (unsigned i = 0; i < NVM; i++) {
        const struct sample *a = first_after(i, 0), *b = a;
        for (size_t k = 0; k < nsamples; k++)
            if (samples[k].vm == i && samples[k].g < t_base + 2 * SEC)
                b = &samples[k];
        for (unsigned j = 0; j < NVM; j++) {
            if (i == j)
                continue;
            usent += at(b, "udp_sent", j) - at(a, "udp_sent", j);
            urecv += at(b, "udp_recv", j) - at(a, "udp_recv", j);
        }
    }
    double urate = usent ? 1.0 - (double)urecv / usent : 0;
    ok(usent > 150 && urate > 0.13 && urate < 0.27, "and inside the guests (before the "
       "partition): %" PRIu64 " UDP datagrams sent, %" PRIu64 " received = %.1f%% lost", usent,
       urecv, 100 * urate);

    uint64_t hb = hash_run(false, 0, tb, &fb);
    int same = ha == hb;
    for (unsigned i = 0; i < NVM; i++)
        same &= ta[i] == tb[i];
    ok(same, "same seed and schedule: identical traces of all 3 VMs and hash %016" PRIx64, ha);
    for (unsigned i = 0; i < NVM; i++)
        tap_diag("vm %u trace %016" PRIx64 " / %016" PRIx64, i, ta[i], tb[i]);
    uint64_t hc = hash_run(true, 12345, tc, &fc);
    int differ = hc != ha;
    for (unsigned i = 0; i < NVM; i++)
        differ &= tc[i] != ta[i];
    ok(differ, "another seed: different traces (hash %016" PRIx64 ")", hc);
    cc_sim_destroy(fa);
    cc_sim_destroy(fb);
    cc_sim_destroy(fc);
}

static void test_kill(void)
{
    reset("kill vm 2");
    run_for(500 * MS);
    fault("{\"at\": 0, \"type\": \"kill\", \"vm\": 2}");
    run_for(300 * MS);
    uint64_t b02 = acked(0, 2), b12 = acked(1, 2), b01 = acked(0, 1);
    run_for(1200 * MS);
    struct cc_sim_vm_status st;
    cc_sim_vm_status(sim, 2, &st);
    ok(st.state == CC_SIM_VM_KILLED, "vm 2 is killed");
    ok(acked(0, 2) == b02 && acked(1, 2) == b12 && acked(0, 1) > b01 + 5,
       "a killed node stops answering (0->2 %" PRIu64 " -> %" PRIu64 ", 1->2 %" PRIu64 " -> %"
       PRIu64 "), the others go on", b02, acked(0, 2), b12, acked(1, 2));
    struct cc_link_stats s;
    link_stats(&s, 0, 2);
    ok(s.dropped_down > 0, "frames to it are dropped (%" PRIu64 ")", s.dropped_down);
}

static void test_pause_and_skew(void)
{
    reset("pause vm 2 for 1 s; skew vm 1 by +10%");
    run_for(500 * MS);
    uint64_t g0 = cc_sim_now(sim);
    fault("{\"at\": 0, \"type\": \"pause\", \"vm\": 2, \"duration\": \"1s\"},"
          "{\"at\": 0, \"type\": \"clock_skew\", \"vm\": 1, \"ppm\": 100000}");
    run_for(2500 * MS);
    uint64_t rtt0 = at(last(0), "rtt_max_us", 2), rtt1 = at(last(1), "rtt_max_us", 2);
    uint64_t rtt01 = at(last(0), "rtt_max_us", 1);
    ok(rtt0 > 800000 && rtt1 > 800000 && rtt01 < 300000,
       "a paused node answers late: max RTT to vm 2 is %.3f s (from 0) and %.3f s (from 1), "
       "0->1 only %.3f s", rtt0 / 1e6, rtt1 / 1e6, rtt01 / 1e6);
    is_str(assertion_verdict("an acknowledgement takes more than 500 ms"), "passed",
           "SOMETIMES an acknowledgement takes more than 500 ms passed");
    /* vm 2's own clock jumped when it resumed: one report interval spans the pause. */
    uint64_t maxgap = 0;
    const struct sample *prev = NULL;
    for (size_t i = 0; i < nsamples; i++) {
        if (samples[i].vm != 2)
            continue;
        if (prev && num(&samples[i], "mono_ns") - num(prev, "mono_ns") > maxgap)
            maxgap = num(&samples[i], "mono_ns") - num(prev, "mono_ns");
        prev = &samples[i];
    }
    ok(maxgap > 900 * MS, "the paused guest's CLOCK_MONOTONIC jumped over the pause (a %.3f s "
       "gap between its reports)", maxgap / 1e9);
    /* Skew: the guest clock of vm 1 against the global clock, against vm 0. */
    const struct sample *a1 = first_after(1, g0 + 200 * MS), *b1 = last(1);
    const struct sample *a0 = first_after(0, g0 + 200 * MS), *b0 = last(0);
    double r1 = a1 && b1 && b1->g > a1->g ?
                (double)(num(b1, "mono_ns") - num(a1, "mono_ns")) / (b1->g - a1->g) : 0;
    double r0 = a0 && b0 && b0->g > a0->g ?
                (double)(num(b0, "mono_ns") - num(a0, "mono_ns")) / (b0->g - a0->g) : 0;
    ok(r1 > 1.08 && r1 < 1.12 && r0 > 0.98 && r0 < 1.02, "skew +100000 ppm is visible: vm 1's "
       "CLOCK_MONOTONIC runs at %.4f x the global clock, vm 0's at %.4f x", r1, r0);
}

static void test_restart(void)
{
    reset("restart vm 1");
    run_for(500 * MS);
    uint64_t f10 = at(last(0), "conn_fail", 1);
    fault("{\"at\": 0, \"type\": \"restart\", \"vm\": 1}");
    run_for(2000 * MS);
    struct cc_sim_vm_status st;
    cc_sim_vm_status(sim, 1, &st);
    ok(st.restarts == 1 && st.state == CC_SIM_VM_RUNNING, "vm 1 restarted");
    is_int(boots[1], 2, "it came back with its disk: the boot counter on /dev/vda reads 2");
    is_str(assertion_verdict("a node restarts and finds its disk as it was"), "passed",
           "REACHABLE restarted with its disk passed");
    uint64_t f10b = at(last(0), "conn_fail", 1);
    uint64_t a01 = at(last(0), "acked", 1), a10 = at(last(1), "acked", 0);
    ok(f10b > f10 && a10 > 0, "peers lost their connections to the old node and talk to the new "
       "one (conn_fail 0->1 %" PRIu64 " -> %" PRIu64 ", new node acked 1->0 %" PRIu64 ", 0->1 %"
       PRIu64 ")", f10, f10b, a10, a01);
    is_str(assertion_verdict("reconnected after a lost connection"), "passed",
           "SOMETIMES reconnected passed");
}

static void test_clock_jump(void)
{
    reset("clock jump vm 0 by +30 s");
    run_for(600 * MS);
    const struct sample *a = last(0);
    uint64_t m0 = num(a, "mono_ns"), r0 = num(a, "real_ns");
    fault("{\"at\": 0, \"type\": \"clock_jump\", \"vm\": 0, \"delta\": \"30s\"}");
    run_for(1000 * MS);
    const struct sample *b = last(0);
    int64_t dm = (int64_t)(num(b, "mono_ns") - m0), dr = (int64_t)(num(b, "real_ns") - r0);
    int64_t dg = (int64_t)(b->g - a->g);
    ok(dm - dg > 29 * (int64_t)SEC && dm - dg < 31 * (int64_t)SEC,
       "CLOCK_MONOTONIC jumped by %.3f s more than the global clock moved", (dm - dg) / 1e9);
    ok(dr - dg > 29 * (int64_t)SEC && dr - dg < 31 * (int64_t)SEC,
       "CLOCK_REALTIME jumped by %.3f s", (dr - dg) / 1e9);
    struct cc_sim_vm_status st;
    cc_sim_vm_status(sim, 0, &st);
    ok(st.clock_offset_ns >= 30 * (int64_t)SEC && st.missed_ticks == 0,
       "its clock is 30 s ahead and every owed tick was delivered");
}

/* Disk faults on the probe's blocks (net-demo writes, syncs and reads back a
 * 4 KiB block at 256 KiB + (k % 64) * 4 KiB every report). */
static void disk_round(const char *what, const char *faults, const char *key[NVM])
{
    reset(what);
    run_for(300 * MS);
    uint64_t before[NVM];
    for (unsigned i = 0; i < NVM; i++)
        before[i] = num(last(i), key[i]);
    fault(faults);
    run_for(1200 * MS);
    for (unsigned i = 0; i < NVM; i++) {
        const struct sample *s = last(i);
        uint64_t after = num(s, key[i]);
        ok(after >= before[i] + 2, "vm %u: %s %" PRIu64 " -> %" PRIu64 " (last errno %" PRIu64
           ", %" PRIu64 " probes)", i, key[i], before[i], after, num(s, "disk_last_errno"),
           num(s, "disk_writes"));
        if (!strcmp(key[i], "disk_rd_err") || !strcmp(key[i], "disk_wr_err"))
            is_u64(num(s, "disk_last_errno"), 5, "vm %u: the guest sees EIO", i);
    }
}

static void test_disk(void)
{
    static const char *k1[NVM] = {"disk_rd_err", "disk_wr_err", "disk_wr_err"};
    disk_round("disk read error (vm 0), write error (vm 1), disk full (vm 2)",
               "{\"at\": 0, \"type\": \"disk_read_error\", \"vm\": 0, \"offset\": \"256K\", "
               "\"length\": \"256K\"},"
               "{\"at\": 0, \"type\": \"disk_write_error\", \"vm\": 1, \"offset\": \"256K\", "
               "\"length\": \"256K\"},"
               "{\"at\": 0, \"type\": \"disk_full\", \"vm\": 2, \"capacity\": 4096}", k1);
    static const char *k2[NVM] = {"disk_mismatch", "disk_mismatch", "disk_mismatch"};
    disk_round("torn write (vm 0), corrupt read (vm 1), corrupt write (vm 2)",
               "{\"at\": 0, \"type\": \"disk_torn_write\", \"vm\": 0, \"torn_bytes\": 512, "
               "\"offset\": \"256K\", \"length\": \"256K\"},"
               "{\"at\": 0, \"type\": \"disk_corrupt_read\", \"vm\": 1, \"offset\": \"256K\", "
               "\"length\": \"256K\"},"
               "{\"at\": 0, \"type\": \"disk_corrupt_write\", \"vm\": 2, \"offset\": \"256K\", "
               "\"length\": \"256K\"}", k2);
}

/* The six link faults at once, each on its own directed link, observed by
 * the receivers' UDP counters (one-way delay, reordered, duplicated) and
 * checksum counters:
 * The guest's clocks tick at HZ = 100, so delays are seen in 10 ms steps.
 *   0->1 latency 50 ms, 1->2 jitter 60 ms, 2->0 bandwidth 20 kbit/s,
 *   1->0 corruption 5%, 0->2 reorder 30% by 120 ms, 2->1 duplication 30%. */
struct udp_window {
    uint64_t recv, dsum, dmin, dmax, reorder, dup, n;
};

/* What vm saw from peer over the reports in (g0, g1]. */
static struct udp_window udp_window(unsigned vm, unsigned peer, uint64_t g0, uint64_t g1)
{
    struct udp_window w = {0};
    const struct sample *first = NULL, *lastw = NULL, *before = NULL;
    for (size_t k = 0; k < nsamples; k++) {
        const struct sample *s = &samples[k];
        if (s->vm != vm)
            continue;
        if (s->g <= g0) {
            before = s;
            continue;
        }
        if (s->g > g1)
            break;
        if (!first)
            first = s;
        lastw = s;
        uint64_t cnt = at(s, "udp_dn", peer);
        uint64_t mn = at(s, "udp_dmin_us", peer), mx = at(s, "udp_dmax_us", peer);
        if (!cnt)
            continue;
        if (!w.n || mn < w.dmin)
            w.dmin = mn;
        w.n += cnt;
        if (mx > w.dmax)
            w.dmax = mx;
    }
    if (!first || !before)
        return w;
    w.recv = at(lastw, "udp_recv", peer) - at(before, "udp_recv", peer);
    w.dsum = at(lastw, "udp_dsum_us", peer) - at(before, "udp_dsum_us", peer);
    w.reorder = at(lastw, "udp_reorder", peer) - at(before, "udp_reorder", peer);
    w.dup = at(lastw, "udp_dup", peer) - at(before, "udp_dup", peer);
    return w;
}

static uint64_t avg_us(const struct udp_window *w)
{
    return w->recv ? w->dsum / w->recv : 0;
}

static void test_link_faults(void)
{
    reset("latency 0->1, jitter 1->2, bandwidth 2->0, corruption 1->0, reorder 0->2, "
          "duplication 2->1");
    run_for(1000 * MS);
    uint64_t g0 = cc_sim_now(sim);
    uint64_t bad0 = num(last(0), "rx_bad");
    struct cc_link_stats c0;
    link_stats(&c0, 1, 0);
    fault("{\"at\": 0, \"type\": \"latency\", \"from\": 0, \"to\": 1, \"latency\": \"50ms\"},"
          "{\"at\": 0, \"type\": \"jitter\", \"from\": 1, \"to\": 2, \"jitter\": \"60ms\"},"
          "{\"at\": 0, \"type\": \"bandwidth\", \"from\": 2, \"to\": 0, \"bps\": 20000},"
          "{\"at\": 0, \"type\": \"corrupt\", \"from\": 1, \"to\": 0, \"rate\": 0.05},"
          "{\"at\": 0, \"type\": \"reorder\", \"from\": 0, \"to\": 2, \"rate\": 0.3, "
          "\"delay\": \"120ms\"},"
          "{\"at\": 0, \"type\": \"duplicate\", \"from\": 2, \"to\": 1, \"rate\": 0.3}");
    run_for(3000 * MS);
    uint64_t g1 = cc_sim_now(sim);
    /* Before: every link as configured by default (100 us). */
    struct udp_window b01 = udp_window(1, 0, t_base, g0), b12 = udp_window(2, 1, t_base, g0);
    /* After, skipping the first 500 ms while queues fill. */
    uint64_t g = g0 + 500 * MS;
    struct udp_window a01 = udp_window(1, 0, g, g1), a12 = udp_window(2, 1, g, g1),
                      a20 = udp_window(0, 2, g, g1), a02 = udp_window(2, 0, g, g1),
                      a21 = udp_window(1, 2, g, g1), a10 = udp_window(0, 1, g, g1);
    ok(b01.n > 10 && b01.dmax <= 10000 && a01.n > 10 && a01.dmin >= 40000 && a01.dmax <= 60000,
       "latency: 0->1 UDP one-way delay %" PRIu64 "..%" PRIu64 " us before, %" PRIu64 "..%" PRIu64
       " us after 50 ms latency (avg %" PRIu64 " us, %" PRIu64 " datagrams)", b01.dmin, b01.dmax,
       a01.dmin, a01.dmax, avg_us(&a01), a01.n);
    ok(b12.n > 10 && b12.dmax - b12.dmin <= 10000 && a12.n > 10 &&
       a12.dmax - a12.dmin >= 30000 && a12.dmax <= 70000,
       "jitter: 1->2 delay spread %" PRIu64 " us before, %" PRIu64 " us after 60 ms jitter "
       "(min %" PRIu64 ", max %" PRIu64 " us)", b12.dmax - b12.dmin, a12.dmax - a12.dmin, a12.dmin,
       a12.dmax);
    is_u64(a12.reorder, 0, "and jitter keeps each link's order: nothing arrives reordered on 1->2");
    struct cc_link_stats q;
    link_stats(&q, 2, 0);
    ok(avg_us(&a20) > 30000 && a20.dmax > 60000 && q.dropped_queue > 0,
       "bandwidth 20 kbit/s: 2->0 delay avg %" PRIu64 " us, max %" PRIu64 " us (queueing), %"
       PRIu64 " frames dropped at the full queue", avg_us(&a20), a20.dmax, q.dropped_queue);
    struct cc_link_stats c1;
    link_stats(&c1, 1, 0);
    uint64_t bad1 = num(last(0), "rx_bad");
    ok(c1.corrupted > c0.corrupted && bad1 > bad0,
       "corruption: the link flipped bits in %" PRIu64 " frames 1->0; vm 0's kernel counted %"
       PRIu64 " bad checksums or headers (before: %" PRIu64 ")", c1.corrupted - c0.corrupted,
       bad1 - bad0, bad0);
    ok(!strcmp(assertion_verdict("payload integrity: every message arrives as it was sent"),
               "passed"),
       "ALWAYS payload integrity still holds (%s): TCP checksums caught the flipped bits",
       assertion_verdict("payload integrity: every message arrives as it was sent"));
    ok(a02.reorder > 3 && a02.dup == 0, "reorder: vm 2 saw %" PRIu64 " of %" PRIu64
       " datagrams from 0 arrive after a later one, no duplicates", a02.reorder, a02.recv);
    ok(a21.dup > 3 && a21.reorder == 0, "duplication: vm 1 got %" PRIu64 " datagrams from 2 twice "
       "(of %" PRIu64 "), none reordered", a21.dup, a21.recv);
    ok(a10.dup == 0 && a10.reorder == 0 && a01.dup == 0 && a01.reorder == 0,
       "links without those faults see no duplicates or reordering");
}

static unsigned balloon_irq(unsigned vm)
{
    struct cc_vm *v = cc_sim_vm(sim, vm);
    for (unsigned i = 0; i < cc_vm_virtio_count(v); i++) {
        struct cc_virtio_info info;
        if (cc_vm_virtio_info(v, i, &info) == 0 && info.type == CC_VIRTIO_BALLOON)
            return info.irq;
    }
    return 0;
}

static void test_memory_irq_nmi(void)
{
    reset("memory pressure 64M (vm 2), IRQ x5 on the balloon's line (vm 0), NMI (vm 1)");
    run_for(300 * MS);
    unsigned line = balloon_irq(0);
    const struct sample *a0 = last(0), *a1 = last(1), *a2 = last(2);
    uint64_t irq0 = at(a0, "irq", line), nmi1 = num(a1, "nmi");
    uint64_t tot2 = num(a2, "memtotal_kb"), free2 = num(a2, "memfree_kb");
    char f[512];
    snprintf(f, sizeof(f),
             "{\"at\": 0, \"type\": \"memory_pressure\", \"vm\": 2, \"size\": \"64M\"},"
             "{\"at\": 0, \"type\": \"irq\", \"vm\": 0, \"line\": %u, \"count\": 5},"
             "{\"at\": 0, \"type\": \"nmi\", \"vm\": 1}", line);
    fault(f);
    run_for(1500 * MS);
    const struct sample *b0 = last(0), *b1 = last(1), *b2 = last(2);
    uint64_t irq0b = at(b0, "irq", line), nmi1b = num(b1, "nmi");
    uint64_t tot2b = num(b2, "memtotal_kb"), free2b = num(b2, "memfree_kb");
    ok(tot2 - tot2b >= 65536 - 64 && tot2 - tot2b <= 65536 + 64 && free2 - free2b > 60000,
       "memory pressure: vm 2's MemTotal %" PRIu64 " -> %" PRIu64 " kB, MemFree %" PRIu64 " -> %"
       PRIu64 " kB", tot2, tot2b, free2, free2b);
    struct cc_balloon_stats bs;
    cc_virtio_balloon_stats(cc_vm_virtio_balloon(cc_sim_vm(sim, 2), 0), &bs);
    is_u64(bs.actual_pages, 16384, "the balloon holds 16384 pages");
    ok(irq0b >= irq0 + 5, "IRQ %u injected 5 times: /proc/interrupts %" PRIu64 " -> %" PRIu64,
       line, irq0, irq0b);
    ok(nmi1b == nmi1 + 1, "NMI: the guest's NMI count %" PRIu64 " -> %" PRIu64, nmi1, nmi1b);
    ok(serial_has(1, "NMI received"), "and the kernel reported it on the console");
}

/* VMM log lines are TAP diagnostics (kvm-host merges stderr into stdout). */
static void log_diag(void *opaque, const char *msg)
{
    (void)opaque;
    tap_diag("%s", msg);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        tap_bail("usage: %s KERNEL BUILD_DIR", argv[0]);
    char initrd[4096];
    snprintf(initrd, sizeof(initrd), "%s/guests/net-demo.initrd", argv[2]);
    struct cc_sim_config cfg;
    cc_sim_config_default(&cfg);
    cfg.n_vms = NVM;
    cfg.seed = 7;
    cfg.kernel = argv[1];
    cfg.initrd = initrd;
    cfg.disk_size = 1 << 20;
    cfg.append = "netdemo_report_ms=250 CHAOSCONTROL_SDK_KCOV=0";
    cfg.sdk_hook = hook;
    cfg.watchdog_s = 60;
    cfg.log = log_diag;
    struct cc_err err = {0};
    double t0 = wall();
    if (cc_sim_create(&cfg, &sim, &err) < 0)
        tap_bail("create: %s", err.msg);
    struct cc_sim_limits lim = {.until_setup = true, .until_ns = 30 * SEC};
    struct cc_sim_result res;
    if (cc_sim_run(sim, &lim, &res, &err) < 0)
        tap_bail("boot: %s", err.msg);
    ok(res.stop == CC_SIM_STOP_SETUP, "3 net-demo VMs boot in lockstep to setup_complete (%s at "
       "%.3f s virtual, %.1f s wall)", cc_sim_stop_name(res.stop), res.vtime / 1e9, wall() - t0);
    if (res.stop != CC_SIM_STOP_SETUP)
        return tap_exit();
    double t1 = wall();
    run_for(2 * SEC);           /* connections up, ARP resolved */
    tap_diag("warm-up to %.3f s virtual: %.1f s wall", cc_sim_now(sim) / 1e9, wall() - t1);
    t1 = wall();
    if (cc_sim_snapshot(sim, &base, &err) < 0)
        tap_bail("snapshot: %s", err.msg);
    t_base = cc_sim_now(sim);
    tap_diag("simulation snapshot: %.2f s wall", wall() - t1);

    struct { const char *name; void (*fn)(void); } cases[] = {
        {"tcp", test_tcp},
        {"partition", test_partition},
        {"loss+determinism", test_loss_and_determinism},
        {"kill", test_kill},
        {"pause+skew", test_pause_and_skew},
        {"restart", test_restart},
        {"clock jump", test_clock_jump},
        {"link faults", test_link_faults},
        {"disk", test_disk},
        {"memory+irq+nmi", test_memory_irq_nmi},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double w = wall();
        cases[i].fn();
        tap_diag("%s: %.1f s wall", cases[i].name, wall() - w);
    }
    tap_diag("total %.1f s wall", wall() - t0);
    cc_sim_snapshot_put(base);
    cc_sim_destroy(sim);
    clear_samples();
    free(samples);
    return tap_exit();
}
