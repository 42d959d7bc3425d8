/* Unit tests for fault schedules (chaoscontrol/schedule.h): the builder
 * keeps time order (stable for equal times), every fault type parses and
 * round-trips through the JSON form, times with units, rates, sizes, and
 * malformed schedules give clear errors naming the source and JSON path:
 * bad JSON, unknown fault, negative or non-integer time, VM index out of
 * range, unknown keys, missing keys, bad sides, bad rates, bad seeds
 * (vcpu_schedule: 64-bit, a number up to 2^53 and a string above). No
 * KVM. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "../tap.h"
#include "chaoscontrol/schedule.h"

static struct cc_schedule *parse(const char *text, unsigned n_vms, struct cc_err *err)
{
    struct cc_schedule *s = NULL;
    memset(err, 0, sizeof(*err));
    if (cc_schedule_parse(text, "schedule.json", n_vms, &s, err) < 0)
        return NULL;
    return s;
}

/* The error for a schedule with one fault object `fault`. */
static const char *fault_error(const char *fault, unsigned n_vms)
{
    static struct cc_err err;
    char text[2048];
    snprintf(text, sizeof(text), "{\"faults\": [{\"at\": 0, \"type\": \"heal\"}, %s]}", fault);
    struct cc_schedule *s = parse(text, n_vms, &err);
    if (s) {
        cc_schedule_free(s);
        return "(accepted)";
    }
    return err.msg;
}

static void expect_error(const char *fault, unsigned n_vms, const char *want, const char *what)
{
    const char *got = fault_error(fault, n_vms);
    if (!ok(strstr(got, want) != NULL, "%s: %s", what, got))
        tap_diag("wanted: %s", want);
}

static void test_builder(void)
{
    struct cc_schedule *s = cc_schedule_new();
    struct cc_err err = {0};
    struct cc_fault f;
    cc_fault_init(&f, CC_FAULT_LOSS, 5 * CC_SEC);
    f.ppm = 200000;
    is_int(cc_schedule_add(s, &f, &err), 0, "first fault at index 0");
    cc_fault_init(&f, CC_FAULT_KILL, 2 * CC_SEC);
    f.vm = 1;
    is_int(cc_schedule_add(s, &f, &err), 0, "an earlier fault goes first");
    cc_fault_init(&f, CC_FAULT_HEAL, 5 * CC_SEC);
    is_int(cc_schedule_add(s, &f, &err), 2, "an equal time goes after the existing one");
    cc_fault_init(&f, CC_FAULT_NMI, 5 * CC_SEC);
    is_int(cc_schedule_add(s, &f, &err), 3, "and after that one too");
    is_int(cc_schedule_count(s), 4, "4 faults");
    ok(cc_schedule_get(s, 2)->type == CC_FAULT_HEAL && cc_schedule_get(s, 3)->type == CC_FAULT_NMI,
       "stable order at equal times");
    is_int(cc_schedule_first_at(s, 5 * CC_SEC), 1, "first_at(5s) = 1");
    is_int(cc_schedule_first_at(s, 6 * CC_SEC), 4, "first_at(6s) = count");
    is_int(cc_schedule_remove(s, 0), 0, "remove");
    is_int(cc_schedule_remove(s, 9), -ENOENT, "remove out of range");
    cc_fault_init(&f, CC_FAULT_PAUSE, 0);
    ok(cc_schedule_add(s, &f, &err) < 0 && strstr(err.msg, "duration"),
       "a pause without duration is refused: %s", err.msg);
    cc_fault_init(&f, CC_FAULT_VCPU_SCHEDULE, 0);
    f.seed = 7;
    f.duration_ns = CC_SEC;
    ok(cc_schedule_add(s, &f, &err) < 0 && strstr(err.msg, "duration: a vcpu_schedule fault is "
       "an instant"), "a vcpu_schedule with a duration is refused: %s", err.msg);
    cc_fault_init(&f, CC_FAULT_KILL, 0);
    f.vm = 3;
    struct cc_schedule *c = cc_schedule_clone(s);
    cc_schedule_add(c, &f, &err);
    ok(cc_schedule_validate(c, 4, &err) == 0, "vm 3 is fine with 4 VMs");
    ok(cc_schedule_validate(c, 3, &err) < 0 && !strcmp(err.msg, "faults[0].vm: 3 is out of range "
       "(3 VMs)"), "validate names the fault and field: %s", err.msg);
    is_int(cc_schedule_count(s), 3, "the clone is independent");
    cc_schedule_free(c);
    cc_schedule_free(s);
}

