/* Writes the seed corpus for the virtio fuzz targets (virtqueue, virtio_rng,
 * virtio_blk, virtio_net, virtio_balloon), the legacy devices' target and,
 * given a snapshot file, a 2 MiB variant of it for fuzz_snapshot_file:
 *
 *   gen_corpus DIR [SNAPSHOT]   (DIR/virtqueue, DIR/virtio_rng, ... must exist)
 *
 * Each seed is a small, valid session in the fuzz_common.h format: the
 * handshake, queues at the standard places, descriptor chains laid out in
 * guest RAM, notifications, and target-specific operations (faults, frame
 * injection, save/load), so that mutations start deep inside the device
 * code. Regenerate after changing the input format:
 *   build-fuzz/fuzz/gen_corpus fuzz/corpus \
 *       fuzz/corpus/snapshot_file/v1-3e361a6.ccsnap
 * (fuzz/corpus/snapshot_file/v1-*.ccsnap is a copy of the real file in
 * tests/fixtures/snapshots.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>
#include <zstd.h>

#include "chaoscontrol_protocol.h"
#include "devices/virtio_blk.h"
#include "devices/virtqueue.h"
#include "fuzz_common.h"
#include "fuzz_legacy.h"

#define MEMSZ 0x10000

struct seed {
    uint8_t ops[256 * 6];
    unsigned nops;
    uint8_t mem[MEMSZ];
    size_t memlen;      /* bytes of RAM worth writing */
};

static void op(struct seed *s, uint8_t code, uint8_t arg, uint32_t val)
{
    uint8_t *p = s->ops + 6 * s->nops++;
    p[0] = code;
    p[1] = arg;
    put_le32(p + 2, val);
}

static void touch(struct seed *s, uint64_t end)
{
    if (end > s->memlen)
        s->memlen = end;
}

/* Queue q's rings at the standard place: descriptor i. */
static void desc(struct seed *s, unsigned q, unsigned i, uint64_t addr, uint32_t len,
                 uint16_t flags, uint16_t next)
{
    uint8_t *d = s->mem + q * 0x1000 + 16 * i;
    put_le64(d, addr);
    put_le32(d + 8, len);
    put_le16(d + 12, flags);
    put_le16(d + 14, next);
    touch(s, q * 0x1000 + 16 * (i + 1));
}

/* Publish heads in queue q's available ring (the PUBLISH operation also
 * notifies the queue). */
static void avail(struct seed *s, unsigned q, unsigned num, const uint16_t *heads, unsigned n)
{
    (void)num;
    for (unsigned i = 0; i < n; i++)
        op(s, FUZZ_OP_PUBLISH, (uint8_t)heads[i], q);
}

static void emit(const char *dir, const char *target, const char *name, const struct seed *s)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    uint8_t hdr[2] = {(uint8_t)s->nops, 15};    /* 64 KiB of RAM */
    fwrite(hdr, 1, 2, f);
    fwrite(s->ops, 6, s->nops, f);
    fwrite(s->mem, 1, s->memlen, f);
    fclose(f);
}

#define W CC_VRING_DESC_F_WRITE
#define N CC_VRING_DESC_F_NEXT

static void gen_virtqueue(const char *dir)
{
    static struct seed s;
    memset(&s, 0, sizeof(s));
    op(&s, FUZZ_OP_SETUP, 0, 3);                /* queue 0, 8 entries */
    op(&s, FUZZ_OP_SETUP, 1, 4);                /* queue 1, 16 entries */
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    desc(&s, 0, 0, 0x4000, 64, N, 1);
    desc(&s, 0, 1, 0x4100, 64, W | N, 2);
    desc(&s, 0, 2, 0x4200, 16, W, 0);
    desc(&s, 0, 3, 0x4300, 128, W, 0);
    uint16_t heads[2] = {0, 3};
    avail(&s, 0, 8, heads, 2);
    desc(&s, 1, 0, 0x5000, 32, 0, 0);
    avail(&s, 1, 16, heads, 1);
    for (int i = 0; i < 64; i++)
        s.mem[0x4000 + i] = (uint8_t)i;
    touch(&s, 0x4400);
    op(&s, FUZZ_OP_NOTIFY, 0, 0);
    op(&s, FUZZ_OP_READ, 0x18, 2);              /* InterruptStatus */
    op(&s, FUZZ_OP_ACK, 0, 1);
    op(&s, FUZZ_OP_NOTIFY, 0, 1);
    op(&s, FUZZ_OP_PUBLISH, 3, 0);
    op(&s, FUZZ_OP_SAVELOAD, 0, 0);
    op(&s, FUZZ_OP_DEVICE, 0, 0);               /* config change */
    op(&s, FUZZ_OP_READ, 0x40, 0x102);          /* config space */
    emit(dir, "virtqueue", "basic", &s);

    /* A loop, an indirect descriptor, a wrap-around address: failures and
     * resets. */
    memset(&s, 0, sizeof(s));
    op(&s, FUZZ_OP_SETUP, 0, 2);
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    desc(&s, 0, 0, 0x4000, 16, W | N, 1);
    desc(&s, 0, 1, 0x4000, 16, W | N, 0);
    desc(&s, 0, 2, 0x4000, 16, CC_VRING_DESC_F_INDIRECT, 0);
    desc(&s, 0, 3, 0xfffffffffffff000ull, 0x2000, W, 0);
    avail(&s, 0, 4, heads, 1);
    op(&s, FUZZ_OP_NOTIFY, 0, 0);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_STATUS / 4, 0);
    op(&s, FUZZ_OP_SETUP, 0, 2);
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    op(&s, FUZZ_OP_PUBLISH, 2, 0);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_STATUS / 4, 0);
    op(&s, FUZZ_OP_SETUP, 0, 2);
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    op(&s, FUZZ_OP_PUBLISH, 3, 0);
    op(&s, FUZZ_OP_LOADBAD, 5, 33);
    emit(dir, "virtqueue", "malformed", &s);

    /* Raw register programming (no setup macro), odd sizes. */
    memset(&s, 0, sizeof(s));
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_STATUS / 4, 3);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_DRIVER_FEATURES_SEL / 4, 1);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_DRIVER_FEATURES / 4, 1);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_STATUS / 4, 11);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_QUEUE_SEL / 4, 2);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_QUEUE_NUM / 4, 256);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_QUEUE_DESC_LOW / 4, 0x8000);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_QUEUE_AVAIL_LOW / 4, 0x9000);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_QUEUE_USED_LOW / 4, 0xa000);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_QUEUE_READY / 4, 1);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_STATUS / 4, 15);
    op(&s, FUZZ_OP_NOTIFY, 0, 2);
    op(&s, FUZZ_OP_READ, VIRTIO_MMIO_CONFIG_GENERATION / 4, 2);
    emit(dir, "virtqueue", "raw-registers", &s);
}

