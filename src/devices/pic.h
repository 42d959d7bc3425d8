/* Intel 8259A programmable interrupt controller, master/slave pair as on a
 * PC: master at ports 0x20-0x21, slave at 0xA0-0xA1 cascaded on IRQ2, edge
 * or level mode per line from the ELCR registers at 0x4D0-0x4D1.
 *
 * The run loop asks pic_intr() whether the INTR output is asserted and,
 * when KVM says the vCPU can take an interrupt, calls pic_ack() (the INTA
 * cycle) and injects the returned vector with KVM_INTERRUPT.
 *
 * Supported: ICW1-ICW4 initialisation, OCW1 mask, OCW2 non-specific and
 * specific EOI and rotation, OCW3 read IRR/ISR, poll mode, special mask mode,
 * auto-EOI, spurious IRQ7/IRQ15 behaviour, edge and level triggering. */
#ifndef CC_DEVICES_PIC_H
#define CC_DEVICES_PIC_H

#include <stdbool.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "util/buf.h"

struct cc_pic_chip {
    uint8_t irr;            /* interrupt request register */
    uint8_t imr;            /* interrupt mask register */
    uint8_t isr;            /* in-service register */
    uint8_t line_level;     /* current input line levels (edge detection) */
    uint8_t elcr;           /* 1 = level triggered */
    uint8_t elcr_mask;      /* writable ELCR bits */
    uint8_t vector_base;    /* ICW2 & 0xf8 */
    uint8_t priority_add;   /* lowest-priority rotation */
    uint8_t init_step;      /* 0 = operational, 1..3 = waiting for ICW2..4 */
    bool icw4_needed;
    bool single_mode;
    bool auto_eoi;
    bool rotate_on_auto_eoi;
    bool special_fully_nested;
    bool special_mask;
    bool poll;
    bool read_isr;          /* OCW3: reads of the command port return ISR */
};

struct cc_pic {
    struct cc_pic_chip chip[2];   /* [0] master, [1] slave */
};

/* Power-on state: everything masked is NOT assumed (IMR = 0, vector base 0,
 * all edge triggered); like real hardware the chips need ICW initialisation
 * before they deliver anything sensible. */
void pic_init(struct cc_pic *pic);

/* Drive ISA line irq (0-15) to level (0 or 1). Line 2 is the cascade
 * input, so as on an AT the ISA IRQ2 pin is routed to IRQ9. Other lines
 * >= 16 are ignored. Edge lines latch IRR on a rising edge; lines whose
 * ELCR bit is set request exactly while high. */
void pic_set_irq(struct cc_pic *pic, unsigned irq, int level);

/* Adapter for struct cc_irq_sink: opaque is a struct cc_pic *. */
void pic_sink_set_irq(void *opaque, unsigned irq, int level);

/* Is the master's INTR output asserted (an unmasked request with higher
 * priority than anything in service)? */
bool pic_intr(const struct cc_pic *pic);

/* INTA cycle: acknowledge the highest-priority request and return its
 * vector. With nothing pending returns the spurious vector (IRQ7 of the
 * master, or IRQ15 if the cascade was pending but the slave lost it); a
 * spurious vector sets no ISR bit on the chip that gave it (the master's
 * ISR bit 2 is set in the IRQ15 case, as on hardware). */
uint8_t pic_ack(struct cc_pic *pic);

/* Port I/O: 0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1. Other ports read 0xff. */
uint8_t pic_read(struct cc_pic *pic, uint16_t port);
void pic_write(struct cc_pic *pic, uint16_t port, uint8_t val);

/* Snapshot support: a versioned, explicit field encoding. */
void pic_save(const struct cc_pic *pic, struct cc_buf *out);
int pic_load(struct cc_pic *pic, struct cc_rd *in, struct cc_err *err);

#endif
