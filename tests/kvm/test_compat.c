/* Snapshot files written by earlier versions still load and run the same.
 *
 * tests/fixtures/snapshots/NAME.ccsnap holds a snapshot of a tiny guest
 * (this file's guest_compat) in the middle of its run: PIT ticking into the
 * PIC, UART output, CMOS reads, memory being written, a virtio-rng and a
 * virtio-blk device attached, the SDK state of every VM. NAME.expect holds
 * what the run looked like when the file was written: the guest's result
 * and the VM's exit count, virtual time, exit-trace, serial and RAM hashes
 * at the end. Each fixture is loaded, forked and run to the end; the result
 * must equal the expectation, bit for bit.
 *
 *   test_compat [FIXTURE_DIR]          check every fixture in the directory
 *                                      (default: tests/fixtures/snapshots)
 *   test_compat --write FIXTURE_DIR N  write NAME = N (done once per format
 *                                      change, with the code of that time)
 *
 * A fixture whose expectation no longer holds because the VMM's semantics
 * changed on purpose (say, what an exit costs in virtual time) is written
 * anew under a new name; old fixtures that still load keep proving that
 * old files load. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/snapshot.h"
#include "chaoscontrol/virtio.h"
#include "kvmtest.h"
#include "tap.h"

#define SCRATCH 0x1000000ull     /* 16 MiB: guest scratch area */
#define SCRATCH_PAGES 64

GUEST_CODE static void eoi(uint64_t vector)
{
    (void)vector;
    kt_outb(0x20, 0x20);
}

/* Tick the PIT into the PIC, write the UART and memory, read the CMOS; sync
 * at tick 4 (the snapshot point) and report at tick 12. */
GUEST_CODE static void guest_compat(uint64_t arg)
{
    (void)arg;
    volatile uint64_t *mem = (volatile uint64_t *)SCRATCH;
    kt_irq_hook = eoi;
    kt_pic_init(0xfe, 0xff);
    kt_pit_periodic(11932);         /* 100 Hz */
    uint64_t sum = 0;
    for (unsigned tick = 1; tick <= 12; tick++) {
        while (kt_irq_count[0x20] < tick)
            kt_sti_hlt();
        kt_cli();
        kt_outb(0x3f8, (uint8_t)('a' + tick));
        kt_outb(0x70, 0x00);        /* CMOS seconds */
        sum = sum * 31 + kt_inb(0x71);
        for (unsigned p = 0; p < SCRATCH_PAGES; p++)
            mem[p * 512 + tick] = sum + p;
        if (tick == 4)
            GUEST_SYNC(tick);
    }
    for (unsigned p = 0; p < SCRATCH_PAGES; p++)
        for (unsigned i = 0; i <= 12; i++)
            sum += mem[p * 512 + i];
    GUEST_SYNC2(kt_irq_count[0x20], sum);
    GUEST_DONE();
}

struct outcome {
    uint64_t ticks, sum, exits, vtime, trace, serial, ram;
};

static int finish(struct kt_vm *t, struct outcome *o)
{
    struct kt_ucall uc;
    if (kt_run(t, &uc) != KT_SYNC) {
        kt_diag_ucall(&uc);
        return -1;
    }
    o->ticks = uc.args[0];
    o->sum = uc.args[1];
    o->exits = cc_vm_exit_count(t->vm);
    o->vtime = cc_vm_vtime_ns(t->vm);
    o->trace = cc_vm_trace_hash(t->vm);
    o->serial = cc_vm_serial_hash(t->vm);
    o->ram = cc_vm_ram_hash(t->vm);
    return 0;
}

static const char outcome_fmt[] =
    "ticks %" SCNu64 " sum %" SCNx64 " exits %" SCNu64 " vtime %" SCNu64 " trace %" SCNx64
    " serial %" SCNx64 " ram %" SCNx64;

static void outcome_str(const struct outcome *o, char *buf, size_t n)
{
    snprintf(buf, n, "ticks %" PRIu64 " sum %" PRIx64 " exits %" PRIu64 " vtime %" PRIu64
             " trace %" PRIx64 " serial %" PRIx64 " ram %" PRIx64, o->ticks, o->sum, o->exits,
             o->vtime, o->trace, o->serial, o->ram);
}

