/* 16550A UART (see uart.h).
 *
 * Interrupt identification, highest priority first:
 *   0x06 receiver line status  IER bit 2, LSR has OE/PE/FE/BI (cleared by LSR read)
 *   0x04 received data         IER bit 0, FIFO count >= trigger level (or any
 *                              byte when FIFOs are off)
 *   0x0C character timeout     IER bit 0, FIFO on, 0 < count < trigger level
 *   0x02 THR empty             IER bit 1, thr_ipending
 *   0x00 modem status          IER bit 3, MSR delta bits (cleared by MSR read)
 * There is no baud-rate clock, so the character timeout is pending as soon
 * as data sits below the trigger level; the guest still sees the 16550's
 * IIR values and its data is never stranded.
 */
#include <errno.h>
#include <string.h>

#include "devices/uart.h"

#define UART_SAVE_VERSION 1

enum {
    REG_DATA = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3,
    REG_MCR = 4, REG_LSR = 5, REG_MSR = 6, REG_SCR = 7,
};

#define IER_RDI   0x01
#define IER_THRI  0x02
#define IER_RLSI  0x04
#define IER_MSI   0x08

#define IIR_NONE  0x01
#define IIR_MSI   0x00
#define IIR_THRI  0x02
#define IIR_RDI   0x04
#define IIR_RLSI  0x06
#define IIR_CTI   0x0c
#define IIR_FIFO  0xc0

#define FCR_ENABLE    0x01
#define FCR_CLEAR_RX  0x02
#define FCR_KEPT      0xc9      /* enable, DMA mode, trigger level */

#define LCR_DLAB  0x80

#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define MCR_MASK  0x1f

#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_ERRS  0x1e          /* OE, PE, FE, BI */
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define LSR_RXERR 0x80

#define MSR_DCTS  0x01
#define MSR_DDSR  0x02
#define MSR_TERI  0x04
#define MSR_DDCD  0x08
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80
#define MSR_DELTAS 0x0f

static bool fifo_on(const struct cc_uart *u)
{
    return u->fcr & FCR_ENABLE;
}

static unsigned rx_capacity(const struct cc_uart *u)
{
    return fifo_on(u) ? CC_UART_FIFO : 1;
}

static unsigned rx_trigger(const struct cc_uart *u)
{
    static const uint8_t level[4] = {1, 4, 8, 14};
    return level[u->fcr >> 6];
}

static uint8_t compute_iir(const struct cc_uart *u)
{
    if ((u->ier & IER_RLSI) && (u->lsr & LSR_ERRS))
        return IIR_RLSI;
    if ((u->ier & IER_RDI) && u->rx_count)
        return fifo_on(u) && u->rx_count < rx_trigger(u) ? IIR_CTI : IIR_RDI;
    if ((u->ier & IER_THRI) && u->thr_ipending)
        return IIR_THRI;
    if ((u->ier & IER_MSI) && (u->msr & MSR_DELTAS))
        return IIR_MSI;
    return IIR_NONE;
}

/* The PC wires the interrupt output through OUT2; in loopback mode the
 * modem outputs (OUT2 included) are forced inactive, so the line is quiet. */
static bool compute_level(const struct cc_uart *u, uint8_t iir)
{
    return iir != IIR_NONE && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);
}

static void update(struct cc_uart *u)
{
    if (u->rx_count)
        u->lsr |= LSR_DR;
    else
        u->lsr &= (uint8_t)~LSR_DR;
    u->iir_pending = compute_iir(u);
    bool level = compute_level(u, u->iir_pending);
    if (level != u->irq_level) {
        u->irq_level = level;
        irq_set(&u->irq, u->irq_line, level);
    }
}

/* Modem inputs: a connected terminal (CTS, DSR, DCD), or in loopback the
 * MCR outputs wired back. Sets the delta bits for what changed. */
static void sync_msr(struct cc_uart *u)
{
    uint8_t in;
    if (u->mcr & MCR_LOOP)
        in = (u->mcr & MCR_DTR ? MSR_DSR : 0) | (u->mcr & MCR_RTS ? MSR_CTS : 0) |
             (u->mcr & MCR_OUT1 ? MSR_RI : 0) | (u->mcr & MCR_OUT2 ? MSR_DCD : 0);
    else
        in = MSR_CTS | MSR_DSR | MSR_DCD;
    uint8_t old = u->msr, delta = 0;
    if ((old ^ in) & MSR_CTS)
        delta |= MSR_DCTS;
    if ((old ^ in) & MSR_DSR)
        delta |= MSR_DDSR;
    if ((old & MSR_RI) && !(in & MSR_RI))
        delta |= MSR_TERI;
    if ((old ^ in) & MSR_DCD)
        delta |= MSR_DDCD;
    u->msr = (uint8_t)(in | (old & MSR_DELTAS) | delta);
}

