/* Intel 8259A interrupt controller pair (see pic.h).
 *
 * Model notes:
 * - Priorities are relative: level p (0 = highest) is line
 *   (p + priority_add) & 7, so rotation only changes priority_add.
 * - A chip delivers its highest-priority unmasked request only when it is
 *   higher than everything in service (ISR bits masked by IMR are ignored in
 *   special mask mode; IR2 of the master may nest in special fully nested
 *   mode).
 * - Edge lines latch IRR on a rising edge and keep it until the INTA cycle
 *   (as QEMU and KVM model it); level lines (ELCR bit set) make IRR follow
 *   the input.
 * - The slave's INT output is wired to the master's IR2: whenever the slave
 *   has a deliverable request, the master's IRR bit 2 is set. If the slave
 *   loses the request before the INTA cycle it answers with its IR7 vector
 *   without setting ISR (spurious IRQ15), like real hardware.
 */
#include <errno.h>
#include <string.h>

#include "devices/pic.h"

#define PIC_SAVE_VERSION 1

/* Writable ELCR bits on a PC: IRQ0-2 (master) and IRQ8/IRQ13 (slave) are
 * always edge triggered. */
static const uint8_t elcr_writable[2] = {0xf8, 0xde};

static void chip_power_on(struct cc_pic_chip *c, uint8_t elcr_mask)
{
    memset(c, 0, sizeof(*c));
    c->elcr_mask = elcr_mask;
}

void pic_init(struct cc_pic *pic)
{
    chip_power_on(&pic->chip[0], elcr_writable[0]);
    chip_power_on(&pic->chip[1], elcr_writable[1]);
}

/* Priority level (0 highest) of the best bit in mask, 8 when mask is 0. */
static int best_priority(const struct cc_pic_chip *c, uint8_t mask)
{
    if (!mask)
        return 8;
    int p = 0;
    while (!(mask & (1u << ((p + c->priority_add) & 7))))
        p++;
    return p;
}

/* Line the chip would deliver now, or -1. */
static int chip_pending(const struct cc_pic_chip *c, bool master)
{
    int p = best_priority(c, c->irr & ~c->imr);
    if (p == 8)
        return -1;
    int irq = (p + c->priority_add) & 7;
    uint8_t in_service = c->isr;
    if (c->special_mask)
        in_service &= ~c->imr;
    if (master && c->special_fully_nested && irq == 2)
        in_service &= ~(1u << 2);
    return p < best_priority(c, in_service) ? irq : -1;
}

/* The INTA (or poll) side effects for line irq of one chip. */
static void chip_ack(struct cc_pic_chip *c, int irq)
{
    uint8_t bit = (uint8_t)(1u << irq);
    if (c->auto_eoi) {
        if (c->rotate_on_auto_eoi)
            c->priority_add = (uint8_t)((irq + 1) & 7);
    } else {
        c->isr |= bit;
    }
    if (!(c->elcr & bit))
        c->irr &= (uint8_t)~bit;
}

/* Propagate the slave's INT output to the master's IR2. */
static void pic_update(struct cc_pic *pic)
{
    if (chip_pending(&pic->chip[1], false) >= 0)
        pic->chip[0].irr |= 1u << 2;
}

static void chip_set_line(struct cc_pic_chip *c, int irq, int level)
{
    uint8_t bit = (uint8_t)(1u << irq);
    if (c->elcr & bit) {
        if (level) {
            c->irr |= bit;
            c->line_level |= bit;
        } else {
            c->irr &= (uint8_t)~bit;
            c->line_level &= (uint8_t)~bit;
        }
    } else if (level) {
        if (!(c->line_level & bit))
            c->irr |= bit;
        c->line_level |= bit;
    } else {
        c->line_level &= (uint8_t)~bit;
    }
}

void pic_set_irq(struct cc_pic *pic, unsigned irq, int level)
{
    if (irq >= 16)
        return;
    if (irq == 2)       /* the ISA IRQ2 pin is wired to IRQ9 on an AT */
        irq = 9;
    chip_set_line(&pic->chip[irq >> 3], (int)(irq & 7), level != 0);
    pic_update(pic);
}

void pic_sink_set_irq(void *opaque, unsigned irq, int level)
{
    pic_set_irq(opaque, irq, level);
}

bool pic_intr(const struct cc_pic *pic)
{
    return chip_pending(&pic->chip[0], true) >= 0;
}

