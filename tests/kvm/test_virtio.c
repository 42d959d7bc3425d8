/* Tiny-guest tests of the virtio-mmio devices through real MMIO exits: the
 * guest maps the device windows at 0xd0000000, does the handshake, builds
 * split virtqueues in its own memory, notifies, takes the interrupt through
 * the PIC and acknowledges it. rng: the bytes equal the host's (seed,
 * "virtio-rng0") stream; a malformed chain fails the device (the guest sees
 * DEVICE_NEEDS_RESET and a config interrupt) and a reset recovers it. blk:
 * write/read back, GET_ID, FLUSH, and every fault kind observed from inside
 * the guest. net: a frame out to the host endpoint and the host's reply
 * back in. Also the slot, IRQ and command-line assignment. */
#include <errno.h>
#include <linux/kvm.h>

#include "chaoscontrol/virtio.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_mmio.h"
#include "kvmtest.h"
#include "tap.h"
#include "util/rng.h"
#include "vmm/vm_internal.h"
#include "vmm/vm_virtio.h"

#define VBASE 0xd0000000ull
#define RINGS 0x3000000ull      /* guest RAM used for rings (identity mapped) */
#define BUFS  0x3100000ull      /* and for buffers */
#define HI_PD 0x2fff000ull      /* page directory mapping 3-4 GiB */

/* ---- guest side ---- */

static volatile uint64_t g_irq_base;
static volatile uint32_t g_last_isr;