static void rx_clear(struct cc_uart *u)
{
    u->rx_head = 0;
    u->rx_count = 0;
}

static bool rx_put(struct cc_uart *u, uint8_t byte)
{
    if (u->rx_count >= rx_capacity(u))
        return false;
    u->rx[(u->rx_head + u->rx_count) % CC_UART_FIFO] = byte;
    u->rx_count++;
    return true;
}

void uart_init(struct cc_uart *u, struct cc_irq_sink irq, unsigned irq_line,
                  void (*tx)(void *opaque, uint8_t byte), void *tx_opaque)
{
    memset(u, 0, sizeof(*u));
    u->lsr = LSR_THRE | LSR_TEMT;
    u->msr = MSR_CTS | MSR_DSR | MSR_DCD;
    u->dll = 0x0c;              /* 9600 baud, as a PC BIOS leaves it */
    u->iir_pending = IIR_NONE;
    u->irq = irq;
    u->irq_line = irq_line;
    u->tx = tx;
    u->tx_opaque = tx_opaque;
}

static void write_thr(struct cc_uart *u, uint8_t val)
{
    if (u->mcr & MCR_LOOP) {
        if (!rx_put(u, val)) {
            u->lsr |= LSR_OE;
            if (!fifo_on(u))
                u->rx[u->rx_head] = val;    /* RBR is overwritten */
        }
    }
    /* The byte leaves at once: THR and the shift register are empty again. */
    u->thr_ipending = true;
    update(u);
    if (!(u->mcr & MCR_LOOP) && u->tx)
        u->tx(u->tx_opaque, val);
}

static void write_ier(struct cc_uart *u, uint8_t val)
{
    uint8_t old = u->ier;
    u->ier = val & 0x0f;
    /* Enabling the THRE interrupt while THR is empty raises it (Linux's
     * serial8250_startup probes for exactly this). */
    if (!(old & IER_THRI) && (u->ier & IER_THRI))
        u->thr_ipending = true;
    update(u);
}

static void write_fcr(struct cc_uart *u, uint8_t val)
{
    if ((val ^ u->fcr) & FCR_ENABLE)
        rx_clear(u);                    /* switching FIFO mode empties them */
    if (val & FCR_ENABLE) {
        if (val & FCR_CLEAR_RX)
            rx_clear(u);
        u->fcr = val & FCR_KEPT;        /* bit 5 (64-byte FIFO) is 16750 only */
    } else {
        u->fcr = 0;
    }
    update(u);
}

static void write_mcr(struct cc_uart *u, uint8_t val)
{
    u->mcr = val & MCR_MASK;
    sync_msr(u);
    update(u);
}

void uart_write(struct cc_uart *u, uint16_t offset, uint8_t val)
{
    switch (offset) {
    case REG_DATA:
        if (u->lcr & LCR_DLAB)
            u->dll = val;
        else
            write_thr(u, val);
        break;
    case REG_IER:
        if (u->lcr & LCR_DLAB)
            u->dlm = val;
        else
            write_ier(u, val);
        break;
    case REG_IIR_FCR:
        write_fcr(u, val);
        break;
    case REG_LCR:
        u->lcr = val;
        break;
    case REG_MCR:
        write_mcr(u, val);
        break;
    case REG_SCR:
        u->scr = val;
        break;
    default:                    /* LSR, MSR: read-only */
        break;
    }
}

static uint8_t read_rbr(struct cc_uart *u)
{
    uint8_t b = 0;
    if (u->rx_count) {
        b = u->rx[u->rx_head];
        u->rx_head = (uint8_t)((u->rx_head + 1) % CC_UART_FIFO);
        u->rx_count--;
    }
    update(u);
    return b;
}

static uint8_t read_iir(struct cc_uart *u)
{
    uint8_t id = compute_iir(u);
    if (id == IIR_THRI) {
        u->thr_ipending = false;        /* reading the THRE identification clears it */
        update(u);
    }
    return (uint8_t)(id | (fifo_on(u) ? IIR_FIFO : 0));
}

