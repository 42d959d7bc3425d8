/* Tiny-guest tests of the run loop: port I/O, MMIO, HLT, ucalls, guest
 * assertions with file:line, exceptions, unknown I/O and determinism. */
#include <string.h>
#include <time.h>

#include "kvmtest.h"
#include "tap.h"

#define ECHO_PORT 0x3100
#define UNKNOWN_PORT 0x3200

/* ---- host-side test devices ---- */

struct echo_dev {
    uint32_t reg;
    unsigned writes;
    uint8_t log[64];
    unsigned nlog;
};

static void echo_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct echo_dev *d = opaque;
    uint32_t v = d->reg ^ (uint32_t)off;
    memcpy(data, &v, size);
}

static void echo_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct echo_dev *d = opaque;
    uint32_t v = 0;
    memcpy(&v, data, size);
    d->reg = v;
    d->writes++;
    if (off == 3 && d->nlog < sizeof(d->log))
        d->log[d->nlog++] = (uint8_t)v;
}

static const struct cc_io_ops echo_ops = {echo_read, echo_write};

struct mmio_dev {
    uint8_t bytes[0x1000];
    unsigned reads, writes;
    unsigned last_size;
};

static void mmio_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct mmio_dev *d = opaque;
    d->reads++;
    d->last_size = size;
    memcpy(data, d->bytes + off, size);
}

static void mmio_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    struct mmio_dev *d = opaque;
    d->writes++;
    d->last_size = size;
    memcpy(d->bytes + off, data, size);
}

static const struct cc_io_ops mmio_ops = {mmio_read, mmio_write};

/* ---- guests ---- */

GUEST_CODE static void guest_pio(uint64_t arg)
{
    (void)arg;
    kt_outb(ECHO_PORT, 0x5a);
    GUEST_ASSERT_EQ(kt_inb(ECHO_PORT), 0x5a);
    kt_outw(ECHO_PORT, 0xbeef);
    GUEST_ASSERT_EQ(kt_inw(ECHO_PORT + 1), 0xbeef ^ 1);
    kt_outl(ECHO_PORT, 0xdeadbeef);
    GUEST_ASSERT_EQ(kt_inl(ECHO_PORT), 0xdeadbeef);
    /* String I/O: one exit carrying several bytes. */
    static const char msg[] = "rep-outsb";
    const char *p = msg;
    uint64_t n = sizeof(msg) - 1;
    __asm__ volatile("rep outsb" : "+S"(p), "+c"(n) : "d"((uint16_t)(ECHO_PORT + 3)) : "memory");
    GUEST_SYNC(kt_inb(UNKNOWN_PORT));
    GUEST_DONE();
}

GUEST_CODE static void guest_mmio(uint64_t arg)
{
    volatile uint8_t *b = (volatile uint8_t *)(uintptr_t)arg;
    volatile uint64_t *q = (volatile uint64_t *)(uintptr_t)(arg + 0x100);
    volatile uint32_t *l = (volatile uint32_t *)(uintptr_t)(arg + 0x200);
    b[0] = 0xa5;
    *q = 0x0123456789abcdefull;
    *l = 0xcafef00d;
    GUEST_SYNC4(b[0], *q, *l, *(volatile uint16_t *)(uintptr_t)(arg + 0x202));
    /* unmapped MMIO reads as all-ones */
    GUEST_SYNC(*(volatile uint32_t *)(uintptr_t)(arg + 0x100000));
    GUEST_DONE();
}

GUEST_CODE static void guest_hlt_cli(uint64_t arg)
{
    (void)arg;
    kt_cli();
    kt_hlt();
    GUEST_SYNC(1);      /* must not be reached: nothing can wake the vCPU */
}

GUEST_CODE static void guest_hlt_sti(uint64_t arg)
{
    (void)arg;
    kt_sti_hlt();
    GUEST_SYNC(1);      /* not reached either: no timer is armed */
}