static void gen_rng(const char *dir)
{
    static struct seed s;
    memset(&s, 0, sizeof(s));
    op(&s, FUZZ_OP_SETUP, 0, 3);
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    desc(&s, 0, 0, 0x4000, 32, W, 0);
    desc(&s, 0, 1, 0x4100, 8, N, 2);
    desc(&s, 0, 2, 0x4200, 3, W | N, 3);
    desc(&s, 0, 3, 0x4300, 100, W, 0);
    uint16_t heads[2] = {0, 1};
    avail(&s, 0, 8, heads, 2);
    op(&s, FUZZ_OP_NOTIFY, 0, 0);
    op(&s, FUZZ_OP_ACK, 0, 1);
    op(&s, FUZZ_OP_SAVELOAD, 0, 0);
    op(&s, FUZZ_OP_DEVICE, 0, 42);              /* reseed */
    op(&s, FUZZ_OP_PUBLISH, 0, 0);
    op(&s, FUZZ_OP_LOADBAD, 1, 70);
    emit(dir, "virtio_rng", "basic", &s);
}

/* A block request at descriptors d..d+2 of queue 0: header at hdr, data,
 * status byte after the header. */
static void blk_req(struct seed *s, unsigned d, uint64_t hdr, uint32_t type, uint64_t sector,
                    uint64_t data, uint32_t len)
{
    put_le32(s->mem + hdr, type);
    put_le64(s->mem + hdr + 8, sector);
    touch(s, hdr + 32);
    desc(s, 0, d, hdr, 16, N, (uint16_t)(d + 1));
    desc(s, 0, d + 1, data, len, (uint16_t)(N | (type == VIRTIO_BLK_T_OUT ? 0 : W)),
         (uint16_t)(d + 2));
    desc(s, 0, d + 2, hdr + 16, 1, W, 0);
}

static void gen_blk(const char *dir)
{
    static struct seed s;
    memset(&s, 0, sizeof(s));
    op(&s, FUZZ_OP_SETUP, 0, 4);                /* 16 entries */
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    blk_req(&s, 0, 0x4000, VIRTIO_BLK_T_OUT, 8, 0x6000, 4096);
    blk_req(&s, 3, 0x4040, VIRTIO_BLK_T_IN, 8, 0x8000, 4096);
    blk_req(&s, 6, 0x4080, VIRTIO_BLK_T_FLUSH, 0, 0x9000, 0);
    blk_req(&s, 9, 0x40c0, VIRTIO_BLK_T_GET_ID, 0, 0x9000, 20);
    blk_req(&s, 12, 0x4100, VIRTIO_BLK_T_IN, 2047, 0x9000, 1024);
    for (int i = 0; i < 4096; i++)
        s.mem[0x6000 + i] = (uint8_t)(i * 7);
    touch(&s, 0xa000);
    uint16_t heads[5] = {0, 3, 6, 9, 12};
    avail(&s, 0, 16, heads, 5);
    op(&s, FUZZ_OP_NOTIFY, 0, 0);
    op(&s, FUZZ_OP_SAVELOAD, 0, 0);
    op(&s, FUZZ_OP_DEVICE + 2, 1, 0);           /* snapshot */
    op(&s, FUZZ_OP_DEVICE, CC_BLK_FAULT_CORRUPT_READ, 8 | 1u << 19 | 3u << 22);
    op(&s, FUZZ_OP_DEVICE, CC_BLK_FAULT_TORN_WRITE, 1u << 19 | 5u << 22);
    op(&s, FUZZ_OP_PUBLISH, 0, 0);
    op(&s, FUZZ_OP_PUBLISH, 3, 0);
    op(&s, FUZZ_OP_DEVICE + 2, 0, 0);           /* restore */
    op(&s, FUZZ_OP_DEVICE, CC_BLK_FAULT_DISK_FULL, 1u << 19);
    op(&s, FUZZ_OP_PUBLISH, 0, 0);
    op(&s, FUZZ_OP_DEVICE, CC_BLK_FAULT_READ_ERROR, 0);
    op(&s, FUZZ_OP_PUBLISH, 3, 0);
    op(&s, FUZZ_OP_DEVICE + 3, 8, 4096);        /* host write */
    op(&s, FUZZ_OP_LOADBAD, 3, 200);
    op(&s, FUZZ_OP_SAVELOAD, 0, 0);
    emit(dir, "virtio_blk", "requests", &s);

    /* One big aliased write (many descriptors onto the same buffer). */
    memset(&s, 0, sizeof(s));
    op(&s, FUZZ_OP_SETUP, 0, 4);
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    put_le32(s.mem + 0x4000, VIRTIO_BLK_T_OUT);
    touch(&s, 0x4020);
    desc(&s, 0, 0, 0x4000, 16, N, 1);
    for (unsigned i = 1; i < 15; i++)
        desc(&s, 0, i, 0x8000, 0x8000, N, (uint16_t)(i + 1));
    desc(&s, 0, 15, 0x4010, 1, W, 0);
    uint16_t h0 = 0;
    op(&s, FUZZ_OP_DEVICE, CC_BLK_FAULT_CORRUPT_WRITE, 1u << 19 | 100u << 22);
    avail(&s, 0, 16, &h0, 1);
    op(&s, FUZZ_OP_SAVELOAD, 0, 0);
    emit(dir, "virtio_blk", "aliased-write", &s);
}

