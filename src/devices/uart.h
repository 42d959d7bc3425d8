/* 16550A UART (COM1 at 0x3F8, IRQ4 on a PC). Register offsets 0-7 relative
 * to the base port; the owner maps the port range.
 *
 * Transmission is instantaneous: a byte written to THR is handed to the tx
 * callback at once, the transmitter is immediately empty again, and a THRE
 * interrupt is raised if enabled (interrupt-driven TX as Linux's 8250 driver
 * expects, including the THRE-on-IER-enable behaviour it probes for).
 * Reception: the host pushes bytes with uart_rx_push() into the 16-byte
 * FIFO (or 1-byte holding register when FIFOs are off); RX data-available
 * and line-status interrupts follow the 16550 rules, including the FIFO
 * trigger level. There is no baud clock, so the character-timeout
 * identification (IIR 0x0C) is pending as soon as data sits below the
 * trigger level. Loopback mode (MCR bit 4) feeds TX back to RX (an overrun
 * sets LSR.OE) and disconnects the receiver from the host: rx_push accepts
 * nothing while it is on.
 * The interrupt line is level-style: raised while any enabled interrupt is
 * pending (and MCR.OUT2 is set and loopback is off, as on a PC, where
 * loopback forces the OUT2 pin inactive), lowered otherwise. The sink is
 * called only when the level changes.
 * The THRE interrupt is raised after every THR write and whenever IER bit 1
 * goes from 0 to 1 (the transmitter is always empty); it is cleared by an
 * IIR read that reports it. */
#ifndef CC_DEVICES_UART_H
#define CC_DEVICES_UART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "devices/irq.h"
#include "util/buf.h"

#define CC_UART_FIFO 16

struct cc_uart {
    uint8_t ier, iir_pending, lcr, mcr, lsr, msr, scr, fcr;
    /* iir_pending: interrupt identification (IIR bits 0-3) of the highest-
       priority pending enabled interrupt, 0x01 when none. fcr: the FIFO
       control bits that stick (enable, DMA mode, trigger level). lsr: DR
       mirrors rx_count != 0; THRE and TEMT are always set. */
    uint8_t dll, dlm;
    bool thr_ipending;          /* THRE interrupt pending (cleared by IIR read / THR write) */
    uint8_t rx[CC_UART_FIFO];
    uint8_t rx_head, rx_count;
    bool irq_level;             /* current level driven on the line */
    unsigned irq_line;          /* not saved */
    struct cc_irq_sink irq;     /* not saved */
    void (*tx)(void *opaque, uint8_t byte);   /* not saved */
    void *tx_opaque;            /* not saved */
};

/* The tx callback runs after the UART state is updated, so it may call
 * uart_rx_push() on the same UART (an echoing peer). */
void uart_init(struct cc_uart *u, struct cc_irq_sink irq, unsigned irq_line,
                  void (*tx)(void *opaque, uint8_t byte), void *tx_opaque);

/* Offsets above 7 read 0xff and ignore writes. Reading RBR with nothing
 * received returns 0. */
uint8_t uart_read(struct cc_uart *u, uint16_t offset);
void uart_write(struct cc_uart *u, uint16_t offset, uint8_t val);

/* Host to guest: queue bytes for reception. Returns how many fit (at most
 * the free space: 16 bytes with FIFOs on, 1 with them off, 0 in loopback);
 * the caller keeps the rest and retries after the guest has read. */
size_t uart_rx_push(struct cc_uart *u, const uint8_t *data, size_t len);

void uart_save(const struct cc_uart *u, struct cc_buf *out);
int uart_load(struct cc_uart *u, struct cc_rd *in, struct cc_err *err);

#endif
