/* Tiny-guest tests of the legacy devices as a guest sees them through the
 * run loop: PIC + PIT interrupts on virtual time, PIT counter reads and
 * channel 2 through port 0x61, UART TX capture / RX / interrupts, CMOS RTC
 * from the virtual clock, reset and power-off ports. */
#include <string.h>

#include "chaoscontrol/platform.h"
#include "kvmtest.h"
#include "tap.h"


/* ---- guest helpers ---- */

GUEST_CODE static uint16_t pit_read_ch0(void)
{
    kt_outb(0x43, 0x00);            /* latch channel 0 */
    uint8_t lo = kt_inb(0x40);
    uint8_t hi = kt_inb(0x40);
    return (uint16_t)(lo | hi << 8);
}

/* ---- guests ---- */

GUEST_CODE static void guest_timer(uint64_t ticks)
{
    kt_irq_hook = kt_eoi_hook;
    kt_pic_init(0xfe, 0xff);
    kt_pit_periodic(KT_PIT_10MS);
    while (kt_irq_count[0x20] < ticks)
        kt_sti_hlt();
    kt_cli();
    GUEST_SYNC(kt_irq_count[0x20]);
    /* Masked: IRQ0 keeps ticking but is not delivered. */
    kt_outb(0x21, 0xff);
    kt_sti();
    for (int i = 0; i < 2000; i++)
        kt_outb(0x80, 0);           /* ~2 ms of virtual time in exits */
    kt_cli();
    GUEST_SYNC(kt_irq_count[0x20]);
    GUEST_DONE();
}

GUEST_CODE static void guest_pit_count(uint64_t arg)
{
    (void)arg;
    kt_pic_init(0xff, 0xff);
    kt_pit_periodic(60000);
    uint16_t a = pit_read_ch0();
    for (int i = 0; i < 100; i++)
        kt_outb(0x80, 0);
    uint16_t b = pit_read_ch0();
    GUEST_SYNC2(a, b);

    /* Channel 2, mode 0, gated through port 0x61: poll OUT2 (bit 5). */
    kt_outb(0x61, (uint8_t)((kt_inb(0x61) & ~0x02) | 0x01));
    kt_outb(0x43, 0xb0);            /* channel 2, LSB then MSB, mode 0 */
    kt_outb(0x42, 0xe8);            /* 1000 ticks ~ 838 us */
    kt_outb(0x42, 0x03);
    uint64_t polls = 0;
    while (!(kt_inb(0x61) & 0x20) && polls < 100000)
        polls++;
    GUEST_SYNC(polls);
    GUEST_DONE();
}

static const char uart_msg[] = "hello from the tiny guest\n";

GUEST_CODE static void guest_uart(uint64_t arg)
{
    (void)arg;
    kt_irq_hook = kt_eoi_hook;
    kt_outb(0x3fb, 0x03);           /* LCR: 8N1 */
    for (const char *p = uart_msg; *p; p++) {
        while (!(kt_inb(0x3fd) & 0x20))
            ;
        kt_outb(0x3f8, (uint8_t)*p);
    }
    kt_outb(0x3ff, 0x5a);
    GUEST_ASSERT_EQ(kt_inb(0x3ff), 0x5a);
    /* Polled receive of what the host queued before the run. */
    uint64_t got = 0;
    for (int i = 0; i < 3; i++) {
        while (!(kt_inb(0x3fd) & 0x01))
            ;
        got = got << 8 | kt_inb(0x3f8);
    }
    GUEST_SYNC2(got, kt_inb(0x3fd) & 0x01);

    /* Interrupt-driven receive: IRQ4 through the PIC. */
    kt_pic_init(0xef, 0xff);
    kt_outb(0x3fc, 0x08);           /* MCR: OUT2 gates the interrupt */
    kt_outb(0x3f9, 0x01);           /* IER: received data available */
    kt_cli();
    GUEST_SYNC(1);                  /* host queues a byte now */
    while (kt_irq_count[0x24] == 0)
        kt_sti_hlt();
    kt_cli();
    GUEST_SYNC2(kt_irq_count[0x24], kt_inb(0x3f8));
    GUEST_DONE();
}

GUEST_CODE static uint8_t cmos(uint8_t reg)
{
    kt_outb(0x70, reg);
    return kt_inb(0x71);
}

GUEST_CODE static void cmos_snapshot(void)
{
    while (cmos(0x0a) & 0x80)
        ;
    uint64_t t = (uint64_t)cmos(0x00) | (uint64_t)cmos(0x02) << 8 | (uint64_t)cmos(0x04) << 16;
    uint64_t d = (uint64_t)cmos(0x07) | (uint64_t)cmos(0x08) << 8 | (uint64_t)cmos(0x09) << 16 |
                 (uint64_t)cmos(0x32) << 24;
    GUEST_SYNC2(t, d);
}

GUEST_CODE static void guest_cmos(uint64_t arg)
{
    (void)arg;
    kt_irq_hook = kt_eoi_hook;
    cmos_snapshot();
    /* Let 3 virtual seconds pass (300 PIT ticks, fast-forwarded in HLT). */
    kt_pic_init(0xfe, 0xff);
    kt_pit_periodic(KT_PIT_10MS);
    while (kt_irq_count[0x20] < 300)
        kt_sti_hlt();
    kt_cli();
    cmos_snapshot();
    GUEST_DONE();
}