static void gen_net(const char *dir)
{
    static struct seed s;
    memset(&s, 0, sizeof(s));
    op(&s, FUZZ_OP_SETUP, 0, 3);                /* RX, 8 entries */
    op(&s, FUZZ_OP_SETUP, 1, 3);                /* TX, 8 entries */
    op(&s, FUZZ_OP_DEVICE, 0, 60);              /* inject before DRIVER_OK */
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    desc(&s, 0, 0, 0x6000, 1530, W, 0);
    desc(&s, 0, 1, 0x6800, 12, W | N, 2);
    desc(&s, 0, 2, 0x6900, 100, W, 0);
    uint16_t rxh[2] = {0, 1};
    avail(&s, 0, 8, rxh, 2);
    desc(&s, 1, 0, 0x5000, 12, N, 1);
    desc(&s, 1, 1, 0x5100, 60, 0, 0);
    desc(&s, 1, 2, 0x5200, 20, 0, 0);
    uint16_t txh[2] = {0, 2};
    avail(&s, 1, 8, txh, 2);
    for (int i = 0; i < 60; i++)
        s.mem[0x5100 + i] = (uint8_t)(0xff - i);
    touch(&s, 0x7000);
    op(&s, FUZZ_OP_NOTIFY, 0, 0);
    op(&s, FUZZ_OP_NOTIFY, 0, 1);
    op(&s, FUZZ_OP_DEVICE + 3, 1, 0);           /* sink endpoint */
    op(&s, FUZZ_OP_DEVICE, 0x50, 1500);
    op(&s, FUZZ_OP_DEVICE + 1, 0, 3);           /* RX limit 3 */
    op(&s, FUZZ_OP_DEVICE, 0, 64);
    op(&s, FUZZ_OP_DEVICE, 0, 64);
    op(&s, FUZZ_OP_DEVICE, 0, 64);
    op(&s, FUZZ_OP_DEVICE, 0, 64);
    op(&s, FUZZ_OP_SAVELOAD, 0, 0);
    op(&s, FUZZ_OP_PUBLISH, 0, 0);
    op(&s, FUZZ_OP_DEVICE + 2, 0, 0);           /* link down */
    op(&s, FUZZ_OP_PUBLISH, 0, 1);
    op(&s, FUZZ_OP_DEVICE + 2, 1, 0);
    op(&s, FUZZ_OP_READ, 0x40, 0x1);            /* config: MAC */
    op(&s, FUZZ_OP_LOADBAD, 1, 120);
    emit(dir, "virtio_net", "rx-tx", &s);
}

/* PFN arrays for the balloon: 64 KiB of RAM is 16 pages, so PFNs 0-15 are
 * good and the rest are counted as bad. */
static void pfns(struct seed *s, uint64_t at, const uint32_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        put_le32(s->mem + at + 4 * i, v[i]);
    touch(s, at + 4 * n);
}

static void gen_balloon(const char *dir)
{
    static struct seed s;
    memset(&s, 0, sizeof(s));
    op(&s, FUZZ_OP_DEVICE, 0, 8);               /* target 8 pages before the driver */
    op(&s, FUZZ_OP_SETUP, 0, 3);                /* inflate queue, 8 entries */
    op(&s, FUZZ_OP_SETUP, 1, 3);                /* deflate queue, 8 entries */
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    op(&s, FUZZ_OP_READ, VIRTIO_MMIO_CONFIG / 4, 2);        /* num_pages */
    op(&s, FUZZ_OP_READ, VIRTIO_MMIO_CONFIG / 4 + 1, 2);    /* actual */
    static const uint32_t in1[4] = {4, 5, 6, 7};
    static const uint32_t in2[5] = {8, 9, 0x10, 0xffffffffu, 10};    /* two bad */
    static const uint32_t out1[2] = {5, 7};
    pfns(&s, 0x4000, in1, 4);
    pfns(&s, 0x4100, in2, 5);
    pfns(&s, 0x4200, out1, 2);
    desc(&s, 0, 0, 0x4000, 16, 0, 0);
    desc(&s, 0, 1, 0x4100, 8, N, 2);            /* a two-buffer chain */
    desc(&s, 0, 2, 0x4108, 12, 0, 0);
    desc(&s, 1, 0, 0x4200, 8, 0, 0);
    uint16_t heads[2] = {0, 1};
    avail(&s, 0, 8, heads, 2);
    op(&s, FUZZ_OP_ACK, 0, 1);
    avail(&s, 1, 8, heads, 1);
    op(&s, FUZZ_OP_SAVELOAD, 0, 0);
    op(&s, FUZZ_OP_DEVICE, 0, 2);               /* shrink the target: config interrupt */
    op(&s, FUZZ_OP_READ, VIRTIO_MMIO_CONFIG_GENERATION / 4, 2);
    op(&s, FUZZ_OP_ACK, 0, 3);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_CONFIG / 4 + 1, 99);  /* ignored */
    op(&s, FUZZ_OP_DEVICE, 1, 0x01000000);      /* above 2^32: saturates */
    op(&s, FUZZ_OP_LOADBAD, 3, 90);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_STATUS / 4, 0);       /* reset: balloon empties */
    op(&s, FUZZ_OP_SETUP, 0, 3);
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    op(&s, FUZZ_OP_PUBLISH, 0, 0);
    emit(dir, "virtio_balloon", "inflate-deflate", &s);

    /* Malformed requests: a writable buffer, a length that is not a
     * multiple of 4; the device fails until the driver resets it. */
    memset(&s, 0, sizeof(s));
    op(&s, FUZZ_OP_SETUP, 0, 2);
    op(&s, FUZZ_OP_SETUP, 1, 2);
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    pfns(&s, 0x4000, in1, 4);
    desc(&s, 0, 0, 0x4000, 16, W, 0);
    desc(&s, 1, 0, 0x4000, 6, 0, 0);
    uint16_t h0 = 0;
    avail(&s, 0, 4, &h0, 1);
    op(&s, FUZZ_OP_WRITE, VIRTIO_MMIO_STATUS / 4, 0);
    op(&s, FUZZ_OP_SETUP, 0, 2);
    op(&s, FUZZ_OP_SETUP, 1, 2);
    op(&s, FUZZ_OP_DRIVER_OK, 0, 0);
    avail(&s, 1, 4, &h0, 1);
    op(&s, FUZZ_OP_SAVELOAD, 0, 0);
    emit(dir, "virtio_balloon", "malformed", &s);
}