uint8_t uart_read(struct cc_uart *u, uint16_t offset)
{
    uint8_t v;
    switch (offset) {
    case REG_DATA:
        return u->lcr & LCR_DLAB ? u->dll : read_rbr(u);
    case REG_IER:
        return u->lcr & LCR_DLAB ? u->dlm : u->ier;
    case REG_IIR_FCR:
        return read_iir(u);
    case REG_LCR:
        return u->lcr;
    case REG_MCR:
        return u->mcr;
    case REG_LSR:
        v = u->lsr;
        u->lsr &= (uint8_t)~(LSR_ERRS | LSR_RXERR);
        update(u);
        return v;
    case REG_MSR:
        v = u->msr;
        u->msr &= (uint8_t)~MSR_DELTAS;
        update(u);
        return v;
    case REG_SCR:
        return u->scr;
    default:
        return 0xff;
    }
}

size_t uart_rx_push(struct cc_uart *u, const uint8_t *data, size_t len)
{
    if (u->mcr & MCR_LOOP)
        return 0;               /* the receiver listens to the transmitter */
    size_t n = 0;
    while (n < len && rx_put(u, data[n]))
        n++;
    if (n)
        update(u);
    return n;
}

void uart_save(const struct cc_uart *u, struct cc_buf *out)
{
    buf_put_u8(out, UART_SAVE_VERSION);
    buf_put_u8(out, u->ier);
    buf_put_u8(out, u->iir_pending);
    buf_put_u8(out, u->lcr);
    buf_put_u8(out, u->mcr);
    buf_put_u8(out, u->lsr);
    buf_put_u8(out, u->msr);
    buf_put_u8(out, u->scr);
    buf_put_u8(out, u->fcr);
    buf_put_u8(out, u->dll);
    buf_put_u8(out, u->dlm);
    buf_put_bool(out, u->thr_ipending);
    buf_put(out, u->rx, CC_UART_FIFO);
    buf_put_u8(out, u->rx_head);
    buf_put_u8(out, u->rx_count);
    buf_put_bool(out, u->irq_level);
}

int uart_load(struct cc_uart *u, struct cc_rd *in, struct cc_err *err)
{
    int version = rd_version(in, UART_SAVE_VERSION, "uart", err);
    if (version < 0)
        return version;

    struct cc_uart tmp = *u;    /* keeps the unsaved wiring */
    tmp.ier = rd_u8(in);
    tmp.iir_pending = rd_u8(in);
    tmp.lcr = rd_u8(in);
    tmp.mcr = rd_u8(in);
    tmp.lsr = rd_u8(in);
    tmp.msr = rd_u8(in);
    tmp.scr = rd_u8(in);
    tmp.fcr = rd_u8(in);
    tmp.dll = rd_u8(in);
    tmp.dlm = rd_u8(in);
    uint8_t thr_ipending = rd_u8(in);
    rd_get(in, tmp.rx, CC_UART_FIFO);
    tmp.rx_head = rd_u8(in);
    tmp.rx_count = rd_u8(in);
    uint8_t irq_level = rd_u8(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "uart: snapshot section truncated");
    tmp.thr_ipending = thr_ipending == 1;
    tmp.irq_level = irq_level == 1;

    bool bad = thr_ipending > 1 || irq_level > 1 || (tmp.ier & ~0x0f) ||
               (tmp.mcr & ~MCR_MASK) || (tmp.fcr & ~FCR_KEPT) ||
               (tmp.lsr & (LSR_THRE | LSR_TEMT)) != (LSR_THRE | LSR_TEMT) ||
               tmp.rx_head >= CC_UART_FIFO || tmp.rx_count > rx_capacity(&tmp);
    if (!bad) {
        /* Derived state must match what the registers say. */
        uint8_t iir = compute_iir(&tmp);
        bad = !!(tmp.lsr & LSR_DR) != (tmp.rx_count != 0) || tmp.iir_pending != iir ||
              tmp.irq_level != compute_level(&tmp, iir);
    }
    if (bad)
        return cc_err_set(err, EINVAL,
                          "uart: snapshot section has out-of-range or inconsistent values "
                          "(rx_count %u, rx_head %u; corrupt snapshot?)",
                          tmp.rx_count, tmp.rx_head);
    *u = tmp;
    return 0;
}