GUEST_CODE static void guest_port(uint64_t port)
{
    kt_outb((uint16_t)port, (uint8_t)(port == 0xcf9 ? 0x06 : 0xfe));
    GUEST_SYNC(1);      /* not reached: the write stops the VM */
}

/* ---- tests ---- */

static void test_timer(void)
{
    struct kt_vm *t = kt_create(guest_timer, 5, NULL);
    struct kt_ucall uc;
    enum kt_ucall_type ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    is_int(ty, KT_SYNC, "timer: five IRQ0s delivered through the PIC");
    is_int(uc.args[0], 5, "timer: interrupt count is 5");
    uint64_t period = (uint64_t)KT_PIT_10MS * 1000000000ull / 1193182ull;
    uint64_t v = cc_vm_vtime_ns(t->vm);
    ok(v >= 5 * period && v < 5 * period + 200000,
       "timer: virtual time after 5 ticks is 5 periods (%llu ns, period %llu ns)",
       (unsigned long long)v, (unsigned long long)period);
    ok(cc_vm_exit_count(t->vm) < 200, "timer: halting fast-forwards (%llu exits)",
       (unsigned long long)cc_vm_exit_count(t->vm));
    ty = kt_run(t, &uc);
    is_int(ty, KT_SYNC, "timer: masked phase reached");
    is_int(uc.args[0], 5, "timer: masked IRQ0 not delivered");
    is_int(kt_run(t, &uc), KT_DONE, "timer: done");
    kt_destroy(t);
}

static void test_pit_count(void)
{
    struct kt_vm *t = kt_create(guest_pit_count, 0, NULL);
    struct kt_ucall uc;
    enum kt_ucall_type ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    is_int(ty, KT_SYNC, "pit: counter reads");
    uint64_t a = uc.args[0], b = uc.args[1];
    /* 100 port exits + the 3 exits of the second read = ~103 us = ~123 ticks. */
    ok(a <= 60000 && b < a && a - b >= 110 && a - b <= 140,
       "pit: counter counts down with virtual time (%llu -> %llu)", (unsigned long long)a,
       (unsigned long long)b);
    ty = kt_run(t, &uc);
    is_int(ty, KT_SYNC, "pit: channel 2 reached terminal count");
    /* 1000 ticks = 838 us; each poll is one 1 us exit. */
    ok(uc.args[0] >= 800 && uc.args[0] <= 850,
       "pit: OUT2 rose after ~838 us of polling (%llu polls)", (unsigned long long)uc.args[0]);
    kt_destroy(t);
}

static void test_uart(void)
{
    struct kt_vm *t = kt_create(guest_uart, 0, NULL);
    ok(cc_vm_serial_input(t->vm, "abc", 3) == 3, "uart: host queues 3 bytes");
    struct kt_ucall uc;
    enum kt_ucall_type ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    is_int(ty, KT_SYNC, "uart: polled phase");
    size_t n;
    const uint8_t *out = cc_vm_serial(t->vm, &n);
    ok(n == strlen(uart_msg) && !memcmp(out, uart_msg, n), "uart: TX bytes captured in order");
    is_u64(uc.args[0], ('a' << 16) | ('b' << 8) | 'c', "uart: polled RX delivers 'abc'");
    is_int(uc.args[1], 0, "uart: LSR.DR clear once drained");
    is_int(kt_run(t, &uc), KT_SYNC, "uart: interrupt phase armed");
    ok(cc_vm_serial_input(t->vm, "Z", 1) == 1, "uart: host queues 'Z'");
    ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    is_int(ty, KT_SYNC, "uart: RX interrupt woke the guest");
    ok(uc.args[0] >= 1 && uc.args[1] == 'Z', "uart: IRQ4 delivered (%llu) and byte read ('%c')",
       (unsigned long long)uc.args[0], (char)uc.args[1]);
    kt_destroy(t);
}

static void test_cmos(void)
{
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = KT_MEM_SIZE;
    cfg.rtc_epoch = 1709251198;     /* 2024-02-29 23:59:58 UTC */
    struct kt_vm *t = kt_create(guest_cmos, 0, &cfg);
    struct kt_ucall uc;
    enum kt_ucall_type ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    is_int(ty, KT_SYNC, "cmos: first read");
    is_u64(uc.args[0], 0x235958, "cmos: time is 23:59:58 (BCD)");
    is_u64(uc.args[1], 0x20240229, "cmos: date is 2024-02-29 (BCD, century 20)");
    ty = kt_run(t, &uc);
    is_int(ty, KT_SYNC, "cmos: second read");
    is_u64(uc.args[0], 0x000001, "cmos: 3 virtual seconds later it is 00:00:01");
    is_u64(uc.args[1], 0x20240301, "cmos: and the date rolled over to 2024-03-01");
    kt_destroy(t);
}

static void test_ports(void)
{
    static const struct {
        uint64_t port;
        const char *stop;
    } cases[] = {
        {0x64, "reset"},
        {0xcf9, "reset"},
        {CC_PORT_POWEROFF, "poweroff"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kt_vm *t = kt_create(guest_port, cases[i].port, NULL);
        struct kt_ucall uc;
        is_int(kt_run(t, &uc), KT_NONE, "port 0x%llx stops the VM", (unsigned long long)cases[i].port);
        is_str(cc_stop_name(uc.stop), cases[i].stop, "port 0x%llx: stop reason",
               (unsigned long long)cases[i].port);
        kt_destroy(t);
    }
}

int main(void)
{
    test_timer();
    test_pit_count();
    test_uart();
    test_cmos();
    test_ports();
    return tap_exit();
}
