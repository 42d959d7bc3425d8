/* Intel 8254 interval timer on the virtual clock (see pit.h for the timing
 * model). Counter values, OUT levels and IRQ0 deadlines are all pure
 * functions of (channel state, now_ns), so a restored snapshot continues
 * exactly where the original left off. */
#include <errno.h>
#include <string.h>

#include "devices/pit.h"

#define PIT_SAVE_VERSION 1
#define NS_PER_S 1000000000u
#define REFRESH_TOGGLE_NS 15085u

/* Input clock ticks elapsed since load_ns. */
static uint64_t ticks_at(const struct cc_pit_channel *ch, uint64_t now)
{
    if (now <= ch->load_ns)
        return 0;
    unsigned __int128 x = (unsigned __int128)(now - ch->load_ns) * CC_PIT_HZ;
    return (uint64_t)(x / NS_PER_S);
}

/* Absolute time at which tick k after load_ns happens; UINT64_MAX when that
 * is beyond the representable range. */
static uint64_t tick_deadline(const struct cc_pit_channel *ch, uint64_t k)
{
    unsigned __int128 x = (unsigned __int128)k * NS_PER_S;
    x = (x + CC_PIT_HZ - 1) / CC_PIT_HZ + ch->load_ns;
    return x >= UINT64_MAX ? UINT64_MAX : (uint64_t)x;
}

static bool one_shot(const struct cc_pit_channel *ch)
{
    return ch->mode != 2 && ch->mode != 3;
}

/* The 16-bit counting element at now. */
static uint16_t count_at(const struct cc_pit_channel *ch, uint64_t now)
{
    if (!ch->counting)
        return (uint16_t)ch->start;
    uint64_t d = ticks_at(ch, now);
    uint32_t n = ch->reload;
    switch (ch->mode) {
    case 2:
        return (uint16_t)(n - (uint32_t)(d % n));
    case 3: {
        /* Decrements by two, through the count once per half period. */
        uint32_t m = (uint32_t)(d % n), half = (n + 1) / 2;
        return (uint16_t)(n - 2 * (m < half ? m : m - half));
    }
    default:
        /* One-shot modes keep counting down through 0 and wrap. */
        return (uint16_t)(ch->start - (uint32_t)(d & 0xffff));
    }
}

static bool out_at(const struct cc_pit_channel *ch, uint64_t now)
{
    if (!ch->armed)
        return ch->mode != 0;   /* mode 0 drives OUT low from the control word */
    uint64_t d = ch->counting ? ticks_at(ch, now) : 0;
    uint32_t n = ch->reload;
    switch (ch->mode) {
    case 0:
        return ch->done || (ch->counting && d >= ch->start);
    case 1:
        return !ch->counting || ch->done || d >= ch->start;
    case 2:
        return !ch->counting || n == 1 || d % n != n - 1;
    case 3:
        return !ch->counting || d % n < (n + 1) / 2;
    default:                    /* 4, 5: low while the count is 1 */
        return !ch->counting || ch->done || d != (uint64_t)ch->start - 1;
    }
}

/* Absolute time of the channel's next OUT rising edge after now, or
 * UINT64_MAX. */
static uint64_t next_edge(const struct cc_pit_channel *ch, uint64_t now)
{
    if (!ch->counting)
        return UINT64_MAX;
    uint64_t d = ticks_at(ch, now);
    if (!one_shot(ch))
        return tick_deadline(ch, (d / ch->reload + 1) * ch->reload);
    if (ch->done || d >= ch->start)
        return UINT64_MAX;
    return tick_deadline(ch, ch->start);
}

/* Stop counting and hold the current count. */
static void hold(struct cc_pit_channel *ch, uint64_t now)
{
    if (!ch->counting)
        return;
    if (one_shot(ch) && ticks_at(ch, now) >= ch->start)
        ch->done = true;
    uint16_t c = count_at(ch, now);
    ch->start = c ? c : 65536;
    ch->counting = false;
}

/* Restart counting from the reload value. */
static void restart(struct cc_pit_channel *ch, uint64_t now)
{
    ch->start = ch->reload;
    ch->load_ns = now;
    ch->done = false;
    ch->counting = true;
}

static void set_gate(struct cc_pit_channel *ch, uint64_t now, bool gate)
{
    if (gate == ch->gate)
        return;
    ch->gate = gate;
    if (!ch->armed)
        return;
    if (gate) {
        if (ch->mode == 0 || ch->mode == 4) {
            if (!ch->counting) {        /* resume from the held count */
                ch->load_ns = now;
                ch->counting = true;
            }
        } else {
            restart(ch, now);           /* trigger (1, 5) or reload (2, 3) */
        }
    } else if (ch->mode != 1 && ch->mode != 5) {
        hold(ch, now);
    }
}