/* ---- fuzz_legacy: byte 0 board, then (opcode, port index or arg, value,
 * time step) per operation (fuzz_legacy.c). ---- */

struct lseed {
    uint8_t b[4096];
    size_t len;
};

/* The time step byte closest to (not above) ns: (t & 31) << (5 * (t >> 5)). */
static uint8_t enc_dt(uint64_t ns)
{
    for (unsigned e = 0; e < 8; e++)
        if ((ns >> (5 * e)) < 32)
            return (uint8_t)(e << 5 | (ns >> (5 * e)));
    return 0xff;
}

static void lop(struct lseed *s, uint8_t code, uint8_t arg, uint8_t val, uint64_t dt_ns)
{
    uint8_t *p = s->b + s->len;
    p[0] = code;
    p[1] = arg;
    p[2] = val;
    p[3] = enc_dt(dt_ns);
    s->len += 4;
}

static uint8_t pidx(uint16_t port)
{
    int i = leg_port_index(port);
    if (i < 0)
        abort();
    return (uint8_t)i;
}

static void out(struct lseed *s, uint16_t port, uint8_t val)
{
    lop(s, LEG_WRITE, pidx(port), val, 200);
}

static void in(struct lseed *s, uint16_t port)
{
    lop(s, LEG_READ, pidx(port), 0, 200);
}

static void lemit(const char *dir, const char *name, uint8_t board, const struct lseed *s)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/legacy/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(&board, 1, 1, f);
    fwrite(s->b, 1, s->len, f);
    fclose(f);
}

/* Linux's init_8259A: ICW1-4 on both chips, vectors 0x30/0x38, masks. */
static void pic_linux_init(struct lseed *s, bool auto_eoi)
{
    out(s, 0x21, 0xff);
    out(s, 0xa1, 0xff);
    out(s, 0x20, 0x11);
    out(s, 0x21, 0x30);
    out(s, 0x21, 0x04);
    out(s, 0x21, auto_eoi ? 0x03 : 0x01);
    out(s, 0xa0, 0x11);
    out(s, 0xa1, 0x38);
    out(s, 0xa1, 0x02);
    out(s, 0xa1, 0x01);
    out(s, 0x21, 0xe8);         /* IRQ0, 1, 2 (cascade) and 4 open */
    out(s, 0xa1, 0xfe);         /* IRQ8 open */
}