KT_INLINE uint32_t mr(uint64_t a) { return *(volatile uint32_t *)a; }
KT_INLINE void mw(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
KT_INLINE uint8_t mr8(uint64_t a) { return *(volatile uint8_t *)a; }

struct gvq {
    uint64_t base, desc, avail, used;
    uint16_t qi, num, aidx, useen;
};

GUEST_CODE static void gfill(uint64_t a, uint64_t n, uint8_t v)
{
    volatile uint8_t *p = (volatile uint8_t *)a;
    for (uint64_t i = 0; i < n; i++)
        p[i] = v;
}

/* Interrupt hook: what Linux's vm_interrupt does, then EOI. */
GUEST_CODE static void virtio_hook(uint64_t vector)
{
    uint64_t b = g_irq_base;
    if (b) {
        uint32_t isr = mr(b + VIRTIO_MMIO_INTERRUPT_STATUS);
        g_last_isr = isr;
        mw(b + VIRTIO_MMIO_INTERRUPT_ACK, isr);
    }
    if (vector >= 0x28)
        kt_outb(0xa0, 0x20);
    kt_outb(0x20, 0x20);
}

GUEST_CODE static void wait_irq(unsigned vec, uint64_t before)
{
    while (kt_irq_count[vec] == before)
        kt_sti_hlt();
    kt_cli();
}

/* Reset, ACK, DRIVER, features, FEATURES_OK; returns the status read back. */
GUEST_CODE static uint32_t g_init(uint64_t base, uint32_t lo, uint32_t hi)
{
    mw(base + VIRTIO_MMIO_STATUS, 0);
    mw(base + VIRTIO_MMIO_STATUS, 1);
    mw(base + VIRTIO_MMIO_STATUS, 3);
    mw(base + VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    mw(base + VIRTIO_MMIO_DRIVER_FEATURES, lo);
    mw(base + VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    mw(base + VIRTIO_MMIO_DRIVER_FEATURES, hi);
    mw(base + VIRTIO_MMIO_STATUS, 11);
    return mr(base + VIRTIO_MMIO_STATUS);
}

GUEST_CODE static void g_queue(uint64_t base, struct gvq *q, uint16_t qi, uint64_t at, uint16_t num)
{
    gfill(at, 0x1000, 0);
    q->base = base;
    q->qi = qi;
    q->desc = at;
    q->avail = at + 16ull * num;
    q->used = at + 0x800;
    q->num = num;
    q->aidx = q->useen = 0;
    mw(base + VIRTIO_MMIO_QUEUE_SEL, qi);
    mw(base + VIRTIO_MMIO_QUEUE_NUM, num);
    mw(base + VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
    mw(base + VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
    mw(base + VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)q->avail);
    mw(base + VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
    mw(base + VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)q->used);
    mw(base + VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
    mw(base + VIRTIO_MMIO_QUEUE_READY, 1);
}

GUEST_CODE static void g_desc(struct gvq *q, uint16_t i, uint64_t addr, uint32_t len,
                              uint16_t flags, uint16_t next)
{
    uint64_t d = q->desc + 16ull * i;
    *(volatile uint64_t *)d = addr;
    *(volatile uint32_t *)(d + 8) = len;
    *(volatile uint16_t *)(d + 12) = flags;
    *(volatile uint16_t *)(d + 14) = next;
}

GUEST_CODE static void g_publish(struct gvq *q, uint16_t head)
{
    *(volatile uint16_t *)(q->avail + 4 + 2ull * (q->aidx % q->num)) = head;
    q->aidx++;
    *(volatile uint16_t *)(q->avail + 2) = q->aidx;
}

GUEST_CODE static int g_used(struct gvq *q, uint32_t *id, uint32_t *len)
{
    if (*(volatile uint16_t *)(q->used + 2) == q->useen)
        return 0;
    uint64_t e = q->used + 4 + 8ull * (q->useen % q->num);
    *id = *(volatile uint32_t *)e;
    *len = *(volatile uint32_t *)(e + 4);
    q->useen++;
    return 1;
}

/* Notify and wait for the device's interrupt. */
GUEST_CODE static void g_kick_wait(struct gvq *q, unsigned vec)
{
    uint64_t n = kt_irq_count[vec];
    mw(q->base + VIRTIO_MMIO_QUEUE_NOTIFY, q->qi);
    wait_irq(vec, n);
}

GUEST_CODE static void guest_rng(uint64_t arg)
{
    (void)arg;
    uint64_t base = VBASE;
    GUEST_ASSERT_EQ(mr(base + VIRTIO_MMIO_MAGIC_VALUE), VIRTIO_MMIO_MAGIC);
    GUEST_ASSERT_EQ(mr(base + VIRTIO_MMIO_VERSION), 2);
    GUEST_ASSERT_EQ(mr(base + VIRTIO_MMIO_DEVICE_ID), 4);
    uint32_t st = g_init(base, 0, 0);
    GUEST_ASSERT_EQ(st & VIRTIO_STATUS_FEATURES_OK, 0);     /* no VERSION_1: refused */
    st = g_init(base, 0, 1);
    GUEST_ASSERT_EQ(st & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
    struct gvq q;
    g_queue(base, &q, 0, RINGS, 8);
    mw(base + VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
    g_irq_base = base;
    kt_irq_hook = virtio_hook;
    kt_pic_init(0xdf, 0xff);           /* IRQ5 only */

    g_desc(&q, 0, BUFS, 32, CC_VRING_DESC_F_WRITE, 0);
    g_publish(&q, 0);
    g_kick_wait(&q, 0x25);
    GUEST_ASSERT_EQ(g_last_isr, VIRTIO_INT_USED);
    GUEST_ASSERT_EQ(mr(base + VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    uint32_t id = 99, len = 0;
    GUEST_ASSERT(g_used(&q, &id, &len));
    GUEST_ASSERT_EQ(id, 0);
    GUEST_SYNC2(BUFS, len);

    /* A chain pointing past RAM: the device fails, the guest is told. */
    g_desc(&q, 1, 0x100000000ull, 16, CC_VRING_DESC_F_WRITE, 0);
    g_publish(&q, 1);
    g_kick_wait(&q, 0x25);
    GUEST_SYNC2(mr(base + VIRTIO_MMIO_STATUS), g_last_isr);

    /* Reset and use it again. */
    st = g_init(base, 0, 1);
    g_queue(base, &q, 0, RINGS, 8);
    mw(base + VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
    g_desc(&q, 0, BUFS + 64, 32, CC_VRING_DESC_F_WRITE, 0);
    g_publish(&q, 0);
    g_kick_wait(&q, 0x25);
    GUEST_ASSERT(g_used(&q, &id, &len));
    GUEST_SYNC2(BUFS + 64, len);
    GUEST_DONE();
}

/* One block request: header, data, status; returns the status byte. */
GUEST_CODE static uint32_t g_blk(struct gvq *q, uint32_t type, uint64_t sector, uint64_t data,
                                 uint32_t len)
{
    uint64_t hdr = BUFS + 0x10000, status = hdr + 0x100;
    *(volatile uint32_t *)hdr = type;
    *(volatile uint32_t *)(hdr + 4) = 0;
    *(volatile uint64_t *)(hdr + 8) = sector;
    *(volatile uint8_t *)status = 0xee;
    uint16_t h = 0, d1 = 1, d2 = 2;     /* requests complete one at a time */
    g_desc(q, h, hdr, 16, CC_VRING_DESC_F_NEXT, d1);
    g_desc(q, d1, data, len, (uint16_t)(CC_VRING_DESC_F_NEXT |
                                        (type == VIRTIO_BLK_T_OUT ? 0 : CC_VRING_DESC_F_WRITE)), d2);
    g_desc(q, d2, status, 1, CC_VRING_DESC_F_WRITE, 0);
    g_publish(q, h);
    g_kick_wait(q, 0x26);
    uint32_t id, l;
    if (!g_used(q, &id, &l) || id != h)
        return 0x100;
    return mr8(status);
}

GUEST_CODE static uint64_t g_cmp(uint64_t a, uint64_t b, uint64_t n)
{
    uint64_t diff = 0;
    for (uint64_t i = 0; i < n; i++)
        diff += mr8(a + i) != mr8(b + i);
    return diff;
}

GUEST_CODE static uint64_t g_bitdiff(uint64_t a, uint64_t b, uint64_t n)
{
    uint64_t bits = 0;
    for (uint64_t i = 0; i < n; i++)
        bits += (uint64_t)__builtin_popcount((unsigned)(mr8(a + i) ^ mr8(b + i)));
    return bits;
}

GUEST_CODE static void guest_blk(uint64_t arg)
{
    (void)arg;
    uint64_t base = VBASE + 0x1000;     /* second device; IRQ 6 */
    GUEST_ASSERT_EQ(mr(base + VIRTIO_MMIO_DEVICE_ID), 2);
    uint64_t cap = mr(base + VIRTIO_MMIO_CONFIG) | (uint64_t)mr(base + VIRTIO_MMIO_CONFIG + 4) << 32;
    GUEST_ASSERT_EQ(cap, 2048);
    mw(base + VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint32_t lo = mr(base + VIRTIO_MMIO_DEVICE_FEATURES);
    uint32_t st = g_init(base, lo, 1);
    GUEST_ASSERT_EQ(st & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
    struct gvq q;
    g_queue(base, &q, 0, RINGS, 8);
    mw(base + VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
    g_irq_base = base;
    kt_irq_hook = virtio_hook;
    kt_pic_init(0xbf, 0xff);           /* IRQ6 only */

    uint64_t pat = BUFS, rd = BUFS + 0x1000, pat2 = BUFS + 0x2000;
    volatile uint8_t *p = (volatile uint8_t *)pat, *p2 = (volatile uint8_t *)pat2;
    for (int i = 0; i < 1024; i++) {
        p[i] = (uint8_t)(i * 3 + 1);
        p2[i] = (uint8_t)(i * 5 + 2);
    }
    GUEST_ASSERT_EQ(g_blk(&q, VIRTIO_BLK_T_OUT, 5, pat, 512), 0);
    gfill(rd, 1024, 0);
    GUEST_ASSERT_EQ(g_blk(&q, VIRTIO_BLK_T_IN, 5, rd, 512), 0);
    GUEST_ASSERT_EQ(g_cmp(rd, pat, 512), 0);
    GUEST_ASSERT_EQ(g_blk(&q, VIRTIO_BLK_T_FLUSH, 0, rd, 0), 0);
    GUEST_ASSERT_EQ(g_blk(&q, VIRTIO_BLK_T_GET_ID, 0, rd, 20), 0);
    GUEST_ASSERT_EQ(mr8(rd), 'v');
    GUEST_ASSERT_EQ(mr8(rd + 10), '0');
    GUEST_ASSERT_EQ(g_blk(&q, 99, 0, rd, 512), VIRTIO_BLK_S_UNSUPP);
    GUEST_ASSERT_EQ(g_blk(&q, VIRTIO_BLK_T_IN, 2048, rd, 512), VIRTIO_BLK_S_IOERR);
    GUEST_SYNC(0);                  /* host: read error on sector 5, once */

    GUEST_SYNC2(g_blk(&q, VIRTIO_BLK_T_IN, 5, rd, 512), g_blk(&q, VIRTIO_BLK_T_IN, 5, rd, 512));
    /* host: write error everywhere */
    uint32_t s = g_blk(&q, VIRTIO_BLK_T_OUT, 5, pat2, 512);
    g_blk(&q, VIRTIO_BLK_T_IN, 5, rd, 512);
    GUEST_SYNC2(s, g_cmp(rd, pat, 512));
    /* host: torn write, 512 of 1024 bytes land, reported OK */
    s = g_blk(&q, VIRTIO_BLK_T_OUT, 10, pat2, 1024);
    gfill(rd, 1024, 0xff);
    g_blk(&q, VIRTIO_BLK_T_IN, 10, rd, 1024);
    GUEST_SYNC4(s, g_cmp(rd, pat2, 512), g_cmp(rd + 512, BUFS + 0x5000, 512), 0);
    /* host: 5 bits corrupted on the next read of sector 5 */
    s = g_blk(&q, VIRTIO_BLK_T_IN, 5, rd, 512);
    uint64_t bits = g_bitdiff(rd, pat, 512);
    g_blk(&q, VIRTIO_BLK_T_IN, 5, rd, 512);
    GUEST_SYNC4(s, bits, g_bitdiff(rd, pat, 512), 0);
    /* host: corrupt the next write with 2 bits */
    s = g_blk(&q, VIRTIO_BLK_T_OUT, 20, pat, 512);
    g_blk(&q, VIRTIO_BLK_T_IN, 20, rd, 512);
    GUEST_SYNC2(s, g_bitdiff(rd, pat, 512));
    /* host: disk full at the pages stored now */
    uint32_t s1 = g_blk(&q, VIRTIO_BLK_T_OUT, 5, pat2, 512);       /* rewrite: fine */
    uint32_t s2 = g_blk(&q, VIRTIO_BLK_T_OUT, 1000, pat2, 512);    /* new page: full */
    GUEST_SYNC2(s1, s2);
    GUEST_DONE();
}

GUEST_CODE static void guest_net(uint64_t arg)
{
    (void)arg;
    uint64_t base = VBASE;
    GUEST_ASSERT_EQ(mr(base + VIRTIO_MMIO_DEVICE_ID), 1);
    uint64_t mac = 0;
    for (int i = 0; i < 6; i++)
        mac |= (uint64_t)mr8(base + VIRTIO_MMIO_CONFIG + i) << (8 * i);
    mw(base + VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    uint32_t st = g_init(base, mr(base + VIRTIO_MMIO_DEVICE_FEATURES), 1);
    struct gvq rx, tx;
    g_queue(base, &rx, 0, RINGS, 8);
    g_queue(base, &tx, 1, RINGS + 0x1000, 8);
    mw(base + VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
    g_irq_base = base;
    kt_irq_hook = virtio_hook;
    kt_pic_init(0xdf, 0xff);

    g_desc(&rx, 0, BUFS + 0x4000, 1530, CC_VRING_DESC_F_WRITE, 0);
    g_publish(&rx, 0);
    mw(base + VIRTIO_MMIO_QUEUE_NOTIFY, 0);

    gfill(BUFS, 12, 0);
    volatile uint8_t *f = (volatile uint8_t *)(BUFS + 0x100);
    for (int i = 0; i < 60; i++)
        f[i] = (uint8_t)(i + 1);
    g_desc(&tx, 0, BUFS, 12, CC_VRING_DESC_F_NEXT, 1);
    g_desc(&tx, 1, BUFS + 0x100, 60, 0, 0);
    g_publish(&tx, 0);
    g_kick_wait(&tx, 0x25);         /* the host replies during this exit */
    uint32_t id, len, tlen = 0xffff;
    GUEST_ASSERT(g_used(&tx, &id, &tlen));
    GUEST_ASSERT(g_used(&rx, &id, &len));
    volatile uint8_t *r = (volatile uint8_t *)(BUFS + 0x4000 + 12);
    uint64_t bad = 0;
    for (int i = 0; i < 60; i++)
        bad += r[i] != (uint8_t)(60 - i);
    GUEST_SYNC4(mac, len, tlen, bad);
    GUEST_DONE();
}

/* ---- host side ---- */

/* Map 3-4 GiB (where the device windows are) into the guest's page tables
 * with uncached 2 MiB pages. */
static void map_mmio(struct kt_vm *t)
{
    struct kvm_sregs s;
    struct cc_err err = {0};
    if (cc_vm_get_sregs(t->vm, &s, &err) < 0)
        tap_bail("%s", err.msg);
    uint64_t *pml4 = cc_vm_gpa(t->vm, s.cr3 & ~0xfffull, 4096);
    uint64_t *pdpt = cc_vm_gpa(t->vm, pml4[0] & 0xffffffffff000ull, 4096);
    uint64_t *pd = cc_vm_gpa(t->vm, HI_PD, 4096);
    for (uint64_t i = 0; i < 512; i++)
        pd[i] = ((3ull << 30) + (i << 21)) | 0x83 | 0x18;      /* P RW PS PWT PCD */
    pdpt[3] = HI_PD | 3;
}

static struct kt_vm *mk(void (*guest)(uint64_t))
{
    struct kt_vm *t = kt_create(guest, 0, NULL);
    map_mmio(t);
    return t;
}

static void test_rng(void)
{
    struct kt_vm *t = mk(guest_rng);
    struct cc_err err = {0};
    struct cc_virtio_rng *r;
    ok(cc_vm_add_virtio_rng(t->vm, &r, &err) == 0, "rng added");
    struct cc_rng ref;
    rng_init(&ref, 0, "virtio-rng0");
    uint8_t want[32];
    struct kt_ucall uc;
    enum kt_ucall_type ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    ok(ty == KT_SYNC && uc.args[1] == 32, "rng: guest got 32 bytes through the queue");
    rng_bytes(&ref, want, 32);
    ok(!memcmp(cc_vm_gpa(t->vm, uc.args[0], 32), want, 32),
       "rng: the bytes equal the host's seeded stream");

    ty = kt_run(t, &uc);
    ok(ty == KT_SYNC && (uc.args[0] & VIRTIO_STATUS_DEVICE_NEEDS_RESET) &&
       uc.args[1] == VIRTIO_INT_CONFIG,
       "rng: malformed chain: guest sees DEVICE_NEEDS_RESET and a config interrupt");
    struct cc_virtio_info info = {0};
    int irc = cc_vm_virtio_info(t->vm, 0, &info);
    ok(irc == 0 && info.failure &&
       strstr(info.failure, "outside guest RAM") && info.irq == 5 && info.mmio_base == VBASE,
       "rng: failure reason available: %s", info.failure ? info.failure : "(none)");

    ty = kt_run(t, &uc);
    ok(ty == KT_SYNC && uc.args[1] == 32, "rng: after a reset the device works again");
    rng_bytes(&ref, want, 32);
    ok(!memcmp(cc_vm_gpa(t->vm, uc.args[0], 32), want, 32), "rng: and the stream continues");
    ok(!cc_virtio_rng_failure(r), "rng: healthy after reset");
    if (kt_run(t, &uc) != KT_DONE)
        kt_diag_ucall(&uc);
    kt_destroy(t);
}

static void test_blk(void)
{
    struct kt_vm *t = mk(guest_blk);
    struct cc_err err = {0};
    struct cc_virtio_blk *b;
    struct cc_blk_config cfg = {.size = 1 << 20};
    ok(cc_vm_add_virtio_rng(t->vm, NULL, &err) == 0 &&
       cc_vm_add_virtio_blk(t->vm, &cfg, &b, &err) == 0, "rng + blk added (%s)", err.msg);
    struct kt_ucall uc;
    enum kt_ucall_type ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    is_int(ty, KT_SYNC, "blk: write, read back, flush, get-id, unsupported, out of range");

    struct cc_blk_fault f = {.kind = CC_BLK_FAULT_READ_ERROR, .offset = 5 * 512, .length = 512,
                             .count = 1};
    cc_virtio_blk_fault_add(b, &f, &err);
    ty = kt_run(t, &uc);
    ok(ty == KT_SYNC && uc.args[0] == VIRTIO_BLK_S_IOERR && uc.args[1] == VIRTIO_BLK_S_OK,
       "blk: injected read error: guest gets IOERR once, then OK");

    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_WRITE_ERROR, .count = 1};
    cc_virtio_blk_fault_add(b, &f, &err);
    ty = kt_run(t, &uc);
    ok(ty == KT_SYNC && uc.args[0] == VIRTIO_BLK_S_IOERR && uc.args[1] == 0,
       "blk: injected write error: IOERR and the old data stays");

    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_TORN_WRITE, .count = 1, .torn_bytes = 512};
    cc_virtio_blk_fault_add(b, &f, &err);
    ty = kt_run(t, &uc);
    ok(ty == KT_SYNC && uc.args[0] == VIRTIO_BLK_S_OK && uc.args[1] == 0 && uc.args[2] == 0,
       "blk: torn write: reported OK, only the first 512 bytes landed (%llu, %llu)",
       (unsigned long long)uc.args[1], (unsigned long long)uc.args[2]);

    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_READ, .count = 1, .flip_bits = 5};
    cc_virtio_blk_fault_add(b, &f, &err);
    ty = kt_run(t, &uc);
    ok(ty == KT_SYNC && uc.args[0] == VIRTIO_BLK_S_OK && uc.args[1] == 5 && uc.args[2] == 0,
       "blk: corrupted read: 5 bits flipped once, the disk intact (%llu, %llu)",
       (unsigned long long)uc.args[1], (unsigned long long)uc.args[2]);

    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_CORRUPT_WRITE, .count = 1, .flip_bits = 2};
    cc_virtio_blk_fault_add(b, &f, &err);
    ty = kt_run(t, &uc);
    ok(ty == KT_SYNC && uc.args[0] == VIRTIO_BLK_S_OK && uc.args[1] == 2,
       "blk: corrupted write: the data read back has 2 flipped bits");

    struct cc_blk_usage u;
    cc_virtio_blk_usage(b, &u);
    f = (struct cc_blk_fault){.kind = CC_BLK_FAULT_DISK_FULL, .count = CC_BLK_FAULT_UNLIMITED,
                              .full_bytes = u.pages * 4096};
    cc_virtio_blk_fault_add(b, &f, &err);
    ty = kt_run(t, &uc);
    ok(ty == KT_SYNC && uc.args[0] == VIRTIO_BLK_S_OK && uc.args[1] == VIRTIO_BLK_S_IOERR,
       "blk: disk full: rewrites succeed, a new page gets IOERR");
    is_int(kt_run(t, &uc), KT_DONE, "blk: guest done");

    uint8_t sec[512];
    cc_virtio_blk_read(b, 5 * 512, sec, 512, &err);
    bool same = true;
    for (int i = 0; i < 512; i++)
        same &= sec[i] == (uint8_t)(i * 5 + 2);
    ok(same, "blk: the host reads the guest's last write of sector 5");
    struct cc_blk_stats st;
    cc_virtio_blk_stats(b, &st);
    is_int(st.faults_hit, 6, "blk: six faulted requests");
    ok(!cc_virtio_blk_failure(b), "blk: no device failure");
    kt_destroy(t);
}

struct echo {
    struct cc_virtio_net *n;
    unsigned frames;
    size_t len;
};

static void echo_tx(void *opaque, const uint8_t *frame, size_t len)
{
    struct echo *e = opaque;
    e->frames++;
    e->len = len;
    uint8_t rev[CC_NET_MAX_FRAME];
    for (size_t i = 0; i < len; i++)
        rev[i] = frame[len - 1 - i];
    cc_virtio_net_inject(e->n, rev, len);
}

static void test_net(void)
{
    struct kt_vm *t = mk(guest_net);
    struct cc_err err = {0};
    struct echo e = {0};
    ok(cc_vm_add_virtio_net(t->vm, NULL, &e.n, &err) == 0, "net added");
    cc_virtio_net_set_endpoint(e.n, echo_tx, &e);
    struct kt_ucall uc;
    enum kt_ucall_type ty = kt_run(t, &uc);
    if (ty != KT_SYNC)
        kt_diag_ucall(&uc);
    ok(ty == KT_SYNC && uc.args[0] == (1ull << 40 | 0xcc02), "net: guest reads MAC 02:cc:00:00:00:01 (0x%llx)", (unsigned long long)uc.args[0]);
    ok(e.frames == 1 && e.len == 60, "net: the host endpoint got the 60-byte frame");
    ok(uc.args[1] == 12 + 60 && uc.args[2] == 0 && uc.args[3] == 0,
       "net: the host's reply arrived in the guest's RX buffer");
    is_int(kt_run(t, &uc), KT_DONE, "net: guest done");
    kt_destroy(t);
}

static void test_slots(void)
{
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = 16 << 20;
    struct cc_vm *vm;
    struct cc_err err = {0};
    if (cc_vm_create(&cfg, &vm, &err) < 0)
        tap_bail("%s", err.msg);
    struct cc_blk_config bc = {.size = 1 << 20};
    int rc = 0;
    for (int i = 0; i < 9 && rc == 0; i++) {
        if (i % 3 == 0)
            rc = cc_vm_add_virtio_rng(vm, NULL, &err);
        else if (i % 3 == 1)
            rc = cc_vm_add_virtio_blk(vm, &bc, NULL, &err);
        else
            rc = cc_vm_add_virtio_net(vm, NULL, NULL, &err);
    }
    ok(rc == 0 && cc_vm_virtio_count(vm) == 9, "nine devices fit");
    is_int(cc_vm_add_virtio_rng(vm, NULL, &err), -ENOSPC, "a tenth is refused: %s", err.msg);
    static const unsigned irqs[9] = {5, 6, 7, 9, 10, 11, 12, 14, 15};
    bool good = true;
    for (unsigned i = 0; i < 9; i++) {
        struct cc_virtio_info info;
        cc_vm_virtio_info(vm, i, &info);
        good &= info.irq == irqs[i] && info.mmio_base == VBASE + 0x1000 * i &&
                info.type == (i % 3 == 0 ? CC_VIRTIO_RNG : i % 3 == 1 ? CC_VIRTIO_BLK
                                                                        : CC_VIRTIO_NET);
    }
    ok(good, "slots: bases 0xd0000000 + i * 0x1000, IRQs 5 6 7 9 10 11 12 14 15");
    ok(strstr(vm->cmdline_dev, "virtio_mmio.device=4K@0xd0000000:5 ") == vm->cmdline_dev &&
       strstr(vm->cmdline_dev, "virtio_mmio.device=4K@0xd0008000:15"),
       "command line: %s", vm->cmdline_dev);
    struct cc_blk_config bad = {.size = 0};
    cc_vm_destroy(vm);
    cc_vm_create(&cfg, &vm, &err);
    ok(cc_vm_add_virtio_blk(vm, &bad, NULL, &err) < 0 && cc_vm_virtio_count(vm) == 0 &&
       vm->cmdline_dev[0] == 0, "a refused device takes no slot: %s", err.msg);
    cc_vm_destroy(vm);
}

static struct cc_vm *mk_vm3(struct cc_virtio_rng **r, struct cc_virtio_blk **b,
                            struct cc_virtio_net **n)
{
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = 16 << 20;
    cfg.seed = 5;
    struct cc_vm *vm;
    struct cc_err err = {0};
    struct cc_blk_config bc = {.size = 64 << 20};
    if (cc_vm_create(&cfg, &vm, &err) < 0 || cc_vm_add_virtio_rng(vm, r, &err) < 0 ||
        cc_vm_add_virtio_blk(vm, &bc, b, &err) < 0 || cc_vm_add_virtio_net(vm, NULL, n, &err) < 0)
        tap_bail("%s", err.msg);
    return vm;
}

static void test_vm_snapshots(void)
{
    struct cc_virtio_rng *r;
    struct cc_virtio_blk *b;
    struct cc_virtio_net *n;
    struct cc_vm *vm = mk_vm3(&r, &b, &n);
    struct cc_err err = {0};
    static uint8_t mib[1 << 20], back[1 << 20];
    memset(mib, 0x3c, sizeof(mib));
    cc_virtio_blk_write(b, 0, mib, sizeof(mib), &err);
    uint8_t f[64] = {1, 2, 3};
    cc_virtio_net_inject(n, f, sizeof(f));
    cc_virtio_blk_fault_add(b, &(struct cc_blk_fault){.kind = CC_BLK_FAULT_READ_ERROR,
                                                      .count = 2}, &err);

    struct cc_buf file;
    buf_init(&file);
    vm_virtio_save(vm, &file);
    struct cc_vm_virtio_snap *snap;
    ok(vm_virtio_snap_take(vm, &snap, &err) == 0, "in-memory device snapshot taken");
    struct cc_blk_usage u0;
    cc_virtio_blk_usage(b, &u0);

    /* Change everything, then restore in place. */
    memset(mib, 0x77, 4096);
    cc_virtio_blk_write(b, 0, mib, 4096, &err);
    cc_virtio_blk_fault_clear(b);
    cc_virtio_rng_reseed(r, 99);
    cc_virtio_net_inject(n, f, sizeof(f));
    ok(vm_virtio_snap_restore(vm, snap, &err) == 0, "restored in place (%s)", err.msg);
    cc_virtio_blk_read(b, 0, back, sizeof(back), &err);
    memset(mib, 0x3c, 4096);
    struct cc_net_stats ns;
    cc_virtio_net_stats(n, &ns);
    ok(!memcmp(back, mib, sizeof(back)) && cc_virtio_blk_fault_hits(b, 0) == 0 && ns.rx_queued == 1,
       "disk, faults and pending frames are back");
    struct cc_buf again;
    buf_init(&again);
    vm_virtio_save(vm, &again);
    ok(again.len == file.len && !memcmp(again.data, file.data, file.len),
       "the restored state saves identically to the original");

    /* Fork: a second VM with the same devices. */
    struct cc_virtio_rng *r2;
    struct cc_virtio_blk *b2;
    struct cc_virtio_net *n2;
    struct cc_vm *vm2 = mk_vm3(&r2, &b2, &n2);
    ok(vm_virtio_snap_restore(vm2, snap, &err) == 0, "restored into a fork");
    struct cc_blk_usage u2;
    cc_virtio_blk_usage(b2, &u2);
    ok(u2.pages == 256 && u2.live_pages == u0.live_pages,
       "the fork shares the 256 written pages (%llu live)", (unsigned long long)u2.live_pages);
    cc_virtio_blk_read(b2, 0, back, sizeof(back), &err);
    ok(!memcmp(back, mib, sizeof(back)), "the fork reads the snapshot's disk");
    buf_free(&again);
    buf_init(&again);
    vm_virtio_save(vm2, &again);
    ok(again.len == file.len && !memcmp(again.data, file.data, file.len),
       "the fork's device state equals the original's");

    /* File form: load into a third VM. */
    struct cc_vm *vm3 = mk_vm3(&r2, &b2, &n2);
    struct cc_rd rd;
    rd_init(&rd, file.data, file.len);
    ok(vm_virtio_load(vm3, &rd, &err) == 0, "saved devices load into a new VM (%s)", err.msg);
    cc_virtio_blk_read(b2, 0, back, sizeof(back), &err);
    ok(!memcmp(back, mib, sizeof(back)), "with the disk contents");
    cc_vm_destroy(vm3);

    /* A VM with other devices refuses both. */
    struct cc_vm_config cfg;
    cc_vm_config_default(&cfg);
    cfg.mem_size = 16 << 20;
    cc_vm_create(&cfg, &vm3, &err);
    cc_vm_add_virtio_rng(vm3, NULL, &err);
    rd_init(&rd, file.data, file.len);
    ok(vm_virtio_load(vm3, &rd, &err) < 0 && strstr(err.msg, "devices"),
       "other devices: file refused: %s", err.msg);
    ok(vm_virtio_snap_restore(vm3, snap, &err) < 0, "other devices: snapshot refused");
    cc_vm_destroy(vm3);

    vm_virtio_snap_free(snap);
    buf_free(&file);
    buf_free(&again);
    cc_vm_destroy(vm2);
    cc_vm_destroy(vm);
}

int main(void)
{
    test_rng();
    test_blk();
    test_net();
    test_slots();
    test_vm_snapshots();
    return tap_exit();
}
