/* Writes the seed corpus for the virtio fuzz targets:
 *
 *   gen_corpus DIR      (DIR/virtqueue, DIR/virtio_rng, ... must exist)
 *
 * Each seed is a small, valid session in the fuzz_common.h format: the
 * handshake, queues at the standard places, descriptor chains laid out in
 * guest RAM, notifications, and target-specific operations (faults, frame
 * injection, save/load), so that mutations start deep inside the device
 * code. Regenerate after changing the input format:
 *   build-fuzz/fuzz/gen_corpus fuzz/corpus */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio_blk.h"
#include "devices/virtqueue.h"
#include "fuzz_common.h"

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
    cc_put_le32(p + 2, val);
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
    cc_put_le64(d, addr);
    cc_put_le32(d + 8, len);
    cc_put_le16(d + 12, flags);
    cc_put_le16(d + 14, next);
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
    cc_put_le32(s->mem + hdr, type);
    cc_put_le64(s->mem + hdr + 8, sector);
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
    cc_put_le32(s.mem + 0x4000, VIRTIO_BLK_T_OUT);
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

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    gen_virtqueue(argv[1]);
    gen_rng(argv[1]);
    gen_blk(argv[1]);
    gen_net(argv[1]);
    return 0;
}