static int write_fixture(const char *dir, const char *name)
{
    struct cc_err err = {0};
    struct kt_vm *t = kt_create(guest_compat, 0, NULL);
    struct cc_blk_config bc = {.size = 1 << 20};
    if (cc_vm_add_virtio_rng(t->vm, NULL, &err) < 0 ||
        cc_vm_add_virtio_blk(t->vm, &bc, NULL, &err) < 0) {
        fprintf(stderr, "devices: %s\n", err.msg);
        return 1;
    }
    struct kt_ucall uc;
    if (kt_run(t, &uc) != KT_SYNC || uc.args[0] != 4) {
        kt_diag_ucall(&uc);
        return 1;
    }
    struct cc_snapshot *s = NULL;
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.ccsnap", dir, name);
    if (cc_vm_snapshot(t->vm, &s, &err) < 0 || cc_snapshot_save(s, path, &err) < 0) {
        fprintf(stderr, "snapshot: %s\n", err.msg);
        return 1;
    }
    struct outcome o;
    if (finish(t, &o) < 0)
        return 1;
    char line[512];
    outcome_str(&o, line, sizeof(line));
    snprintf(path, sizeof(path), "%s/%s.expect", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    printf("wrote %s/%s.{ccsnap,expect}: %s\n", dir, name, line);
    cc_snapshot_put(s);
    kt_destroy(t);
    return 0;
}

static void check_fixture(const char *dir, const char *name)
{
    char path[8600], want[512] = "";
    snprintf(path, sizeof(path), "%s/%s.expect", dir, name);
    FILE *f = fopen(path, "r");
    struct outcome w = {0};
    if (!f || !fgets(want, sizeof(want), f) ||
        sscanf(want, outcome_fmt, &w.ticks, &w.sum, &w.exits, &w.vtime, &w.trace, &w.serial,
               &w.ram) != 7) {
        ok(0, "%s: read %s", name, path);
        if (f)
            fclose(f);
        return;
    }
    fclose(f);
    want[strcspn(want, "\n")] = 0;
    snprintf(path, sizeof(path), "%s/%s.ccsnap", dir, name);
    struct cc_err err = {0};
    struct cc_snapshot *s = NULL;
    if (!ok(cc_snapshot_load(path, &s, &err) == 0, "%s: the file loads (%s)", name, err.msg))
        return;
    struct cc_vm *vm = NULL;
    if (!ok(cc_vm_fork(s, NULL, &vm, &err) == 0, "%s: a VM forks from it (%s)", name, err.msg)) {
        cc_snapshot_put(s);
        return;
    }
    struct kt_vm ft = {.vm = vm};
    kt_attach(&ft);
    struct outcome o = {0};
    char got[512] = "(no result)";
    if (finish(&ft, &o) == 0)
        outcome_str(&o, got, sizeof(got));
    if (!ok(!strcmp(got, want), "%s: the run ends exactly as when the file was written", name)) {
        tap_diag("want: %s", want);
        tap_diag("got:  %s", got);
    }
    cc_vm_destroy(vm);
    cc_snapshot_put(s);
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--write"))
        return write_fixture(argv[2], argv[3]);
    if (argc > 2) {
        fprintf(stderr, "usage: test_compat [FIXTURE_DIR] | --write FIXTURE_DIR NAME\n");
        return 2;
    }
    const char *dir = argc == 2 ? argv[1] : CC_FIXTURE_DIR;
    tap_plan(0);
    DIR *d = opendir(dir);
    if (!d)
        tap_bail("cannot open %s: %s", dir, strerror(errno));
    struct dirent *e;
    char names[32][256];
    int n = 0;
    while ((e = readdir(d)) && n < 32) {
        size_t l = strlen(e->d_name);
        if (l > 7 && l < 250 && !strcmp(e->d_name + l - 7, ".ccsnap")) {
            snprintf(names[n], sizeof(names[n]), "%.*s", (int)(l - 7), e->d_name);
            n++;
        }
    }
    closedir(d);
    ok(n > 0, "%d snapshot fixture(s) in %s", n, dir);
    for (int i = 0; i < n; i++)
        check_fixture(dir, names[i]);
    return tap_exit();
}