uint8_t pic_ack(struct cc_pic *pic)
{
    struct cc_pic_chip *m = &pic->chip[0], *s = &pic->chip[1];
    int irq = chip_pending(m, true);
    uint8_t vector;

    if (irq < 0) {
        vector = m->vector_base | 7;          /* spurious IRQ7, no ISR bit */
    } else if (irq == 2 && !m->single_mode) {
        int sirq = chip_pending(s, false);
        chip_ack(m, 2);
        if (sirq >= 0) {
            chip_ack(s, sirq);
            vector = (uint8_t)(s->vector_base | sirq);
        } else {
            vector = s->vector_base | 7;      /* spurious IRQ15 */
        }
    } else {
        chip_ack(m, irq);
        vector = (uint8_t)(m->vector_base | irq);
    }
    pic_update(pic);
    return vector;
}

/* OCW3 poll: the read acts as an INTA for this chip alone. */
static uint8_t chip_poll(struct cc_pic *pic, int idx)
{
    struct cc_pic_chip *c = &pic->chip[idx];
    c->poll = false;
    int irq = chip_pending(c, idx == 0);
    if (irq < 0)
        return 0;
    chip_ack(c, irq);
    pic_update(pic);
    return (uint8_t)(0x80 | irq);
}

static void write_icw1(struct cc_pic_chip *c, uint8_t val)
{
    /* The edge sense latches are cleared: an edge line must go low and high
     * again to request. Level lines keep following their input. */
    c->irr &= c->elcr;
    c->line_level &= c->elcr;
    c->imr = 0;
    c->isr = 0;
    c->priority_add = 0;
    c->special_mask = false;
    c->poll = false;
    c->read_isr = false;
    c->rotate_on_auto_eoi = false;
    c->single_mode = val & 0x02;
    c->icw4_needed = val & 0x01;
    if (!c->icw4_needed) {
        c->auto_eoi = false;
        c->special_fully_nested = false;
    }
    c->init_step = 1;
}

static void write_ocw2(struct cc_pic_chip *c, uint8_t val)
{
    int irq;
    switch (val >> 5) {
    case 0:                                 /* rotate in auto-EOI: clear */
        c->rotate_on_auto_eoi = false;
        break;
    case 4:                                 /* rotate in auto-EOI: set */
        c->rotate_on_auto_eoi = true;
        break;
    case 1:                                 /* non-specific EOI */
    case 5: {                               /* rotate on non-specific EOI */
        int p = best_priority(c, c->isr);
        if (p == 8)
            break;
        irq = (p + c->priority_add) & 7;
        c->isr &= (uint8_t)~(1u << irq);
        if (val >> 5 == 5)
            c->priority_add = (uint8_t)((irq + 1) & 7);
        break;
    }
    case 3:                                 /* specific EOI */
        c->isr &= (uint8_t)~(1u << (val & 7));
        break;
    case 7:                                 /* rotate on specific EOI */
        irq = val & 7;
        c->isr &= (uint8_t)~(1u << irq);
        c->priority_add = (uint8_t)((irq + 1) & 7);
        break;
    case 6:                                 /* set priority: irq is lowest */
        c->priority_add = (uint8_t)(((val & 7) + 1) & 7);
        break;
    default:                                /* 2: no operation */
        break;
    }
}

static void write_ocw3(struct cc_pic_chip *c, uint8_t val)
{
    if (val & 0x04)
        c->poll = true;
    if (val & 0x02)
        c->read_isr = val & 0x01;
    if (val & 0x40)
        c->special_mask = val & 0x20;
}

static void write_data(struct cc_pic_chip *c, uint8_t val)
{
    switch (c->init_step) {
    case 1:                                 /* ICW2 */
        c->vector_base = val & 0xf8;
        if (!c->single_mode)
            c->init_step = 2;
        else
            c->init_step = c->icw4_needed ? 3 : 0;
        break;
    case 2:                                 /* ICW3: cascade wiring is fixed */
        c->init_step = c->icw4_needed ? 3 : 0;
        break;
    case 3:                                 /* ICW4 */
        c->auto_eoi = val & 0x02;
        c->special_fully_nested = val & 0x10;
        c->init_step = 0;
        break;
    default:                                /* OCW1 */
        c->imr = val;
        break;
    }
}