volatile uint64_t guest_assert_line;

GUEST_CODE static void guest_assert(uint64_t arg)
{
    guest_assert_line = __LINE__ + 1;
    GUEST_ASSERT(arg == 42);
    GUEST_DONE();
}

GUEST_CODE static void guest_ud2(uint64_t arg)
{
    (void)arg;
    __asm__ volatile("ud2");
    GUEST_DONE();
}

GUEST_CODE static void guest_return(uint64_t arg)
{
    GUEST_SYNC(arg * 2);
    /* returning lands in kt_guest_return, which reports DONE */
}

GUEST_CODE static void guest_loop(uint64_t arg)
{
    for (uint64_t i = 0; i < arg; i++)
        kt_outb(ECHO_PORT, (uint8_t)i);
    GUEST_DONE();
}

/* ---- tests ---- */

static void test_pio(void)
{
    struct kt_vm *t = kt_create(guest_pio, 0, NULL);
    struct echo_dev dev = {0};
    struct cc_err err = {0};
    ok(cc_vm_add_pio(t->vm, ECHO_PORT, 4, &echo_ops, &dev, &err) == 0, "register echo port");
    struct kt_ucall uc;
    uint64_t unknown_before = cc_vm_unknown_io_count(t->vm);
    enum kt_ucall_type ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    is_int(ty, KT_SYNC, "pio: out/in round trips of 1, 2 and 4 bytes");
    is_u64(uc.args[0], 0xff, "pio: unknown port reads as all-ones");
    is_int(cc_vm_unknown_io_count(t->vm) - unknown_before, 1, "pio: unknown port access counted");
    ok(dev.nlog == 9 && !memcmp(dev.log, "rep-outsb", 9), "pio: rep outsb delivers every byte in order");
    is_int(kt_run(t, &uc), KT_DONE, "pio: guest done");
    kt_destroy(t);

    /* Overlapping registrations are refused with a message. */
    t = kt_create(guest_pio, 0, NULL);
    ok(cc_vm_add_pio(t->vm, 0x3f8, 8, &echo_ops, &dev, &err) < 0 && strstr(err.msg, "built-in"),
       "pio: cannot shadow the UART ports");
    ok(cc_vm_add_pio(t->vm, KT_UCALL_PORT + 2, 4, &echo_ops, &dev, &err) < 0 &&
       strstr(err.msg, "overlaps"), "pio: overlapping ranges refused");
    kt_destroy(t);
}

static void test_mmio(void)
{
    struct kt_vm *t = kt_create(guest_mmio, KT_MMIO_BASE, NULL);
    static struct mmio_dev dev;
    struct cc_err err = {0};
    ok(cc_vm_add_mmio(t->vm, KT_MMIO_BASE, sizeof(dev.bytes), &mmio_ops, &dev, &err) == 0,
       "mmio: register device");
    ok(cc_vm_add_mmio(t->vm, 0x100000, 0x1000, &mmio_ops, &dev, &err) < 0,
       "mmio: range inside RAM refused");
    struct kt_ucall uc;
    enum kt_ucall_type ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    is_int(ty, KT_SYNC, "mmio: guest reached sync");
    is_u64(uc.args[0], 0xa5, "mmio: byte write/read");
    is_u64(uc.args[1], 0x0123456789abcdefull, "mmio: 8-byte write/read");
    is_u64(uc.args[2], 0xcafef00d, "mmio: 4-byte write/read");
    is_u64(uc.args[3], 0xcafe, "mmio: 2-byte read of the upper half");
    ok(dev.writes == 3 && dev.reads == 4, "mmio: each access was one exit (%u writes, %u reads)",
       dev.writes, dev.reads);
    is_int(kt_run(t, &uc), KT_SYNC, "mmio: second sync");
    is_u64(uc.args[0], 0xffffffffu, "mmio: unclaimed address reads as all-ones");
    kt_destroy(t);
}