static void gen_legacy(const char *dir)
{
    static struct lseed s;

    /* A Linux boot in miniature: PIC, PIT tick, TSC calibration on channel
     * 2, the 8250 driver's probe and some traffic, the RTC read at boot and
     * hwclock --systohc, then a snapshot round trip and corrupted loads. */
    memset(&s, 0, sizeof(s));
    pic_linux_init(&s, false);
    out(&s, 0x43, 0x34);        /* channel 0, LSB then MSB, mode 2 */
    out(&s, 0x40, 0xa9);
    out(&s, 0x40, 0x04);        /* 1193: 1 kHz */
    for (int i = 0; i < 3; i++) {
        lop(&s, LEG_HLT, 0, 0, 0);
        lop(&s, LEG_INTA, 0, 0, 100);
        out(&s, 0x20, 0x20);    /* EOI */
    }
    out(&s, 0x43, 0x00);        /* latch channel 0 */
    in(&s, 0x40);
    in(&s, 0x40);
    out(&s, 0x43, 0xc2);        /* read-back: count and status of channel 0 */
    in(&s, 0x40);
    in(&s, 0x40);
    in(&s, 0x40);
    out(&s, 0x61, 0x01);        /* channel 2 gate on, speaker off */
    out(&s, 0x43, 0xb0);        /* channel 2, LSB then MSB, mode 0 */
    out(&s, 0x42, 0xff);
    out(&s, 0x42, 0xff);
    for (int i = 0; i < 4; i++)
        lop(&s, LEG_READ, pidx(0x61), 0, 20000000);
    out(&s, 0x61, 0x00);
    /* 8250 probe and setup. */
    out(&s, 0x3fc, 0x10);       /* loopback test */
    in(&s, 0x3fe);
    out(&s, 0x3fc, 0x1f);
    in(&s, 0x3fe);
    out(&s, 0x3fc, 0x00);
    out(&s, 0x3fb, 0x80);       /* DLAB */
    out(&s, 0x3f8, 0x01);
    out(&s, 0x3f9, 0x00);
    out(&s, 0x3fb, 0x03);       /* 8N1 */
    out(&s, 0x3fa, 0xc7);       /* FIFO on, cleared, trigger 14 */
    in(&s, 0x3fa);
    out(&s, 0x3fc, 0x0b);       /* DTR, RTS, OUT2 */
    out(&s, 0x3f9, 0x0f);       /* every interrupt */
    in(&s, 0x3fa);
    out(&s, 0x3f8, 'h');
    out(&s, 0x3f8, 'i');
    lop(&s, LEG_HOST_RX, 'a', 5, 1000);
    lop(&s, LEG_INTA, 0, 0, 100);
    in(&s, 0x3fa);
    in(&s, 0x3fd);
    for (int i = 0; i < 5; i++)
        in(&s, 0x3f8);
    in(&s, 0x3fa);
    in(&s, 0x3fe);
    out(&s, 0x20, 0x20);
    lop(&s, LEG_ECHO, 1, 0, 0);
    out(&s, 0x3f8, 'x');
    in(&s, 0x3f8);
    lop(&s, LEG_HOST_RX, '0', 23, 0);
    /* RTC at boot: wait for UIP to clear, read the time. */
    static const uint8_t regs[] = {0x0a, 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32, 0x0b,
                                   0x0d, 0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5b};
    for (size_t i = 0; i < sizeof(regs); i++) {
        out(&s, 0x70, regs[i]);
        lop(&s, LEG_READ, pidx(0x71), 0, 999000000);
    }
    /* hwclock --systohc: SET, write the time, release. */
    out(&s, 0x70, 0x0b);
    out(&s, 0x71, 0x82);
    out(&s, 0x70, 0x00);
    out(&s, 0x71, 0x30);
    out(&s, 0x70, 0x04);
    out(&s, 0x71, 0x23);
    out(&s, 0x70, 0x07);
    out(&s, 0x71, 0x31);
    out(&s, 0x70, 0x0b);
    out(&s, 0x71, 0x02);
    out(&s, 0x70, 0x8f);        /* NMI off, NVRAM */
    out(&s, 0x71, 0x5a);
    in(&s, 0x71);
    lop(&s, LEG_SAVELOAD, 0, 0, 0);
    for (uint8_t d = 0; d < 4; d++) {
        lop(&s, LEG_LOADBAD, d, 3, 0);              /* flip a byte */
        lop(&s, LEG_LOADBAD, (uint8_t)(d | 12), 7, 0);  /* truncate */
    }
    lop(&s, LEG_IRQ, 3, 1, 0);                      /* IRQ5 from a virtio device */
    lop(&s, LEG_JUMP, 6, 200, 0);                   /* about 200 ms owed */
    lop(&s, LEG_RTC_SHIFT, 12, 0xf0, 0);
    lop(&s, LEG_INTA, 0, 0, 0);
    in(&s, 0x20);
    out(&s, 0x20, 0x0b);                            /* OCW3: read ISR */
    in(&s, 0x20);
    lemit(dir, "linux-boot", 0, &s);

    /* Every PIT mode and access mode, on channels 0 and 2, with the gate,
     * latches, read-back and counts of 0 (65536), 1 and 2. */
    memset(&s, 0, sizeof(s));
    pic_linux_init(&s, true);
    static const uint8_t counts[] = {0x00, 0x01, 0x02, 0x03, 0x10};
    for (uint8_t mode = 0; mode < 6; mode++) {
        out(&s, 0x43, (uint8_t)(0x30 | mode << 1));         /* channel 0 */
        out(&s, 0x40, counts[mode % 5]);
        out(&s, 0x40, mode == 2 ? 0x00 : 0x01);
        lop(&s, LEG_HLT, 0, 0, 900);
        lop(&s, LEG_INTA, 0, 0, 0);
        out(&s, 0x43, (uint8_t)(0xb0 | mode << 1));         /* channel 2 */
        out(&s, 0x42, counts[(mode + 1) % 5]);
        out(&s, 0x42, 0x00);
        out(&s, 0x61, 0x01);
        in(&s, 0x61);
        out(&s, 0x61, 0x00);
        lop(&s, LEG_READ, pidx(0x61), 0, 5000);
        out(&s, 0x61, 0x03);
        out(&s, 0x43, 0xe8);    /* read-back: count of channel 2 */
        out(&s, 0x43, 0xd8);    /* read-back: status of channel 2 */
        in(&s, 0x42);
        in(&s, 0x42);
        in(&s, 0x42);
    }
    out(&s, 0x43, 0x14);        /* channel 0, LSB only, mode 2 */
    out(&s, 0x40, 0x02);
    lop(&s, LEG_JUMP, 3, 100, 0);
    out(&s, 0x43, 0x26);        /* MSB only, mode 3 */
    out(&s, 0x40, 0x01);
    in(&s, 0x40);
    out(&s, 0x43, 0x36);        /* mode 3, count 3 (odd) */
    out(&s, 0x40, 0x03);
    out(&s, 0x40, 0x00);
    lop(&s, LEG_HLT, 0, 0, 0);
    out(&s, 0x43, 0x30);        /* mode 0: the first byte stops the count */
    out(&s, 0x40, 0x50);
    lop(&s, LEG_READ, pidx(0x40), 0, 3000);
    out(&s, 0x40, 0x00);
    out(&s, 0x43, 0x3e);        /* mode 7 aliases 3 */
    out(&s, 0x40, 0xff);
    out(&s, 0x40, 0xff);
    lop(&s, LEG_SAVELOAD, 0, 0, 0);
    lop(&s, LEG_LOADBAD, 1, 40, 0);
    lop(&s, LEG_LOADBAD, 5, 22, 0);
    lemit(dir, "pit-modes", 0, &s);

    /* UART: loopback with overrun, FIFO modes and trigger levels, modem
     * status, DLAB, host input with FIFOs off. */
    memset(&s, 0, sizeof(s));
    pic_linux_init(&s, false);
    out(&s, 0x3fc, 0x1b);       /* loopback, OUT2 */
    out(&s, 0x3f9, 0x0f);
    for (int i = 0; i < 3; i++)
        out(&s, 0x3f8, (uint8_t)i);     /* FIFOs off: the second overruns */
    in(&s, 0x3fd);
    in(&s, 0x3fe);
    out(&s, 0x3fa, 0x41);       /* FIFO on, trigger 4 */
    for (int i = 0; i < 18; i++)
        out(&s, 0x3f8, (uint8_t)('A' + i));
    in(&s, 0x3fa);
    in(&s, 0x3fd);
    out(&s, 0x3fa, 0x81);
    out(&s, 0x3fa, 0xc3);
    out(&s, 0x3fc, 0x0f);       /* loopback off */
    in(&s, 0x3fe);
    lop(&s, LEG_HOST_RX, 'k', 20, 0);
    in(&s, 0x3fa);
    for (int i = 0; i < 16; i++)
        in(&s, 0x3f8);
    out(&s, 0x3fa, 0x00);       /* FIFOs off */
    lop(&s, LEG_HOST_RX, 'z', 3, 0);
    in(&s, 0x3f8);
    in(&s, 0x3f8);
    out(&s, 0x3fb, 0x83);
    out(&s, 0x3f9, 0x55);
    in(&s, 0x3f9);
    out(&s, 0x3fb, 0x03);
    out(&s, 0x3ff, 0xa5);
    in(&s, 0x3ff);
    out(&s, 0x3f9, 0x00);
    out(&s, 0x3f9, 0x02);       /* THRE on IER enable */
    lop(&s, LEG_INTA, 0, 0, 0);
    in(&s, 0x3fa);
    lop(&s, LEG_SAVELOAD, 0, 0, 0);
    lop(&s, LEG_LOADBAD, 2, 20, 0);
    lop(&s, LEG_LOADBAD, 6, 23, 0);
    lemit(dir, "uart", 0, &s);

    /* CMOS in binary and 12-hour formats, fields out of range while SET,
     * an epoch near the end of year 9999, clock faults, the UIP window. */
    memset(&s, 0, sizeof(s));
    out(&s, 0x70, 0x0b);
    out(&s, 0x71, 0x04);        /* binary, 12 hour */
    for (size_t i = 0; i < 9; i++) {
        out(&s, 0x70, regs[i]);
        in(&s, 0x71);
    }
    out(&s, 0x70, 0x04);
    out(&s, 0x71, 0x8b);        /* 11 PM */
    out(&s, 0x70, 0x0b);
    out(&s, 0x71, 0x86);        /* SET, binary, 24 hour */
    out(&s, 0x70, 0x07);
    out(&s, 0x71, 32);          /* day 32 */
    out(&s, 0x70, 0x08);
    out(&s, 0x71, 13);          /* month 13 */
    out(&s, 0x70, 0x0b);
    out(&s, 0x71, 0x06);
    out(&s, 0x70, 0x0a);
    lop(&s, LEG_READ, pidx(0x71), 0, 999800000);
    lop(&s, LEG_READ, pidx(0x71), 0, 100000);
    out(&s, 0x71, 0xa6);
    lop(&s, LEG_RTC_SHIFT, 40, 0x7f, 0);
    out(&s, 0x70, 0x09);
    in(&s, 0x71);
    lop(&s, LEG_RTC_SHIFT, 55, 0x80, 0);
    in(&s, 0x71);
    out(&s, 0x70, 0x32);
    out(&s, 0x71, 0x63);
    lop(&s, LEG_SAVELOAD, 0, 0, 0);
    lop(&s, LEG_LOADBAD, 3, 60, 0);
    lop(&s, LEG_LOADBAD, 7, 140, 0);
    lemit(dir, "cmos", 2 | 2 << 2, &s);

    /* PIC modes: level-triggered lines, auto-EOI with rotation, special
     * mask, poll, special fully nested, single mode, priority rotation, a
     * slave request lost before INTA (spurious IRQ15). */
    memset(&s, 0, sizeof(s));
    pic_linux_init(&s, true);
    out(&s, 0x4d0, 0xff);       /* level for IRQ3-7 */
    out(&s, 0x4d1, 0xff);
    lop(&s, LEG_IRQ, 2, 1, 0);  /* IRQ3 high */
    lop(&s, LEG_IRQ, 6, 1, 0);  /* IRQ8 */
    lop(&s, LEG_IRQ, 7, 1, 0);  /* IRQ9 */
    out(&s, 0x21, 0x00);
    out(&s, 0xa1, 0x00);
    out(&s, 0x20, 0x80);        /* rotate in auto-EOI */
    lop(&s, LEG_INTA, 0, 0, 0);
    lop(&s, LEG_INTA, 0, 0, 0);
    out(&s, 0x20, 0x0c);        /* poll */
    in(&s, 0x20);
    out(&s, 0xa0, 0x0c);
    in(&s, 0xa0);
    out(&s, 0x20, 0x68);        /* special mask on */
    out(&s, 0x20, 0xc3);        /* IRQ3 lowest */
    lop(&s, LEG_IRQ, 2, 0, 0);
    out(&s, 0x20, 0x11);        /* re-init with ICW4: SFNM, no auto-EOI */
    out(&s, 0x21, 0x30);
    out(&s, 0x21, 0x04);
    out(&s, 0x21, 0x11);
    out(&s, 0x21, 0x00);
    lop(&s, LEG_IRQ, 9, 1, 0);  /* IRQ12 */
    lop(&s, LEG_INTA, 0, 0, 0);
    lop(&s, LEG_IRQ, 11, 1, 0); /* IRQ14 */
    lop(&s, LEG_INTA, 0, 0, 0);
    out(&s, 0xa0, 0x20);
    out(&s, 0x20, 0x62);        /* specific EOI 2 */
    out(&s, 0x4d1, 0x00);       /* slave edge again */
    lop(&s, LEG_IRQ, 12, 1, 0); /* IRQ15 edge */
    out(&s, 0xa1, 0xff);        /* masked before the INTA: lost */
    lop(&s, LEG_INTA, 1, 0, 0);
    out(&s, 0xa0, 0x13);        /* single mode slave */
    out(&s, 0xa1, 0x70);
    out(&s, 0xa1, 0x00);
    out(&s, 0x20, 0xe7);        /* rotate on specific EOI 7 */
    out(&s, 0x20, 0xa0);        /* rotate on non-specific EOI */
    out(&s, 0x20, 0x0a);        /* read IRR */
    in(&s, 0x20);
    in(&s, 0x4d0);
    lop(&s, LEG_INTA, 1, 0, 0); /* spurious IRQ7 */
    lop(&s, LEG_SAVELOAD, 0, 0, 0);
    lop(&s, LEG_LOADBAD, 0, 5, 0);
    lop(&s, LEG_LOADBAD, 4, 9, 0);
    lop(&s, LEG_LOADBAD, 8, 0, 0);                  /* PIC version */
    lop(&s, LEG_LOADBAD, 0x80 | 0x10 | 1, 25, 0);   /* PIT write_lsb changed, kept */
    lop(&s, LEG_HLT, 0, 0, 0);
    lop(&s, LEG_INTA, 0, 0, 0);
    lemit(dir, "pic-modes", 1 | 1 << 2, &s);
}