static const char *every_type =
    "{\"version\": 1, \"faults\": [\n"
    "{\"at\": \"1s\", \"type\": \"partition\", \"sides\": [[0], [1, 2]], \"duration\": \"2s\"},\n"
    "{\"at\": \"3s\", \"type\": \"heal\"},\n"
    "{\"at\": \"1ms\", \"type\": \"latency\", \"latency\": \"5ms\", \"from\": 0, \"to\": [1, 2]},\n"
    "{\"at\": 1500, \"type\": \"jitter\", \"jitter\": \"250us\"},\n"
    "{\"at\": \"2.5s\", \"type\": \"bandwidth\", \"bps\": 1000000, \"from\": [2]},\n"
    "{\"at\": \"4s\", \"type\": \"loss\", \"rate\": 0.2, \"duration\": \"1s\"},\n"
    "{\"at\": \"4s\", \"type\": \"corrupt\", \"rate\": 0.001},\n"
    "{\"at\": \"4s\", \"type\": \"reorder\", \"rate\": 0.5, \"delay\": \"3ms\"},\n"
    "{\"at\": \"4s\", \"type\": \"duplicate\", \"rate\": 1},\n"
    "{\"at\": \"5s\", \"type\": \"disk_read_error\", \"vm\": 0, \"offset\": 4096, \"length\": \"8K\", \"count\": 2},\n"
    "{\"at\": \"5s\", \"type\": \"disk_write_error\", \"vm\": 1},\n"
    "{\"at\": \"5s\", \"type\": \"disk_torn_write\", \"vm\": 2, \"torn_bytes\": 512, \"torn_error\": true},\n"
    "{\"at\": \"5s\", \"type\": \"disk_corrupt_read\", \"vm\": 0, \"bits\": 3},\n"
    "{\"at\": \"5s\", \"type\": \"disk_corrupt_write\", \"vm\": 0, \"count\": \"unlimited\"},\n"
    "{\"at\": \"5s\", \"type\": \"disk_full\", \"vm\": 1, \"capacity\": \"1M\", \"duration\": \"1s\"},\n"
    "{\"at\": \"6s\", \"type\": \"kill\", \"vm\": 2},\n"
    "{\"at\": \"6s\", \"type\": \"pause\", \"vm\": 1, \"duration\": \"1500ms\"},\n"
    "{\"at\": \"8s\", \"type\": \"restart\", \"vm\": 2},\n"
    "{\"at\": \"8s\", \"type\": \"clock_skew\", \"vm\": 0, \"ppm\": -50000},\n"
    "{\"at\": \"8s\", \"type\": \"clock_jump\", \"vm\": 0, \"delta\": \"-30s\"},\n"
    "{\"at\": \"8s\", \"type\": \"clock_jump\", \"vm\": 1, \"delta\": 7000000000},\n"
    "{\"at\": \"9s\", \"type\": \"memory_pressure\", \"vm\": 1, \"size\": \"64M\"},\n"
    "{\"at\": \"9s\", \"type\": \"irq\", \"vm\": 1, \"line\": 7, \"count\": 3},\n"
    "{\"at\": \"9s\", \"type\": \"nmi\", \"vm\": 0},\n"
    "{\"at\": \"9s\", \"type\": \"vcpu_schedule\", \"vm\": 2, \"seed\": 12345},\n"
    "{\"at\": \"10s\", \"type\": \"vcpu_schedule\", \"vm\": 0, \"seed\": \"18446744073709551615\"}\n"
    "]}\n";

