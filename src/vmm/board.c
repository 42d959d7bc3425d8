/* The board: the legacy PC devices every VM has, put on the port I/O bus
 * at creation like any other device. PIC pair (with the ELCR), PIT (and
 * port 0x61), CMOS/RTC, the COM1 UART, the reset ports (i8042 pulse, 0xCF9,
 * port 0x92 fast reset), the POST delay port, and the platform port block
 * (chaoscontrol/platform.h: power-off at 0xCC0; the SDK doorbell at 0xCC4
 * belongs to the SDK extension), and the virtual clock page (MMIO at
 * CC_CLOCK_GPA). The legacy devices take byte accesses only; wider ones are
 * unknown I/O, as on the original hardware's decode. PIT, CMOS and UART
 * time is the VM's virtual clock. */
#include <string.h>

#include "chaoscontrol/platform.h"
#include "vm_internal.h"

static inline struct cc_vm *vm_of(void *opaque, uint16_t *base)
{
    struct board_port *p = opaque;
    *base = p->base;
    return p->vm;
}

static void pic_port_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)size;
    *(uint8_t *)data = pic_read(&vm->pic, (uint16_t)(base + off));
}

static void pic_port_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)size;
    pic_write(&vm->pic, (uint16_t)(base + off), *(const uint8_t *)data);
}

static void pit_port_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)size;
    *(uint8_t *)data = pit_read(&vm->pit, vm->vtime, (uint16_t)(base + off));
}

static void pit_port_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)size;
    pit_write(&vm->pit, vm->vtime, (uint16_t)(base + off), *(const uint8_t *)data);
}

static void cmos_port_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)size;
    *(uint8_t *)data = cmos_read(&vm->cmos, vm->vtime, (uint16_t)(base + off));
}

static void cmos_port_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)size;
    cmos_write(&vm->cmos, vm->vtime, (uint16_t)(base + off), *(const uint8_t *)data);
}

static void uart_port_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)size;
    *(uint8_t *)data = uart_read(&vm->uart, (unsigned)off);
    serial_feed(vm);
}

static void uart_port_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)size;
    uart_write(&vm->uart, (unsigned)off, *(const uint8_t *)data);
    serial_feed(vm);
}

/* i8042: no keyboard controller; only the pulse-reset command (0xFE) is
 * honoured, and the status reads as both buffers empty. */
static void kbc_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    (void)opaque, (void)off, (void)size;
    *(uint8_t *)data = 0;
}

static void kbc_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)off, (void)size;
    if (*(const uint8_t *)data == 0xfe)
        cc_vm_stop(vm, CC_STOP_RESET);
}

/* 0xCF9: reset control register, bit 2 resets. */
static void rcr_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    (void)opaque, (void)off, (void)size;
    *(uint8_t *)data = 0;
}

static void rcr_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)off, (void)size;
    if (*(const uint8_t *)data & 0x4)
        cc_vm_stop(vm, CC_STOP_RESET);
}

/* Port 0x92: bit 0 rising resets; bit 1 (A20) always reads as enabled. */
static void port92_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)off, (void)size;
    *(uint8_t *)data = vm->port92 | 0x2;
}

static void port92_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)off, (void)size;
    uint8_t v = *(const uint8_t *)data;
    if ((v & 1) && !(vm->port92 & 1))
        cc_vm_stop(vm, CC_STOP_RESET);
    vm->port92 = (uint8_t)(v & ~1u);
}

/* Port 0x80: POST codes and I/O delays. */
static void post_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    (void)opaque, (void)off, (void)size;
    *(uint8_t *)data = 0xff;
}

static void ignore_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    (void)opaque, (void)off, (void)data, (void)size;
}

/* The guest's exit status (cc-init writes it before it powers off). */
static void status_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    if (off != 0 || size != 4)
        return;
    memcpy(&vm->exit_status, data, 4);
    vm->has_exit_status = true;
}

/* CC_PORT_YIELD: a 32-bit write from the patched kernel's cpu_relax (0)
 * or udelay (the delay in ns); SMP only (smp.c), ignored with one vCPU. */
static void yield_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    if (off != 0 || size != 4)
        return;
    uint32_t v;
    memcpy(&v, data, 4);
    smp_yield(vm, v);
}

/* Platform block: any write to CC_PORT_POWEROFF powers off (the kernel
 * patch); the rest of the block reads as all ones and ignores writes. */