/* ---- fuzz_snapshot_file: a small snapshot made from a real one. ---- */

#define SNAP_TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | \
                              (uint32_t)(d) << 24)

static void put_section(FILE *f, uint32_t tag, const void *p, uint64_t len, XXH3_state_t *h)
{
    uint8_t hdr[12];
    put_le32(hdr, tag);
    put_le64(hdr + 4, len);
    fwrite(hdr, 1, 12, f);
    fwrite(p, 1, (size_t)len, f);
    XXH3_64bits_update(h, hdr, 12);
    XXH3_64bits_update(h, p, (size_t)len);
}

/* The same snapshot with `pages` pages of RAM: the configuration's memory
 * size and the memory section change (pages beyond the new size are
 * dropped), the state sections are copied. Small files load fast, so the
 * fuzzer gets many more executions per second from them. */
static void gen_small_snapshot(const char *dir, const char *src, uint64_t pages, const char *name)
{
    FILE *f = fopen(src, "rb");
    if (!f) {
        perror(src);
        exit(1);
    }
    static uint8_t d[8 << 20];
    size_t len = fread(d, 1, sizeof(d), f);
    fclose(f);
    char path[512];
    snprintf(path, sizeof(path), "%s/snapshot_file/%s", dir, name);
    FILE *o = fopen(path, "wb");
    if (!o || len < 36 || memcmp(d, "CCSNAPSH", 8)) {
        fprintf(stderr, "gen_corpus: cannot make %s from %s\n", path, src);
        exit(1);
    }
    XXH3_state_t *h = XXH3_createState();
    XXH3_64bits_reset(h);
    fwrite(d, 1, 16, o);
    XXH3_64bits_update(h, d, 16);
    uint64_t old_n = 0;
    for (size_t pos = 16; pos + 12 <= len - 20;) {
        uint32_t tag = le32(d + pos);
        uint64_t slen = le64(d + pos + 4);
        const uint8_t *p = d + pos + 12;
        pos += 12 + slen;
        if (tag == SNAP_TAG('C', 'O', 'N', 'F')) {
            static uint8_t conf[512];
            memcpy(conf, p, slen);
            put_le64(conf + 1, pages * 4096);
            put_section(o, tag, conf, slen, h);
        } else if (tag == SNAP_TAG('M', 'E', 'M', ' ')) {
            old_n = le64(p);
            size_t words = (size_t)((old_n + 63) / 64), nwords = (size_t)((pages + 63) / 64);
            const uint8_t *bm = p + 8;
            uint64_t zlen = le64(bm + 8 * words);
            static uint8_t ram[64 << 20], z[1 << 20], out[1 << 20];
            /* Decompress the stored pages in order, keep those that fit. */
            ZSTD_DCtx *dc = ZSTD_createDCtx();
            ZSTD_inBuffer in = {bm + 8 * words + 8, (size_t)zlen, 0};
            size_t kept = 0;
            static uint64_t nbm[1 << 14];
            memset(nbm, 0, sizeof(nbm));
            for (uint64_t pg = 0; pg < old_n && pg < sizeof(ram) / 4096; pg++) {
                if (!(le64(bm + 8 * (pg / 64)) >> (pg % 64) & 1))
                    continue;
                ZSTD_outBuffer ob = {ram + kept * 4096, 4096, 0};
                while (ob.pos < 4096)
                    if (ZSTD_isError(ZSTD_decompressStream(dc, &ob, &in)))
                        exit(1);
                if (pg < pages) {
                    nbm[pg / 64] |= 1ull << (pg % 64);
                    kept++;
                }
            }
            ZSTD_freeDCtx(dc);
            size_t zl = ZSTD_compress(z, sizeof(z), ram, kept * 4096, 1);
            if (ZSTD_isError(zl))
                exit(1);
            size_t n = 0;
            put_le64(out, pages);
            n += 8;
            for (size_t i = 0; i < nwords; i++, n += 8)
                put_le64(out + n, nbm[i]);
            put_le64(out + n, zl);
            n += 8;
            memcpy(out + n, z, zl);
            n += zl;
            put_section(o, tag, out, n, h);
        } else {
            put_section(o, tag, p, slen, h);
        }
    }
    uint8_t end[20];
    put_le32(end, SNAP_TAG('E', 'N', 'D', ' '));
    put_le64(end + 4, 8);
    put_le64(end + 12, XXH3_64bits_digest(h));
    fwrite(end, 1, 20, o);
    XXH3_freeState(h);
    fclose(o);
    if (!old_n)
        exit(1);
}