static void test_hlt(void)
{
    struct kt_vm *t = kt_create(guest_hlt_cli, 0, NULL);
    struct kt_ucall uc;
    is_int(kt_run(t, &uc), KT_NONE, "hlt: cli; hlt stops the VM");
    is_str(cc_stop_name(uc.stop), "halted", "hlt: stop reason is 'halted'");
    kt_destroy(t);

    t = kt_create(guest_hlt_sti, 0, NULL);
    is_int(kt_run(t, &uc), KT_NONE, "hlt: sti; hlt with no timer stops the VM");
    is_str(cc_stop_name(uc.stop), "idle", "hlt: stop reason is 'idle'");
    kt_destroy(t);
}

static void test_assert(void)
{
    struct kt_vm *t = kt_create(guest_assert, 7, NULL);
    struct kt_ucall uc;
    is_int(kt_run(t, &uc), KT_ASSERT, "assert: failing guest assertion is reported");
    uint64_t line = *(uint64_t *)kt_guest_ptr(t, &guest_assert_line, 8);
    size_t fl = strlen(uc.file);
    ok(fl >= 12 && !strcmp(uc.file + fl - 12, "test_basic.c"), "assert: file is test_basic.c (%s)",
       uc.file);
    ok(line != 0 && uc.line == line, "assert: line is %llu (guest said %llu)",
       (unsigned long long)line, (unsigned long long)uc.line);
    is_str(uc.expr, "arg == 42", "assert: expression text");
    kt_destroy(t);

    t = kt_create(guest_assert, 42, NULL);
    is_int(kt_run(t, &uc), KT_DONE, "assert: passing assertion continues");
    kt_destroy(t);
}

static void test_exception_and_return(void)
{
    struct kt_vm *t = kt_create(guest_ud2, 0, NULL);
    struct kt_ucall uc;
    is_int(kt_run(t, &uc), KT_EXCEPTION, "exception: ud2 is reported");
    is_int(uc.args[0], 6, "exception: vector 6 (#UD)");
    ok(uc.args[2] >= (uintptr_t)guest_ud2 && uc.args[2] < (uintptr_t)guest_ud2 + 64,
       "exception: rip inside guest_ud2");
    kt_destroy(t);

    t = kt_create(guest_return, 21, NULL);
    is_int(kt_run(t, &uc), KT_SYNC, "return: sync");
    is_int(uc.args[0], 42, "return: argument passed in rdi");
    is_int(kt_run(t, &uc), KT_DONE, "return: returning from the guest function reports done");
    kt_destroy(t);
}

static void run_loop_once(uint64_t *hash, uint64_t *exits, uint64_t *vtime)
{
    struct kt_vm *t = kt_create(guest_loop, 1000, NULL);
    struct echo_dev dev = {0};
    struct cc_err err = {0};
    cc_vm_add_pio(t->vm, ECHO_PORT, 4, &echo_ops, &dev, &err);
    struct kt_ucall uc;
    kt_run(t, &uc);
    *hash = cc_vm_trace_hash(t->vm);
    *exits = cc_vm_exit_count(t->vm);
    *vtime = cc_vm_vtime_ns(t->vm);
    kt_destroy(t);
}

static void test_determinism(void)
{
    uint64_t h1, e1, v1, h2, e2, v2;
    run_loop_once(&h1, &e1, &v1);
    run_loop_once(&h2, &e2, &v2);
    ok(e1 >= 1001, "determinism: 1000 port writes are 1000 exits (%llu)", (unsigned long long)e1);
    ok(h1 == h2 && e1 == e2 && v1 == v2,
       "determinism: two runs have the same trace hash, exit count and virtual time");
    ok(v1 >= 1000 * 1000, "determinism: virtual time advanced by the per-exit cost (%llu ns)",
       (unsigned long long)v1);
}