static void test_every_type(void)
{
    struct cc_err err;
    struct cc_schedule *s = parse(every_type, 3, &err);
    if (!ok(s != NULL, "a schedule with every fault type parses (%s)", err.msg))
        return;
    is_int(cc_schedule_count(s), 26, "26 faults");
    bool seen[CC_FAULT_TYPE_END] = {0};
    for (size_t i = 0; i < cc_schedule_count(s); i++)
        seen[cc_schedule_get(s, i)->type] = true;
    int all = 1;
    for (int t = 1; t < CC_FAULT_TYPE_END; t++)
        all &= seen[t];
    ok(all, "every type is in it");
    const struct cc_fault *f = cc_schedule_get(s, 0);
    ok(f->type == CC_FAULT_JITTER && f->at_ns == 1500 && f->ns == 250000,
       "sorted: the jitter at 1500 ns comes first, 250 us");
    f = cc_schedule_get(s, 1);
    ok(f->type == CC_FAULT_LATENCY && f->ns == 5 * CC_MSEC && f->from == 1 && f->to == 6,
       "latency 5 ms from 0 to {1,2}");
    f = cc_schedule_get(s, 2);
    ok(f->type == CC_FAULT_PARTITION && f->n_sides == 2 && f->sides[0] == 1 && f->sides[1] == 6 &&
       f->duration_ns == 2 * CC_SEC, "partition [0] | [1 2] for 2 s");
    f = cc_schedule_get(s, 3);
    ok(f->type == CC_FAULT_BANDWIDTH && f->at_ns == 2500 * CC_MSEC && f->from == 4 &&
       f->bps == 1000000, "2.5s bandwidth from [2]");
    f = cc_schedule_get(s, 5);
    ok(f->type == CC_FAULT_LOSS && f->ppm == 200000, "rate 0.2 = 200000 ppm");
    f = cc_schedule_get(s, 9);
    ok(f->type == CC_FAULT_DISK_READ_ERROR && f->offset == 4096 && f->length == 8192 &&
       f->count == 2, "disk read error 4096+8K x2");
    f = cc_schedule_get(s, 10);
    ok(f->count == CC_FAULT_UNLIMITED && f->length == 0, "defaults: unlimited, to the end");
    f = cc_schedule_get(s, 11);
    ok(f->torn_bytes == 512 && f->torn_error, "torn write 512 bytes with error");
    f = cc_schedule_get(s, 14);
    ok(f->type == CC_FAULT_DISK_FULL && f->bytes == (1u << 20), "disk full at 1 MiB");
    f = cc_schedule_get(s, 19);
    ok(f->type == CC_FAULT_CLOCK_JUMP && f->delta_ns == -30 * (int64_t)CC_SEC, "jump -30 s");
    f = cc_schedule_get(s, 21);
    ok(f->type == CC_FAULT_MEMORY_PRESSURE && f->bytes == (64u << 20), "64M balloon");
    f = cc_schedule_get(s, 24);
    ok(f->type == CC_FAULT_VCPU_SCHEDULE && f->at_ns == 9 * CC_SEC && f->vm == 2 &&
       f->seed == 12345 && !f->duration_ns, "vcpu_schedule vm 2 seed 12345 at 9 s");
    f = cc_schedule_get(s, 25);
    ok(f->type == CC_FAULT_VCPU_SCHEDULE && f->vm == 0 && f->seed == UINT64_MAX,
       "a seed of 2^64-1 as a decimal string");
    ok(cc_fault_has_vm(CC_FAULT_VCPU_SCHEDULE) && cc_fault_is_instant(CC_FAULT_VCPU_SCHEDULE) &&
       !cc_fault_is_disk(CC_FAULT_VCPU_SCHEDULE) && !cc_fault_is_network(CC_FAULT_VCPU_SCHEDULE),
       "vcpu_schedule: a VM fault, an instant");
    is_str(cc_fault_type_name(CC_FAULT_VCPU_SCHEDULE), "vcpu_schedule", "its name");
    ok(cc_fault_type_from_name("vcpu_schedule") == CC_FAULT_VCPU_SCHEDULE, "and back");

    char *text = cc_schedule_to_json(s);
    struct cc_schedule *s2 = parse(text, 3, &err);
    ok(s2 && cc_schedule_count(s2) == cc_schedule_count(s), "the JSON form parses back (%s)",
       err.msg);
    int same = s2 != NULL;
    for (size_t i = 0; s2 && i < cc_schedule_count(s); i++)
        same &= !memcmp(cc_schedule_get(s, i), cc_schedule_get(s2, i), sizeof(struct cc_fault));
    ok(same, "and gives the same faults, field by field");
    char *text2 = s2 ? cc_schedule_to_json(s2) : NULL;
    ok(text2 && !strcmp(text, text2), "printing is stable");
    tap_diag("first lines: %.300s", text);
    char d[256];
    cc_fault_describe(cc_schedule_get(s, 2), d, sizeof(d));
    is_str(d, "partition [0] | [1,2] | rest for 2s", "describe partition");
    cc_fault_describe(cc_schedule_get(s, 1), d, sizeof(d));
    is_str(d, "latency 5ms 0->1,2", "describe latency");
    cc_fault_describe(cc_schedule_get(s, 16), d, sizeof(d));
    is_str(d, "pause vm 1 for 1500ms", "describe pause");
    cc_fault_describe(cc_schedule_get(s, 24), d, sizeof(d));
    is_str(d, "vcpu_schedule vm 2 seed 12345", "describe vcpu_schedule");
    cc_fault_describe(cc_schedule_get(s, 25), d, sizeof(d));
    is_str(d, "vcpu_schedule vm 0 seed 18446744073709551615", "describe a 64-bit seed");
    ok(strstr(text, "{\"at\": \"9s\", \"type\": \"vcpu_schedule\", \"vm\": 2, \"seed\": 12345}") &&
       strstr(text, "\"vm\": 0, \"seed\": \"18446744073709551615\"}"),
       "written: a seed up to 2^53 as a number, above as a string");
    /* the edge of exact JSON numbers */
    struct cc_fault vf;
    cc_fault_init(&vf, CC_FAULT_VCPU_SCHEDULE, CC_SEC);
    vf.seed = 1ull << 53;
    char *j1 = cc_fault_to_json(&vf);
    vf.seed++;
    char *j2 = cc_fault_to_json(&vf);
    ok(j1 && strstr(j1, "\"seed\": 9007199254740992}") && j2 &&
       strstr(j2, "\"seed\": \"9007199254740993\"}"), "2^53 is a number, 2^53 + 1 a string");
    free(j1);
    free(j2);
    free(text);
    free(text2);
    cc_schedule_free(s2);

    /* Files. */
    char path[] = "/tmp/cc-schedule-XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    ok(cc_schedule_save(s, path, &err) == 0, "saved to a file");
    struct cc_schedule *s3 = NULL;
    ok(cc_schedule_load(path, 3, &s3, &err) == 0 && cc_schedule_count(s3) == 26, "loads back");
    cc_schedule_free(s3);
    s3 = NULL;
    ok(cc_schedule_load(path, 2, &s3, &err) < 0 && strstr(err.msg, path) &&
       strstr(err.msg, "is out of range (2 VMs)"), "with 2 VMs: %s", err.msg);
    unlink(path);
    ok(cc_schedule_load(path, 3, &s3, &err) < 0 && strstr(err.msg, "cannot read"),
       "missing file: %s", err.msg);
    cc_schedule_free(s3);
    cc_schedule_free(s);

    /* A partition with a bridge: the client VM 3 reaches both sides. */
    struct cc_schedule *br = parse("{\"faults\": [{\"at\": \"1s\", \"type\": \"partition\", "
                                   "\"sides\": [[2]], \"bridge\": [3]}]}", 4, &err);
    ok(br && cc_schedule_get(br, 0)->bridge == 8 && cc_schedule_get(br, 0)->sides[0] == 4,
       "a bridged partition parses (%s)", err.msg);
    if (br) {
        cc_fault_describe(cc_schedule_get(br, 0), d, sizeof(d));
        is_str(d, "partition [2] | rest, bridge [3]", "describe a bridged partition");
        char *bt = cc_schedule_to_json(br);
        struct cc_schedule *br2 = bt ? parse(bt, 4, &err) : NULL;
        ok(bt && strstr(bt, "\"bridge\": [3]") && br2 &&
           cc_schedule_get(br2, 0)->bridge == 8, "and its JSON form keeps the bridge");
        free(bt);
        cc_schedule_free(br2);
        cc_schedule_free(br);
    }

    struct cc_schedule *e = parse("{\"faults\": []}", 3, &err);
    ok(e && cc_schedule_count(e) == 0, "an empty schedule is fine");
    char *et = e ? cc_schedule_to_json(e) : NULL;
    ok(et && !strcmp(et, "{\"version\": 1, \"faults\": []}\n"), "and prints as %s", et);
    free(et);
    cc_schedule_free(e);
}