/* ---- SDK mailbox seeds (fuzz_sdk_mailbox.c's format) ---- */

struct sseed {
    uint8_t ops[64][3];
    unsigned nops;
    uint8_t pool[8 * 4096];
    size_t plen;
};

static void sop(struct sseed *s, uint8_t kind, uint8_t idx, uint8_t arg)
{
    s->ops[s->nops][0] = kind;
    s->ops[s->nops][1] = idx;
    s->ops[s->nops][2] = arg;
    s->nops++;
}

/* a request in mailbox idx: op, args, payload; then its doorbell */
static void request(struct sseed *s, uint8_t idx, uint8_t op, uint64_t a0, uint64_t a1,
                    uint64_t a2, const void *data, uint32_t len)
{
    uint8_t mb[4096] = {0};
    memcpy(mb + 8, &len, 4);
    memcpy(mb + 16, &a0, 8);
    memcpy(mb + 24, &a1, 8);
    memcpy(mb + 32, &a2, 8);
    memcpy(mb + 64, data, len);
    memcpy(s->pool + s->plen, mb, sizeof(mb));
    s->plen += sizeof(mb);
    sop(s, 1, idx, op);
    sop(s, 0, idx, 0);
}

static void semit(const char *dir, const char *name, const struct sseed *s)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/sdk_mailbox/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    uint8_t n = (uint8_t)s->nops;
    fwrite(&n, 1, 1, f);
    fwrite(s->ops, 3, s->nops, f);
    fwrite(s->pool, 1, s->plen, f);
    fclose(f);
}

