/* I/O APIC (82093AA-style, 24 pins, MMIO at 0xFEC00000: IOREGSEL at 0x00,
 * IOWIN at 0x10), emulated in user space.
 *
 * Devices drive its pins through struct cc_irq_sink (ioapic_sink_set_irq),
 * alongside the PIC; an unmasked pin produces a message (destination,
 * mode, vector, trigger) handed to the deliver callback, which the VM
 * routes to the local APICs. Edge pins send on a rising edge; level pins
 * send while high and not waiting for an EOI (remote IRR set on send,
 * cleared by ioapic_eoi for that vector), and send again after the EOI if
 * the pin is still high.
 *
 * Registers: ID (0x00, bits 24-27 writable), version (0x01: 0x00170011,
 * 24 entries), arbitration (0x02, reads the ID), redirection table
 * 0x10-0x3f (entry n: low word 0x10 + 2n, high word 0x11 + 2n). Other
 * indices read 0 and ignore writes. Read-only bits (delivery status, which
 * reads 0 since delivery is immediate, and remote IRR) are not writable;
 * of the high word only the destination (bits 56-63) is. Making an entry
 * edge-triggered clears its remote IRR.
 *
 * Pin levels are logical (1 = asserted): the polarity bit is stored but
 * not applied, as in QEMU and KVM. Interrupts arriving on a masked edge pin
 * are lost; a masked level pin that is still asserted sends when unmasked.
 * The deliver callback is called synchronously from ioapic_set_irq,
 * ioapic_write and ioapic_eoi, after the entry's remote IRR is set; NULL
 * drops messages (the state changes as if they were sent). */
#ifndef CC_DEVICES_IOAPIC_H
#define CC_DEVICES_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "util/buf.h"

#define CC_IOAPIC_GPA   0xfec00000ull
#define CC_IOAPIC_SIZE  0x1000ull
#define CC_IOAPIC_PINS  24

struct cc_ioapic_msg {
    uint8_t vector;
    uint8_t delivery;       /* enum cc_apic_dm (lapic.h) */
    bool logical;           /* destination mode */
    bool level;             /* trigger mode */
    uint8_t dest;           /* bits 56-63 of the entry */
};

struct cc_ioapic {
    uint8_t id;
    uint8_t sel;            /* IOREGSEL */
    uint64_t redir[CC_IOAPIC_PINS];   /* as the two words read */
    uint32_t level;         /* current pin levels, bit per pin */
    /* Routing, set by the VM; not part of the saved state. */
    void (*deliver)(void *opaque, const struct cc_ioapic_msg *m);
    void *opaque;
};

/* Power-on: every entry masked, ID id (taken modulo 16), no routing. */
void ioapic_init(struct cc_ioapic *io, uint8_t id);

/* 32-bit accesses at 0x00 and 0x10; others read 0 and are ignored. */
uint32_t ioapic_read(struct cc_ioapic *io, uint64_t off);
void ioapic_write(struct cc_ioapic *io, uint64_t off, uint32_t val);

/* Drive pin (0-23) to level (0 or 1); pins >= 24 are ignored. */
void ioapic_set_irq(struct cc_ioapic *io, unsigned pin, int level);
/* Adapter for struct cc_irq_sink: opaque is a struct cc_ioapic *. */
void ioapic_sink_set_irq(void *opaque, unsigned pin, int level);
/* A local APIC retired level-triggered vector: clear remote IRR of the
 * entries with that vector and re-send those whose pin is still high. */
void ioapic_eoi(struct cc_ioapic *io, uint8_t vector);

/* Snapshot support: versioned, explicit fields. Load checks every field
 * (pin count, ID, pin levels, reserved and read-only bits of each entry),
 * names the problem and leaves *io untouched on failure; deliver and opaque
 * are never saved or changed. */
void ioapic_save(const struct cc_ioapic *io, struct cc_buf *out);
int ioapic_load(struct cc_ioapic *io, struct cc_rd *in, struct cc_err *err);

#endif