static void test_errors(void)
{
    struct cc_err err;
    ok(!parse("{\"faults\": [", 3, &err) && strstr(err.msg, "schedule.json: line 1") &&
       strstr(err.msg, "invalid JSON"), "bad JSON: %s", err.msg);
    ok(!parse("[1, 2]", 3, &err) && strstr(err.msg, "top level is an array"),
       "not an object: %s", err.msg);
    ok(!parse("{\"fault\": []}", 3, &err) && strstr(err.msg, "unknown top-level key \"fault\""),
       "unknown top-level key: %s", err.msg);
    ok(!parse("{\"version\": 1}", 3, &err) && strstr(err.msg, "no \"faults\""),
       "no faults: %s", err.msg);
    ok(!parse("{\"version\": 2, \"faults\": []}", 3, &err) && strstr(err.msg, "newer"),
       "newer version: %s", err.msg);
    ok(!parse("{\"faults\": [], \"faults\": []}", 3, &err) && strstr(err.msg, "invalid JSON"),
       "duplicate keys: %s", err.msg);

    expect_error("{\"at\": 0, \"type\": \"partion\"}", 3,
                 "schedule.json: faults[1].type: unknown fault type 'partion'", "unknown fault");
    expect_error("{\"at\": -5, \"type\": \"heal\"}", 3, "schedule.json: faults[1].at: -5 is negative",
                 "negative time");
    expect_error("{\"at\": \"-5s\", \"type\": \"heal\"}", 3, "faults[1].at: \"-5s\" is negative",
                 "negative time with a unit");
    expect_error("{\"at\": 1.5, \"type\": \"heal\"}", 3,
                 "faults[1].at: 1.5 is not a whole number of nanoseconds", "non-integer time");
    expect_error("{\"at\": \"1.0000000001s\", \"type\": \"heal\"}", 3,
                 "is not a whole number of nanoseconds", "sub-nanosecond time");
    expect_error("{\"at\": \"5 sec\", \"type\": \"heal\"}", 3, "faults[1].at: \"5 sec\" is not a time",
                 "bad unit");
    expect_error("{\"at\": true, \"type\": \"heal\"}", 3, "faults[1].at: is a boolean, not a time",
                 "wrong JSON type for a time");
    expect_error("{\"at\": 0, \"type\": \"kill\", \"vm\": 5}", 3,
                 "schedule.json: faults[1].vm: 5 is out of range (3 VMs)", "VM index out of range");
    expect_error("{\"at\": 0, \"type\": \"kill\", \"vm\": -1}", 3, "faults[1].vm: -1 is negative",
                 "negative VM");
    expect_error("{\"at\": 0, \"type\": \"kill\"}", 3, "faults[1]: a kill fault needs \"vm\"",
                 "missing vm");
    expect_error("{\"type\": \"kill\", \"vm\": 0}", 3, "faults[1]: has no \"at\"", "missing at");
    expect_error("{\"at\": 0, \"vm\": 0}", 3, "faults[1]: has no \"type\"", "missing type");
    expect_error("{\"at\": 0, \"type\": \"kill\", \"vm\": 0, \"vn\": 1}", 3,
                 "faults[1]: unknown key \"vn\" for a kill fault (it takes at, type, vm)",
                 "unknown key");
    expect_error("{\"at\": 0, \"type\": \"loss\", \"rate\": 0.2, \"vm\": 0}", 3,
                 "unknown key \"vm\" for a loss fault", "a key of another type");
    expect_error("{\"at\": 0, \"type\": \"kill\", \"vm\": 0, \"duration\": \"1s\"}", 3,
                 "faults[1].duration: a kill fault is an instant", "duration on an instant");
    expect_error("{\"at\": 0, \"type\": \"pause\", \"vm\": 0}", 3,
                 "a pause fault needs \"duration\"", "pause without duration");
    expect_error("{\"at\": 0, \"type\": \"pause\", \"vm\": 0, \"duration\": 0}", 3,
                 "faults[1].duration: a pause needs a duration > 0", "pause of 0");
    expect_error("{\"at\": 0, \"type\": \"loss\", \"rate\": 1.5}", 3,
                 "faults[1].rate: 1.5 is not in [0, 1]", "rate above 1");
    expect_error("{\"at\": 0, \"type\": \"loss\", \"rate\": \"20%\"}", 3,
                 "faults[1].rate: is a string, not a rate", "rate as a string");
    expect_error("{\"at\": 0, \"type\": \"loss\"}", 3, "a loss fault needs \"rate\"", "no rate");
    expect_error("{\"at\": 0, \"type\": \"loss\", \"rate\": 0.1, \"to\": [0, 7]}", 3,
                 "faults[1].to[1]: 7 is out of range (3 VMs)", "link target out of range");
    expect_error("{\"at\": 0, \"type\": \"partition\", \"sides\": [[0], [0, 1]]}", 3,
                 "faults[1].sides[1]: VM 0 is already on another side", "overlapping sides");
    expect_error("{\"at\": 0, \"type\": \"partition\", \"sides\": [[0]], \"bridge\": [0]}", 3,
                 "faults[1].bridge: VM 0 is also on a side", "bridge on a side");
    expect_error("{\"at\": 0, \"type\": \"partition\", \"sides\": [[0]], \"bridge\": [5]}", 3,
                 "faults[1].bridge[0]: 5 is out of range (3 VMs)", "bridge out of range");
    expect_error("{\"at\": 0, \"type\": \"partition\", \"sides\": [[0], [3]]}", 3,
                 "faults[1].sides[1][0]: 3 is out of range (3 VMs)", "side VM out of range");
    expect_error("{\"at\": 0, \"type\": \"partition\", \"sides\": [[0], []]}", 3,
                 "faults[1].sides[1]: is empty", "empty side");
    expect_error("{\"at\": 0, \"type\": \"partition\", \"sides\": [0, 1]}", 3,
                 "faults[1].sides[0]: is an integer, not an array", "sides not nested");
    expect_error("{\"at\": 0, \"type\": \"irq\", \"vm\": 0, \"line\": 2}", 3,
                 "faults[1].line: 2 is not an ISA interrupt line", "IRQ line 2");
    expect_error("{\"at\": 0, \"type\": \"clock_skew\", \"vm\": 0, \"ppm\": -1000000}", 3,
                 "faults[1].ppm: -1000000 is not in", "skew stopping the clock");
    expect_error("{\"at\": 0, \"type\": \"disk_read_error\", \"vm\": 0, \"count\": 0}", 3,
                 "faults[1].count: must be at least 1", "count 0");
    expect_error("{\"at\": 0, \"type\": \"memory_pressure\", \"vm\": 0, \"size\": \"lots\"}", 3,
                 "faults[1].size: \"lots\" is not a size", "bad size");
    expect_error("{\"at\": 0, \"type\": \"clock_jump\", \"vm\": 0, \"delta\": 0}", 3,
                 "faults[1].delta: a clock jump of 0 does nothing", "jump of 0");
    expect_error("17", 3, "faults[1]: is an integer, not an object", "fault not an object");
    expect_error("{\"at\": 0, \"type\": \"vcpu_sched\"}", 3,
                 "disk_full, kill, pause, restart, clock_skew, clock_jump, memory_pressure, irq, "
                 "nmi, vcpu_schedule)", "the known types include vcpu_schedule");
    expect_error("{\"at\": \"1s\", \"type\": \"vcpu_schedule\", \"vm\": 0}", 3,
                 "schedule.json: faults[1]: a vcpu_schedule fault needs \"seed\"", "missing seed");
    expect_error("{\"at\": \"1s\", \"type\": \"vcpu_schedule\", \"seed\": 1}", 3,
                 "faults[1]: a vcpu_schedule fault needs \"vm\"", "vcpu_schedule without vm");
    expect_error("{\"at\": \"1s\", \"type\": \"vcpu_schedule\", \"vm\": 3, \"seed\": 1}", 3,
                 "faults[1].vm: 3 is out of range (3 VMs)", "vcpu_schedule on a VM out of range");
    expect_error("{\"at\": \"1s\", \"type\": \"vcpu_schedule\", \"vm\": \"0\", \"seed\": 1}",
                 3, "faults[1].vm: is a string, not a VM index", "vcpu_schedule vm as a string");
    expect_error("{\"at\": \"1s\", \"type\": \"vcpu_schedule\", \"vm\": 0, \"seed\": 1, "
                 "\"duration\": \"1s\"}", 3,
                 "faults[1].duration: a vcpu_schedule fault is an instant and takes no duration",
                 "vcpu_schedule with a duration");
    expect_error("{\"at\": 0, \"type\": \"vcpu_schedule\", \"vm\": 0, \"seed\": -1}", 3,
                 "faults[1].seed: -1 is negative", "negative seed");
    expect_error("{\"at\": 0, \"type\": \"vcpu_schedule\", \"vm\": 0, \"seed\": 1.5}", 3,
                 "faults[1].seed: is a number, not a seed", "fractional seed");
    expect_error("{\"at\": 0, \"type\": \"vcpu_schedule\", \"vm\": 0, "
                 "\"seed\": \"18446744073709551616\"}", 3,
                 "faults[1].seed: \"18446744073709551616\" is not a seed", "seed of 2^64");
    ok(!parse("{\"faults\": [{\"at\": 0, \"type\": \"vcpu_schedule\", \"vm\": 0, "
              "\"seed\": 18446744073709551615}]}", 3, &err) && strstr(err.msg, "invalid JSON") &&
       strstr(err.msg, "written as a string"), "a seed above 2^63 as a number: %s", err.msg);
    expect_error("{\"at\": 0, \"type\": \"vcpu_schedule\", \"vm\": 0, \"seed\": \"0x10\"}", 3,
                 "faults[1].seed: \"0x10\" is not a seed", "hex seed");
    expect_error("{\"at\": 0, \"type\": \"vcpu_schedule\", \"vm\": 0, \"seed\": 1, \"sed\": 2}", 3,
                 "unknown key \"sed\" for a vcpu_schedule fault (it takes at, type, vm, seed)",
                 "unknown key on a vcpu_schedule");
    expect_error("{\"at\": 0, \"type\": \"kill\", \"vm\": 0, \"seed\": 1}", 3,
                 "unknown key \"seed\" for a kill fault", "seed on another type");
    expect_error("{\"at\": 0, \"type\": \"vcpu_schedule\", \"vm\": 1, \"seed\": "
                 "\"9007199254740993\"}", 3, "(accepted)", "a string seed is accepted");
    /* Without a VM count, indices are checked against the maximum only. */
    expect_error("{\"at\": 0, \"type\": \"kill\", \"vm\": 63}", 0, "(accepted)",
                 "vm 63 is fine without a VM count");
    expect_error("{\"at\": 0, \"type\": \"kill\", \"vm\": 64}", 0, "64 is out of range (at most 64 VMs)",
                 "vm 64 never is");
}

/* Times on command lines: every unit, minutes and hours too (--lease 10m,
 * --time-limit 2h), and what is not a time. */
static void test_time_parse(void)
{
    static const struct { const char *s; uint64_t ns; } good[] = {
        {"250", 250}, {"3ns", 3}, {"2us", 2000}, {"1.5ms", 1500000}, {"1s", CC_SEC},
        {"10m", 600 * CC_SEC}, {"0.5m", 30 * CC_SEC}, {"2h", 7200 * CC_SEC},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint64_t v = 0;
        ok(cc_time_parse(good[i].s, &v) && v == good[i].ns, "time '%s' is %" PRIu64 " ns",
           good[i].s, good[i].ns);
    }
    static const char *const bad[] = {"", "m", "10 m", "10min", "1d", "-1s", "1.5", "s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint64_t v;
        ok(!cc_time_parse(bad[i], &v), "'%s' is not a time", bad[i]);
    }
}

int main(void)
{
    test_time_parse();
    test_builder();
    test_every_type();
    test_errors();
    return tap_exit();
}