static void poweroff_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    uint16_t base;
    struct cc_vm *vm = vm_of(opaque, &base);
    (void)data, (void)size;
    if (base + off == CC_PORT_POWEROFF)
        cc_vm_stop(vm, CC_STOP_POWEROFF);
}

/* The virtual clock page (platform.h): every read is an exit, whose cost
 * the run loop has added to the clock before this runs, so successive
 * reads always differ. 8-byte reads at the three registers; anything else
 * reads as zero. */
static void clock_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    struct cc_vm *vm = opaque;
    uint64_t v = 0;
    if (off == CC_CLOCK_NS) {
        v = vm->vtime;
        vm->clock_reads++;
    } else if (off == CC_CLOCK_MAGIC_OFF) {
        v = CC_CLOCK_MAGIC;
    } else if (off == CC_CLOCK_TSC) {
        v = vm_tsc_value(vm);
        vm->clock_reads++;
    }
    memcpy(data, &v, size < 8 ? size : 8);
}

static const struct cc_io_ops clock_ops = {clock_read, ignore_write};

static const struct cc_io_ops pic_ops = {pic_port_read, pic_port_write};
static const struct cc_io_ops pit_ops = {pit_port_read, pit_port_write};
static const struct cc_io_ops cmos_ops = {cmos_port_read, cmos_port_write};
static const struct cc_io_ops uart_ops = {uart_port_read, uart_port_write};
static const struct cc_io_ops kbc_ops = {kbc_read, kbc_write};
static const struct cc_io_ops rcr_ops = {rcr_read, rcr_write};
static const struct cc_io_ops port92_ops = {port92_read, port92_write};
static const struct cc_io_ops post_ops = {post_read, ignore_write};
static const struct cc_io_ops poweroff_ops = {NULL, poweroff_write};
static const struct cc_io_ops status_ops = {NULL, status_write};
static const struct cc_io_ops yield_ops = {NULL, yield_write};

static const struct {
    uint16_t base, len;
    unsigned sizes;
    const struct cc_io_ops *ops;
    const char *name;
} board_ports[BOARD_PORTS] = {
    {0x20, 2, 1, &pic_ops, "PIC (master)"},
    {0xa0, 2, 1, &pic_ops, "PIC (slave)"},
    {0x4d0, 2, 1, &pic_ops, "PIC ELCR"},
    {0x40, 4, 1, &pit_ops, "PIT"},
    {0x61, 1, 1, &pit_ops, "PIT gate / speaker (port 0x61)"},
    {0x70, 2, 1, &cmos_ops, "CMOS/RTC"},
    {0x3f8, 8, 1, &uart_ops, "COM1"},
    {0x64, 1, 1, &kbc_ops, "i8042 reset"},
    {0xcf9, 1, 1, &rcr_ops, "reset control (0xCF9)"},
    {0x92, 1, 1, &port92_ops, "fast reset (port 0x92)"},
    {0x80, 1, 1, &post_ops, "POST/delay (port 0x80)"},
    {CC_PORT_POWEROFF, 4, IOBUS_ANY_SIZE, &poweroff_ops, "platform power-off"},
    {CC_PORT_STATUS, 4, IOBUS_ANY_SIZE, &status_ops, "platform exit status"},
    {CC_PORT_YIELD, 4, IOBUS_ANY_SIZE, &yield_ops, "platform vCPU yield"},
};

int board_init(struct cc_vm *vm, struct cc_err *err)
{
    pic_init(&vm->pic);
    struct cc_irq_sink sink = vm_irq_sink(vm);
    pit_init(&vm->pit, sink, 0);
    uart_init(&vm->uart, sink, 4, serial_tx, vm);
    cmos_init(&vm->cmos, vm->cfg.rtc_epoch, vm->mem_size);
    for (unsigned i = 0; i < BOARD_PORTS; i++) {
        vm->board[i] = (struct board_port){vm, board_ports[i].base};
        int rc = iobus_add_pio(vm, board_ports[i].base, board_ports[i].len, board_ports[i].sizes,
                               board_ports[i].ops, &vm->board[i], board_ports[i].name, err);
        if (rc < 0)
            return rc;
    }
    return cc_vm_add_mmio(vm, CC_CLOCK_GPA, 0x1000, &clock_ops, vm, err);
}
