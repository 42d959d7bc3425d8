/* I/O APIC, 82093AA-style (see ioapic.h).
 *
 * Model notes:
 * - Edge pins send once per rising edge while unmasked.
 * - Level pins send when the pin is asserted, the entry unmasked and its
 *   remote IRR clear; sending sets remote IRR. Every event that can make
 *   that condition true re-checks it: the pin rising, an EOI for the
 *   entry's vector (which clears remote IRR), and a write of the entry's
 *   low word (unmasking, or switching to level). So a level pin still
 *   asserted after its EOI sends again, as hardware does.
 * - The EOI matches entries by vector alone, as the local APIC's EOI
 *   message carries only the vector.
 */
#include <errno.h>
#include <string.h>

#include "devices/ioapic.h"

#define IOAPIC_SAVE_VERSION 1
#define IOAPIC_VERSION_VALUE 0x00170011u    /* 24 entries, version 0x11 */

#define RTE_DELIVS      (1ull << 12)
#define RTE_REMOTE_IRR  (1ull << 14)
#define RTE_LEVEL       (1ull << 15)
#define RTE_MASKED      (1ull << 16)
#define RTE_LO_WRITABLE 0x1afffull          /* vector, mode, dest mode, polarity,
                                               trigger, mask */
#define RTE_HI_WRITABLE 0xff000000ull       /* destination */
#define RTE_VALID       (RTE_LO_WRITABLE | RTE_REMOTE_IRR | (RTE_HI_WRITABLE << 32))
#define PIN_MASK        ((1u << CC_IOAPIC_PINS) - 1)

void ioapic_init(struct cc_ioapic *io, uint8_t id)
{
    memset(io, 0, sizeof(*io));
    io->id = id & 0xf;
    for (int i = 0; i < CC_IOAPIC_PINS; i++)
        io->redir[i] = RTE_MASKED;
}

/* Send pin's message (remote IRR first for a level entry). */
static void send(struct cc_ioapic *io, unsigned pin)
{
    uint64_t e = io->redir[pin];
    if (e & RTE_LEVEL)
        io->redir[pin] = e | RTE_REMOTE_IRR;
    struct cc_ioapic_msg m = {
        .vector = (uint8_t)e,
        .delivery = (uint8_t)((e >> 8) & 7),
        .logical = (e >> 11) & 1,
        .level = (e & RTE_LEVEL) != 0,
        .dest = (uint8_t)(e >> 56),
    };
    if (io->deliver)
        io->deliver(io->opaque, &m);
}

/* A level pin that should send now. */
static bool level_ready(const struct cc_ioapic *io, unsigned pin)
{
    uint64_t e = io->redir[pin];
    return (e & RTE_LEVEL) && !(e & (RTE_MASKED | RTE_REMOTE_IRR)) &&
           ((io->level >> pin) & 1);
}

void ioapic_set_irq(struct cc_ioapic *io, unsigned pin, int level)
{
    if (pin >= CC_IOAPIC_PINS)
        return;
    uint32_t bit = 1u << pin;
    bool was = io->level & bit;
    if (level)
        io->level |= bit;
    else
        io->level &= ~bit;
    uint64_t e = io->redir[pin];
    if (e & RTE_LEVEL) {
        if (level_ready(io, pin))
            send(io, pin);
    } else if (level && !was && !(e & RTE_MASKED)) {
        send(io, pin);
    }
}

void ioapic_sink_set_irq(void *opaque, unsigned pin, int level)
{
    ioapic_set_irq(opaque, pin, level);
}

void ioapic_eoi(struct cc_ioapic *io, uint8_t vector)
{
    for (unsigned pin = 0; pin < CC_IOAPIC_PINS; pin++) {
        if ((uint8_t)io->redir[pin] != vector)
            continue;
        io->redir[pin] &= ~RTE_REMOTE_IRR;
        if (level_ready(io, pin))
            send(io, pin);
    }
}