static void test_bounded(void)
{
    struct kt_vm *t = kt_create(guest_loop, 100000, NULL);
    struct echo_dev dev = {0};
    struct cc_err err = {0};
    cc_vm_add_pio(t->vm, ECHO_PORT, 4, &echo_ops, &dev, &err);
    struct cc_run_result res;
    ok(cc_vm_run_bounded(t->vm, 50, &res, &err) == 0 && res.stop == CC_STOP_MAX_EXITS &&
       res.exits == 50, "bounded: run_bounded stops after 50 exits");
    ok(dev.writes == 50, "bounded: exactly 50 port writes handled (%u)", dev.writes);
    struct cc_run_limits lim = {.until_vtime_ns = cc_vm_vtime_ns(t->vm) + 10000};
    int rc = cc_vm_run(t->vm, &lim, &res, &err);
    ok(rc == 0 && res.stop == CC_STOP_VTIME && res.exits == 10,
       "bounded: virtual-time limit of 10 us stops after 10 port exits (%llu)",
       (unsigned long long)res.exits);
    kt_destroy(t);
}

/* ---- watchdog ---- */

GUEST_CODE static void guest_spin(uint64_t iters)
{
    volatile uint64_t x = 0;
    for (uint64_t i = 0; i < iters; i++)
        x += i;
    GUEST_SYNC(x != 0);
    GUEST_DONE();
}

static char wd_msg[512];

static void wd_log(void *opaque, const char *msg)
{
    (void)opaque;
    if (strstr(msg, "watchdog"))
        snprintf(wd_msg, sizeof(wd_msg), "%s", msg);
}

/* A guest that spins without exits for a few seconds: the watchdog reports
 * it, and the run is exactly what it is without a watchdog. */
static void run_spin(unsigned watchdog_s, uint64_t iters, uint64_t *hash, uint64_t *vtime)
{
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = KT_MEM_SIZE;
    cfg.watchdog_s = watchdog_s;
    cfg.log = wd_log;
    struct kt_vm *t = kt_create(guest_spin, iters, &cfg);
    struct kt_ucall uc;
    kt_run(t, &uc);
    kt_run(t, &uc);
    *hash = cc_vm_trace_hash(t->vm);
    *vtime = cc_vm_vtime_ns(t->vm);
    kt_destroy(t);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_watchdog(void)
{
    /* Calibrate: how many iterations take ~3 s here (the guest runs at
     * native speed or emulated, depending on the host). */
    uint64_t iters = 1000000;
    uint64_t h0, v0, h1 = 0, v1 = 0;
    for (;;) {
        double t0 = now_s();
        run_spin(0, iters, &h0, &v0);
        double s = now_s() - t0;
        if (s > 0.3 || iters > (1ull << 40)) {
            iters = (uint64_t)((double)iters * 3.0 / (s > 0.001 ? s : 0.001));
            break;
        }
        iters *= 8;
    }
    /* With the watchdog at 1 s: a run that spins that long must be
     * reported. On a loaded host the calibration can overestimate the
     * speed; a run shorter than 2 s proves nothing, so spin longer. */
    double took = 0;
    for (int tries = 0; tries < 4; tries++) {
        wd_msg[0] = 0;
        double t0 = now_s();
        run_spin(1, iters, &h1, &v1);
        took = now_s() - t0;
        if (wd_msg[0] || took >= 2.0)
            break;
        iters *= 2;
    }
    run_spin(0, iters, &h0, &v0);
    ok(strstr(wd_msg, "has not exited for 1 s") != NULL,
       "watchdog: a guest spinning without exits for %.1f s is reported (%s)", took, wd_msg);
    ok(h0 == h1 && v0 == v1, "watchdog: the report changes nothing the guest sees "
       "(trace and virtual time equal with and without it)");
}

int main(void)
{
    test_pio();
    test_mmio();
    test_hlt();
    test_assert();
    test_exception_and_return();
    test_determinism();
    test_bounded();
    test_watchdog();
    return tap_exit();
}