static void load_count(struct cc_pit_channel *ch, uint64_t now, uint32_t val)
{
    ch->reload = val ? val : 65536;
    ch->null_count = false;
    ch->armed = true;
    if (ch->mode == 1 || ch->mode == 5) {
        if (!ch->counting)
            ch->start = ch->reload;     /* shown until the gate triggers */
        return;
    }
    ch->start = ch->reload;
    ch->load_ns = now;
    ch->done = false;
    ch->counting = ch->gate;
}

static void write_count(struct cc_pit_channel *ch, uint64_t now, uint8_t val)
{
    switch (ch->access) {
    case 1:
        load_count(ch, now, val);
        break;
    case 2:
        load_count(ch, now, (uint32_t)val << 8);
        break;
    default:
        if (!ch->write_hi_next) {
            ch->write_lsb = val;
            ch->write_hi_next = true;
            if (ch->mode == 0) {        /* the first byte stops counting */
                hold(ch, now);
                ch->armed = false;
                ch->done = false;
            }
        } else {
            ch->write_hi_next = false;
            load_count(ch, now, ch->write_lsb | (uint32_t)val << 8);
        }
        break;
    }
}

static void set_mode(struct cc_pit_channel *ch, uint64_t now, uint8_t val)
{
    hold(ch, now);
    uint8_t mode = (val >> 1) & 7;
    ch->mode = mode >= 6 ? mode - 4 : mode;
    ch->access = (val >> 4) & 3;
    ch->bcd = val & 1;
    ch->armed = false;
    ch->done = false;
    ch->write_hi_next = false;
    ch->read_hi_next = false;
    ch->latched = false;
    ch->latch_read_hi = false;
    ch->status_latched = false;
    ch->null_count = true;
}

static void latch_count(struct cc_pit_channel *ch, uint64_t now)
{
    if (ch->latched)
        return;         /* further latches are ignored until it is read */
    ch->latched = true;
    ch->latch_read_hi = false;
    ch->latched_count = count_at(ch, now);
}

static void latch_status(struct cc_pit_channel *ch, uint64_t now)
{
    if (ch->status_latched)
        return;
    ch->status_latched = true;
    ch->status = (uint8_t)((out_at(ch, now) ? 0x80 : 0) | (ch->null_count ? 0x40 : 0) |
                           ch->access << 4 | ch->mode << 1 | (ch->bcd ? 1 : 0));
}

static uint8_t read_counter(struct cc_pit_channel *ch, uint64_t now)
{
    if (ch->status_latched) {
        ch->status_latched = false;
        return ch->status;
    }
    uint16_t c;
    bool hi;
    if (ch->latched) {
        c = ch->latched_count;
        if (ch->access == 3 && !ch->latch_read_hi) {
            ch->latch_read_hi = true;   /* LSB now, MSB on the next read */
            hi = false;
        } else {
            hi = ch->access != 1;       /* MSB-only, or the second byte */
            ch->latched = false;
            ch->latch_read_hi = false;
        }
    } else {
        c = count_at(ch, now);
        if (ch->access == 3) {
            hi = ch->read_hi_next;
            ch->read_hi_next = !ch->read_hi_next;
        } else {
            hi = ch->access == 2;
        }
    }
    return hi ? (uint8_t)(c >> 8) : (uint8_t)c;
}

void pit_init(struct cc_pit *pit, struct cc_irq_sink irq, uint64_t now_ns)
{
    memset(pit, 0, sizeof(*pit));
    for (int i = 0; i < 3; i++) {
        struct cc_pit_channel *ch = &pit->ch[i];
        ch->mode = 0;
        ch->access = 3;
        ch->reload = 65536;
        ch->start = 65536;
        ch->load_ns = now_ns;
        ch->gate = i != 2;      /* channel 2's gate is port 0x61 bit 0 */
        ch->null_count = true;
    }
    pit->next_irq_ns = UINT64_MAX;
    pit->irq = irq;
}

uint8_t pit_read(struct cc_pit *pit, uint64_t now_ns, uint16_t port)
{
    switch (port) {
    case 0x40: case 0x41: case 0x42:
        return read_counter(&pit->ch[port - 0x40], now_ns);
    case 0x61: {
        const struct cc_pit_channel *ch2 = &pit->ch[2];
        return (uint8_t)((ch2->gate ? 0x01 : 0) | (pit->speaker_data ? 0x02 : 0) |
                         ((now_ns / REFRESH_TOGGLE_NS) & 1 ? 0x10 : 0) |
                         (out_at(ch2, now_ns) ? 0x20 : 0));
    }
    default:
        return 0xff;
    }
}