static uint32_t read_reg(const struct cc_ioapic *io, uint8_t idx)
{
    switch (idx) {
    case 0x00:
    case 0x02:
        return (uint32_t)io->id << 24;
    case 0x01:
        return IOAPIC_VERSION_VALUE;
    default:
        if (idx >= 0x10 && idx < 0x10 + 2 * CC_IOAPIC_PINS) {
            uint64_t e = io->redir[(idx - 0x10) >> 1];
            return (idx & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
        }
        return 0;
    }
}

static void write_reg(struct cc_ioapic *io, uint8_t idx, uint32_t val)
{
    if (idx == 0x00) {
        io->id = (val >> 24) & 0xf;
        return;
    }
    if (idx < 0x10 || idx >= 0x10 + 2 * CC_IOAPIC_PINS)
        return;                         /* version, arbitration, unused */
    unsigned pin = (idx - 0x10) >> 1;
    uint64_t e = io->redir[pin];
    if (idx & 1) {
        e = (e & 0xffffffffull) | (((uint64_t)val & RTE_HI_WRITABLE) << 32);
    } else {
        e = (e & ~0xffffffffull) | (val & RTE_LO_WRITABLE) | (e & RTE_REMOTE_IRR);
        if (!(e & RTE_LEVEL))
            e &= ~RTE_REMOTE_IRR;
    }
    io->redir[pin] = e;
    if (level_ready(io, pin))
        send(io, pin);
}

uint32_t ioapic_read(struct cc_ioapic *io, uint64_t off)
{
    if (off == 0x00)
        return io->sel;
    if (off == 0x10)
        return read_reg(io, io->sel);
    return 0;
}

void ioapic_write(struct cc_ioapic *io, uint64_t off, uint32_t val)
{
    if (off == 0x00)
        io->sel = (uint8_t)val;
    else if (off == 0x10)
        write_reg(io, io->sel, val);
}

/* ---- snapshots ---- */

void ioapic_save(const struct cc_ioapic *io, struct cc_buf *out)
{
    buf_put_u8(out, IOAPIC_SAVE_VERSION);
    buf_put_u8(out, io->id);
    buf_put_u8(out, io->sel);
    buf_put_u8(out, CC_IOAPIC_PINS);
    buf_put_u32(out, io->level);
    for (int i = 0; i < CC_IOAPIC_PINS; i++)
        buf_put_u64(out, io->redir[i]);
}

#define BAD(...) cc_err_set(err, EINVAL, "ioapic: " __VA_ARGS__)

int ioapic_load(struct cc_ioapic *io, struct cc_rd *in, struct cc_err *err)
{
    int version = rd_version(in, IOAPIC_SAVE_VERSION, "ioapic", err);
    if (version < 0)
        return version;

    uint8_t id = rd_u8(in), sel = rd_u8(in), pins = rd_u8(in);
    if (rd_ok(in) && pins != CC_IOAPIC_PINS)
        return BAD("snapshot has %u pins, this I/O APIC has %u", pins, CC_IOAPIC_PINS);
    uint32_t level = rd_u32(in);
    uint64_t redir[CC_IOAPIC_PINS];
    for (int i = 0; i < CC_IOAPIC_PINS; i++)
        redir[i] = rd_u64(in);
    if (!rd_ok(in))
        return BAD("snapshot section truncated");
    if (id > 0xf)
        return BAD("ID %u out of range (0-15)", id);
    if (level & ~PIN_MASK)
        return BAD("pin levels 0x%x name pins beyond %u", level, CC_IOAPIC_PINS - 1);
    for (int i = 0; i < CC_IOAPIC_PINS; i++) {
        uint64_t e = redir[i];
        if (e & ~RTE_VALID)
            return BAD("redirection entry %d (0x%016llx) has reserved or read-only bits set",
                       i, (unsigned long long)e);
        if ((e & RTE_REMOTE_IRR) && !(e & RTE_LEVEL))
            return BAD("redirection entry %d (0x%016llx) has remote IRR set but is "
                       "edge-triggered", i, (unsigned long long)e);
    }
    io->id = id;
    io->sel = sel;
    io->level = level;
    memcpy(io->redir, redir, sizeof(redir));
    return 0;
}