uint8_t pic_read(struct cc_pic *pic, uint16_t port)
{
    int idx;
    switch (port) {
    case 0x20: case 0x21: idx = 0; break;
    case 0xa0: case 0xa1: idx = 1; break;
    case 0x4d0: return pic->chip[0].elcr;
    case 0x4d1: return pic->chip[1].elcr;
    default: return 0xff;
    }
    struct cc_pic_chip *c = &pic->chip[idx];
    if (c->poll)
        return chip_poll(pic, idx);
    if (port & 1)
        return c->imr;
    return c->read_isr ? c->isr : c->irr;
}

void pic_write(struct cc_pic *pic, uint16_t port, uint8_t val)
{
    struct cc_pic_chip *c;
    switch (port) {
    case 0x20: case 0x21: c = &pic->chip[0]; break;
    case 0xa0: case 0xa1: c = &pic->chip[1]; break;
    case 0x4d0: case 0x4d1:
        c = &pic->chip[port & 1];
        c->elcr = val & c->elcr_mask;
        /* Lines now level triggered request exactly while high. */
        c->irr = (uint8_t)((c->irr & ~c->elcr) | (c->line_level & c->elcr));
        pic_update(pic);
        return;
    default:
        return;
    }

    if (port & 1)
        write_data(c, val);
    else if (val & 0x10)
        write_icw1(c, val);
    else if (val & 0x08)
        write_ocw3(c, val);
    else
        write_ocw2(c, val);
    pic_update(pic);
}

static void save_chip(const struct cc_pic_chip *c, struct cc_buf *out)
{
    buf_put_u8(out, c->irr);
    buf_put_u8(out, c->imr);
    buf_put_u8(out, c->isr);
    buf_put_u8(out, c->line_level);
    buf_put_u8(out, c->elcr);
    buf_put_u8(out, c->vector_base);
    buf_put_u8(out, c->priority_add);
    buf_put_u8(out, c->init_step);
    buf_put_bool(out, c->icw4_needed);
    buf_put_bool(out, c->single_mode);
    buf_put_bool(out, c->auto_eoi);
    buf_put_bool(out, c->rotate_on_auto_eoi);
    buf_put_bool(out, c->special_fully_nested);
    buf_put_bool(out, c->special_mask);
    buf_put_bool(out, c->poll);
    buf_put_bool(out, c->read_isr);
}

void pic_save(const struct cc_pic *pic, struct cc_buf *out)
{
    buf_put_u8(out, PIC_SAVE_VERSION);
    save_chip(&pic->chip[0], out);
    save_chip(&pic->chip[1], out);
}

/* A bool field: exactly 0 or 1, anything else marks the record bad. */
static bool get_bool(struct cc_rd *in, bool *bad)
{
    uint8_t v = rd_u8(in);
    if (v > 1)
        *bad = true;
    return v == 1;
}

static void load_chip(struct cc_pic_chip *c, struct cc_rd *in, uint8_t elcr_mask,
                      bool *bad)
{
    c->irr = rd_u8(in);
    c->imr = rd_u8(in);
    c->isr = rd_u8(in);
    c->line_level = rd_u8(in);
    c->elcr = rd_u8(in);
    c->elcr_mask = elcr_mask;
    c->vector_base = rd_u8(in);
    c->priority_add = rd_u8(in);
    c->init_step = rd_u8(in);
    c->icw4_needed = get_bool(in, bad);
    c->single_mode = get_bool(in, bad);
    c->auto_eoi = get_bool(in, bad);
    c->rotate_on_auto_eoi = get_bool(in, bad);
    c->special_fully_nested = get_bool(in, bad);
    c->special_mask = get_bool(in, bad);
    c->poll = get_bool(in, bad);
    c->read_isr = get_bool(in, bad);
    if ((c->elcr & ~elcr_mask) || (c->vector_base & 7) || c->priority_add > 7 ||
        c->init_step > 3)
        *bad = true;
}

int pic_load(struct cc_pic *pic, struct cc_rd *in, struct cc_err *err)
{
    int version = rd_version(in, PIC_SAVE_VERSION, "pic", err);
    if (version < 0)
        return version;

    struct cc_pic tmp;
    bool bad = false;
    load_chip(&tmp.chip[0], in, elcr_writable[0], &bad);
    load_chip(&tmp.chip[1], in, elcr_writable[1], &bad);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "pic: snapshot section truncated");
    if (bad)
        return cc_err_set(err, EINVAL,
                          "pic: snapshot section has out-of-range register values "
                          "(corrupt snapshot?)");
    *pic = tmp;
    return 0;
}