void pit_write(struct cc_pit *pit, uint64_t now_ns, uint16_t port, uint8_t val)
{
    int sel;
    switch (port) {
    case 0x40: case 0x41: case 0x42:
        sel = port - 0x40;
        if (sel == 0)
            pit_advance(pit, now_ns);
        write_count(&pit->ch[sel], now_ns, val);
        break;
    case 0x43:
        sel = val >> 6;
        if (sel == 3) {                 /* read-back: bits 1-3 select */
            for (int i = 0; i < 3; i++) {
                if (!(val & (2u << i)))
                    continue;
                if (!(val & 0x20))
                    latch_count(&pit->ch[i], now_ns);
                if (!(val & 0x10))
                    latch_status(&pit->ch[i], now_ns);
            }
            return;
        }
        if ((val & 0x30) == 0) {
            latch_count(&pit->ch[sel], now_ns);
            return;
        }
        if (sel == 0)
            pit_advance(pit, now_ns);
        set_mode(&pit->ch[sel], now_ns, val);
        break;
    case 0x61:
        pit->speaker_data = val & 0x02;
        set_gate(&pit->ch[2], now_ns, val & 0x01);
        return;
    default:
        return;
    }
    if (sel == 0)
        pit->next_irq_ns = next_edge(&pit->ch[0], now_ns);
}

uint64_t pit_next_deadline(const struct cc_pit *pit)
{
    return pit->next_irq_ns;
}

bool pit_advance(struct cc_pit *pit, uint64_t now_ns)
{
    if (pit->next_irq_ns == UINT64_MAX || pit->next_irq_ns > now_ns)
        return false;
    irq_set(&pit->irq, 0, 1);
    irq_set(&pit->irq, 0, 0);
    pit->next_irq_ns = next_edge(&pit->ch[0], now_ns);   /* none for one-shots */
    return true;
}

static void save_channel(const struct cc_pit_channel *ch, struct cc_buf *out)
{
    buf_put_u8(out, ch->mode);
    buf_put_u8(out, ch->access);
    buf_put_bool(out, ch->bcd);
    buf_put_bool(out, ch->gate);
    buf_put_u32(out, ch->reload);
    buf_put_u32(out, ch->start);
    buf_put_u64(out, ch->load_ns);
    buf_put_bool(out, ch->armed);
    buf_put_bool(out, ch->counting);
    buf_put_bool(out, ch->done);
    buf_put_bool(out, ch->write_hi_next);
    buf_put_u8(out, ch->write_lsb);
    buf_put_bool(out, ch->read_hi_next);
    buf_put_bool(out, ch->latched);
    buf_put_u16(out, ch->latched_count);
    buf_put_bool(out, ch->latch_read_hi);
    buf_put_bool(out, ch->status_latched);
    buf_put_u8(out, ch->status);
    buf_put_bool(out, ch->null_count);
}

void pit_save(const struct cc_pit *pit, struct cc_buf *out)
{
    buf_put_u8(out, PIT_SAVE_VERSION);
    for (int i = 0; i < 3; i++)
        save_channel(&pit->ch[i], out);
    buf_put_bool(out, pit->speaker_data);
    buf_put_u64(out, pit->next_irq_ns);
}

static bool get_bool(struct cc_rd *in, bool *bad)
{
    uint8_t v = rd_u8(in);
    if (v > 1)
        *bad = true;
    return v == 1;
}

static void load_channel(struct cc_pit_channel *ch, struct cc_rd *in, bool *bad)
{
    ch->mode = rd_u8(in);
    ch->access = rd_u8(in);
    ch->bcd = get_bool(in, bad);
    ch->gate = get_bool(in, bad);
    ch->reload = rd_u32(in);
    ch->start = rd_u32(in);
    ch->load_ns = rd_u64(in);
    ch->armed = get_bool(in, bad);
    ch->counting = get_bool(in, bad);
    ch->done = get_bool(in, bad);
    ch->write_hi_next = get_bool(in, bad);
    ch->write_lsb = rd_u8(in);
    ch->read_hi_next = get_bool(in, bad);
    ch->latched = get_bool(in, bad);
    ch->latched_count = rd_u16(in);
    ch->latch_read_hi = get_bool(in, bad);
    ch->status_latched = get_bool(in, bad);
    ch->status = rd_u8(in);
    ch->null_count = get_bool(in, bad);
    if (ch->mode > 5 || ch->access < 1 || ch->access > 3 ||
        ch->reload < 1 || ch->reload > 65536 || ch->start < 1 || ch->start > 65536 ||
        (ch->counting && !ch->armed))
        *bad = true;
}

int pit_load(struct cc_pit *pit, struct cc_rd *in, struct cc_err *err)
{
    int version = rd_version(in, PIT_SAVE_VERSION, "pit", err);
    if (version < 0)
        return version;

    struct cc_pit tmp;
    memset(&tmp, 0, sizeof(tmp));       /* padding too: states compare with memcmp */
    bool bad = false;
    for (int i = 0; i < 3; i++)
        load_channel(&tmp.ch[i], in, &bad);
    tmp.speaker_data = get_bool(in, &bad);
    tmp.next_irq_ns = rd_u64(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "pit: snapshot section truncated");
    if (bad)
        return cc_err_set(err, EINVAL,
                          "pit: snapshot section has out-of-range values (mode > 5, "
                          "bad access mode or count, corrupt snapshot?)");
    tmp.irq = pit->irq;         /* not saved: the owner's wiring stays */
    *pit = tmp;
    return 0;
}