static void gen_sdk(const char *dir)
{
    struct sseed s;
    memset(&s, 0, sizeof(s));
    request(&s, 0, CC_OP_PING, 0, 0, 0, "", 0);
    request(&s, 1, CC_OP_HELLO, 42, 0, 0, "server", 6);
    semit(dir, "ping-hello", &s);

    /* a catalog of two entries, then an ALWAYS that fails and a SOMETIMES */
    memset(&s, 0, sizeof(s));
    uint8_t cat[256] = {0};
    size_t o = 0;
    const char *msgs[2] = {"balance never negative", "leader elected"};
    for (unsigned i = 0; i < 2; i++) {
        struct cc_proto_catrec r = {0x1111 * (i + 1), i ? CC_KIND_SOMETIMES : CC_KIND_ALWAYS,
                                    10 + i, (uint16_t)strlen(msgs[i]), 6, 4, 0};
        memcpy(cat + o, &r, sizeof(r));
        o += sizeof(r);
        memcpy(cat + o, msgs[i], strlen(msgs[i]));
        o += strlen(msgs[i]);
        memcpy(cat + o, "main.c", 6);
        o += 6;
        memcpy(cat + o, "main", 4);
        o += 4;
        o = (o + 7) & ~(size_t)7;
    }
    request(&s, 0, CC_OP_CATALOG, 2, 0, 0, cat, (uint32_t)o);
    request(&s, 1, CC_OP_ASSERT, 0x1111, CC_KIND_ALWAYS << 8, 0, "{\"b\":-1}", 8);
    request(&s, 2, CC_OP_ASSERT, 0x2222, CC_ASSERT_COND | CC_KIND_SOMETIMES << 8, 0, "", 0);
    sop(&s, 4, 0, 0);
    sop(&s, 3, 0, 0);
    semit(dir, "catalog-assert", &s);

    /* random values, guidance, events, setup, staged payload, JSON */
    memset(&s, 0, sizeof(s));
    sop(&s, 5, 0, 0x13);
    request(&s, 0, CC_OP_RANDOM, CC_RAND_CHOICE, 7, 0, "", 0);
    request(&s, 1, CC_OP_RANDOM, CC_RAND_BYTES, 40, 0, "", 0);
    request(&s, 2, CC_OP_GUIDANCE, 99, 1, 0, "queue depth", 11);
    static const char ev[] = "started\0{\"n\":1}";
    request(&s, 3, CC_OP_EVENT, 0, 0, 0, ev, sizeof(ev) - 1);
    static const char js[] = "{\"antithesis_assert\":{\"display_type\":\"Always\","
        "\"message\":\"m\",\"condition\":false,\"location\":{\"file\":\"f\",\"begin_line\":1}}}";
    request(&s, 0, CC_OP_APPEND, 0, 0, 0, "{\"antithesis_setup\":", 20);
    request(&s, 0, CC_OP_JSON, 0, 0, 0, js, sizeof(js) - 1);
    request(&s, 1, CC_OP_SETUP, 0, 0, 0, "{}", 2);
    sop(&s, 4, 0, 0);
    sop(&s, 3, 0, 0);
    semit(dir, "random-guidance-json", &s);
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: gen_corpus DIR [SNAPSHOT_FILE]\n");
        return 2;
    }
    gen_virtqueue(argv[1]);
    gen_rng(argv[1]);
    gen_blk(argv[1]);
    gen_net(argv[1]);
    gen_balloon(argv[1]);
    gen_legacy(argv[1]);
    gen_sdk(argv[1]);
    if (argc == 3)
        gen_small_snapshot(argv[1], argv[2], 512, "small-2mib");
    return 0;
}
