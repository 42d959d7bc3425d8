/* The tiny-heartbeat target of test_explore and dash_explore: three VMs,
 * each a C function of the test binary (kvmtest.h) that drives its
 * virtio-net card by hand and speaks the SDK wire protocol by hand
 * (sdk/chaoscontrol_protocol.h), made by a target factory (see
 * test_explore.c for what it does and the planted bug). */
#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/explore.h"
#include "chaoscontrol/sim.h"
#include "chaoscontrol/virtio.h"
#include "chaoscontrol_protocol.h"
#include "hb_target.h"
#include "kvmtest.h"
#include "tap.h"

/* ---- guest side: virtio-mmio registers (virtio 1.2, 4.2.2) ---- */

#define VBASE CC_VIRTIO_MMIO_BASE
#define R_DEVICE_ID 0x008
#define R_DEVICE_FEATURES 0x010
#define R_DEVICE_FEATURES_SEL 0x014
#define R_DRIVER_FEATURES 0x020
#define R_DRIVER_FEATURES_SEL 0x024
#define R_QUEUE_SEL 0x030
#define R_QUEUE_NUM 0x038
#define R_QUEUE_READY 0x044
#define R_QUEUE_NOTIFY 0x050
#define R_STATUS 0x070
#define R_QUEUE_DESC_LOW 0x080
#define R_QUEUE_DESC_HIGH 0x084
#define R_QUEUE_AVAIL_LOW 0x090
#define R_QUEUE_AVAIL_HIGH 0x094
#define R_QUEUE_USED_LOW 0x0a0
#define R_QUEUE_USED_HIGH 0x0a4
#define DESC_F_NEXT 1
#define DESC_F_WRITE 2
#define NET_HDR 12              /* struct virtio_net_hdr_v1 */
#define NRX 8
#define RINGS 0x3000000ull      /* guest RAM for rings (identity mapped) */
#define BUFS 0x3100000ull       /* and for buffers */
#define HI_PD 0x2fff000ull      /* page directory mapping 3-4 GiB */
#define ETH_TYPE 0x88b5         /* local experimental */

KT_INLINE uint32_t mr(uint64_t a) { return *(volatile uint32_t *)a; }
KT_INLINE void mw(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }

struct gvq {
    uint64_t desc, avail, used;
    uint16_t qi, num, aidx, useen;
};

/* The node's state (each VM has its own copy of the globals). */
static struct {
    uint64_t me, flags, tick, heard[3], longest, suspecting;
    uint32_t s_fresh, s_suspect;    /* state-table slots (+1) */
    struct gvq rx, tx;
} G;

GUEST_CODE static void g_zero(uint64_t a, uint64_t n)
{
    volatile uint8_t *p = (volatile uint8_t *)a;
    for (uint64_t i = 0; i < n; i++)
        p[i] = 0;
}

GUEST_CODE static void g_copy(volatile uint8_t *dst, const char *src, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        dst[i] = (uint8_t)src[i];
}

GUEST_CODE static uint32_t g_strlen(const char *s)
{
    uint32_t n = 0;
    while (s[n])
        n++;
    return n;
}

GUEST_CODE static void g_queue(struct gvq *q, uint16_t qi, uint64_t at, uint16_t num)
{
    g_zero(at, 0x1000);
    q->qi = qi;
    q->desc = at;
    q->avail = at + 16ull * num;
    q->used = at + 0x800;
    q->num = num;
    q->aidx = q->useen = 0;
    mw(VBASE + R_QUEUE_SEL, qi);
    mw(VBASE + R_QUEUE_NUM, num);
    mw(VBASE + R_QUEUE_DESC_LOW, (uint32_t)q->desc);
    mw(VBASE + R_QUEUE_DESC_HIGH, 0);
    mw(VBASE + R_QUEUE_AVAIL_LOW, (uint32_t)q->avail);
    mw(VBASE + R_QUEUE_AVAIL_HIGH, 0);
    mw(VBASE + R_QUEUE_USED_LOW, (uint32_t)q->used);
    mw(VBASE + R_QUEUE_USED_HIGH, 0);
    mw(VBASE + R_QUEUE_READY, 1);
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

GUEST_CODE static int g_used(struct gvq *q, uint32_t *id)
{
    if (*(volatile uint16_t *)(q->used + 2) == q->useen)
        return 0;
    *id = *(volatile uint32_t *)(q->used + 4 + 8ull * (q->useen % q->num));
    q->useen++;
    return 1;
}

GUEST_CODE static void net_init(void)
{
    mw(VBASE + R_DEVICE_FEATURES_SEL, 0);
    uint32_t lo = mr(VBASE + R_DEVICE_FEATURES);
    mw(VBASE + R_STATUS, 0);
    mw(VBASE + R_STATUS, 1);
    mw(VBASE + R_STATUS, 3);
    mw(VBASE + R_DRIVER_FEATURES_SEL, 0);
    mw(VBASE + R_DRIVER_FEATURES, lo);
    mw(VBASE + R_DRIVER_FEATURES_SEL, 1);
    mw(VBASE + R_DRIVER_FEATURES, 1);      /* VIRTIO_F_VERSION_1 */
    mw(VBASE + R_STATUS, 11);
    g_queue(&G.rx, 0, RINGS, NRX);
    g_queue(&G.tx, 1, RINGS + 0x1000, 8);
    mw(VBASE + R_STATUS, 15);               /* DRIVER_OK */
    for (uint16_t i = 0; i < NRX; i++) {
        g_desc(&G.rx, i, BUFS + 0x1000 + 0x800ull * i, 0x800, DESC_F_WRITE, 0);
        g_publish(&G.rx, i);
    }
    mw(VBASE + R_QUEUE_NOTIFY, 0);
}

/* ---- guest side: the SDK wire protocol by hand ---- */

#define HDR ((volatile struct cc_proto_header *)CC_PROTO_HEADER_GPA)
#define MB0 ((volatile struct cc_proto_mailbox *)CC_PROTO_MAILBOX_GPA)
#define SLOT(s) ((volatile struct cc_proto_slot *)(CC_PROTO_TABLE_GPA + \
                                                    ((uint64_t)(s) - 1) * CC_PROTO_SLOT_SIZE))

GUEST_CODE static int32_t g_call(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2,
                                 const char *p, uint32_t len)
{
    volatile struct cc_proto_mailbox *mb = MB0;
    mb->op = op;
    mb->flags = 0;
    mb->len = len;
    mb->arg[0] = a0;
    mb->arg[1] = a1;
    mb->arg[2] = a2;
    mb->status = -38;
    if (p)
        g_copy(mb->data, p, len);
    kt_outl(CC_PROTO_PORT, 0);
    return mb->status;
}

GUEST_CODE static void g_catrec(volatile uint8_t *buf, uint32_t *off, uint64_t id, uint32_t kind,
                                uint32_t line, const char *msg)
{
    uint32_t ml = g_strlen(msg);
    volatile struct cc_proto_catrec *r = (volatile struct cc_proto_catrec *)(buf + *off);
    r->id = id;
    r->kind = kind;
    r->line = line;
    r->message_len = (uint16_t)ml;
    r->file_len = 14;
    r->function_len = 4;
    r->reserved = 0;
    uint32_t o = *off + sizeof(struct cc_proto_catrec);
    g_copy(buf + o, msg, ml);
    g_copy(buf + o + ml, "test_explore.c", 14);
    g_copy(buf + o + ml + 14, "node", 4);
    uint32_t need = (uint32_t)sizeof(struct cc_proto_catrec) + ml + 18;
    need = (need + 7) & ~7u;
    for (uint32_t k = sizeof(struct cc_proto_catrec) + ml + 18; k < need; k++)
        buf[*off + k] = 0;
    *off += need;
}

const char msg_fresh[] = "acts only on a fresh view";
const char msg_suspect[] = "suspected a peer";
const char msg_longest[] = "longest silence (ticks)";

GUEST_CODE static void sdk_init(void)
{
    HDR->mailbox_owner[0] = 1;
    uint32_t off = 0;
    volatile uint8_t *buf = MB0->data;
    g_catrec(buf, &off, ID_FRESH, CC_KIND_ALWAYS, 1, msg_fresh);
    g_catrec(buf, &off, ID_SUSPECT, CC_KIND_SOMETIMES, 2, msg_suspect);
    g_call(CC_OP_CATALOG, 2, 0, 0, NULL, off);
    volatile uint32_t *slots = (volatile uint32_t *)MB0->data;
    G.s_fresh = slots[0];
    G.s_suspect = slots[1];
}

/* ---- guest side: the node ---- */

GUEST_CODE static void send_heartbeat(void)
{
    g_zero(BUFS, NET_HDR);
    volatile uint8_t *f = (volatile uint8_t *)(BUFS + 0x100);
    for (int i = 0; i < 6; i++)
        f[i] = 0xff;
    uint8_t src[6] = {0x52, 0x54, 0, 0, 0, (uint8_t)(G.me + 1)};
    for (int i = 0; i < 6; i++)
        f[6 + i] = src[i];
    f[12] = ETH_TYPE >> 8;
    f[13] = ETH_TYPE & 0xff;
    f[14] = 'H';
    f[15] = 'B';
    f[16] = (uint8_t)G.me;
    for (int i = 0; i < 8; i++)
        f[17 + i] = (uint8_t)(G.tick >> (8 * i));
    for (int i = 25; i < 60; i++)
        f[i] = 0;
    g_desc(&G.tx, 0, BUFS, NET_HDR, DESC_F_NEXT, 1);
    g_desc(&G.tx, 1, BUFS + 0x100, 60, 0, 0);
    g_publish(&G.tx, 0);
    mw(VBASE + R_QUEUE_NOTIFY, 1);      /* sent during this exit */
    uint32_t id;
    while (g_used(&G.tx, &id))
        ;
}

GUEST_CODE static void receive(void)
{
    uint32_t id;
    int reposted = 0;
    while (g_used(&G.rx, &id)) {
        if (id >= NRX)
            continue;
        volatile uint8_t *f = (volatile uint8_t *)(BUFS + 0x1000 + 0x800ull * id + NET_HDR);
        if (f[12] == (ETH_TYPE >> 8) && f[13] == (ETH_TYPE & 0xff) && f[14] == 'H' &&
            f[15] == 'B' && f[16] < 3 && f[16] != G.me)
            G.heard[f[16]] = G.tick;
        g_publish(&G.rx, (uint16_t)id);
        reposted = 1;
    }
    if (reposted)
        mw(VBASE + R_QUEUE_NOTIFY, 0);
}

/* Suspicion, the draw and the planted bug. */
GUEST_CODE static void track(uint64_t suspect)
{
    volatile uint8_t *cov = (volatile uint8_t *)CC_PROTO_COVERAGE_GPA;
    if (G.flags & F_COV) {
        for (uint64_t p = 0; p < 3; p++)
            if (suspect >> p & 1)
                cov[0x100 + G.me * 8 + p] = 1;
        if (G.suspecting && !suspect)
            cov[0x180 + G.me] = 1;          /* all peers back */
    }
    if (suspect && !G.suspecting && (G.flags & F_COV)) {
        SLOT(G.s_suspect)->hits++;
        SLOT(G.s_suspect)->passes++;
    }
    G.suspecting = suspect;
    if (!suspect)
        return;
    g_call(CC_OP_RANDOM, CC_RAND_CHOICE, CHOICE_N, 0, NULL, 0);
    uint64_t c = MB0->ret[0];
    SLOT(G.s_fresh)->hits++;
    if ((G.flags & F_BUG) && c == 0) {
        SLOT(G.s_fresh)->fails++;
        static const char details[] = "{\"stale\": true}";
        g_call(CC_OP_ASSERT, ID_FRESH, CC_ASSERT_COUNTED | ((uint64_t)CC_KIND_ALWAYS << 8),
               G.s_fresh, details, sizeof(details) - 1);
    } else {
        SLOT(G.s_fresh)->passes++;
    }
}

GUEST_CODE static void on_tick(void)
{
    receive();
    send_heartbeat();
    uint64_t suspect = 0, longest = 0;
    for (uint64_t p = 0; p < 3; p++) {
        if (p == G.me)
            continue;
        uint64_t silent = G.tick - G.heard[p];
        if (silent > SUSPECT_TICKS)
            suspect |= 1ull << p;
        if (silent > longest)
            longest = silent;
    }
    if (G.flags & F_TRACK)
        track(suspect);
    if ((G.flags & F_GUIDE) && longest > G.longest) {
        G.longest = longest;
        g_call(CC_OP_GUIDANCE, longest, 1, 0, msg_longest, sizeof(msg_longest) - 1);
    }
}

GUEST_CODE static void guest_node(uint64_t arg)
{
    G.me = arg & 3;
    G.flags = arg;
    if ((G.flags & F_CRASH) && G.me == 1) {
        /* an empty IDT, then a breakpoint: #GP, #DF, triple fault */
        struct __attribute__((packed)) { uint16_t limit; uint64_t base; } none = {0, 0};
        __asm__ volatile("lidt %0; int3" : : "m"(none));
    }
    kt_irq_hook = kt_eoi_hook;
    kt_pic_init(0xfe, 0xff);                /* the PIT only; the NIC is polled */
    net_init();
    sdk_init();
    kt_pit_periodic(KT_PIT_10MS);
    g_call(CC_OP_SETUP, 0, 0, 0, NULL, 0);
    uint64_t seen = kt_irq_count[0x20];
    for (;;) {
        while (kt_irq_count[0x20] == seen)
            kt_sti_hlt();
        kt_cli();
        seen = kt_irq_count[0x20];
        G.tick = seen;
        on_tick();
    }
}

/* ---- host side: the target factory ---- */


/* Map 3-4 GiB (the virtio windows) with uncached 2 MiB pages. */
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

static uint64_t splitmix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int hb_create(void *opaque, const struct cc_xtarget *t, const struct cc_sim_config *cfg,
                     struct cc_sim **out, struct cc_err *err)
{
    struct hb_factory *f = opaque;
    int rc = cc_sim_new(cfg, out, err);
    for (unsigned i = 0; rc == 0 && i < t->n_vms; i++) {
        struct cc_vm_config vc;
        cc_vm_config_default(&vc);
        vc.mem_size = KT_MEM_SIZE;
        vc.seed = splitmix(cfg->seed + i);
        vc.watchdog_s = cfg->watchdog_s;
        if (f->n_kts == sizeof(f->kts) / sizeof(f->kts[0]))
            return cc_err_set(err, ENOSPC, "too many tiny VMs for this test");
        struct kt_vm *k = kt_create(guest_node, i | f->flags, &vc);
        f->kts[f->n_kts++] = k;
        map_mmio(k);
        uint8_t mac[6] = {0x52, 0x54, 0, 0, 0, (uint8_t)(i + 1)};
        rc = cc_vm_add_virtio_net(k->vm, mac, NULL, err);
        if (rc == 0)
            rc = cc_sim_add_vm(*out, k->vm, err);   /* its index */
        if (rc < 0)
            cc_vm_destroy(k->vm);
        else
            rc = 0;
    }
    if (rc < 0) {
        cc_sim_destroy(*out);
        *out = NULL;
    }
    f->sims++;
    return rc;
}

void hb_init(struct hb_factory *f, const char *name, unsigned flags)
{
    memset(f, 0, sizeof(*f));
    f->f = (struct cc_xfactory){.name = name, .create = hb_create, .opaque = f};
    f->flags = flags;
}

void hb_free(struct hb_factory *f)
{
    for (size_t i = 0; i < f->n_kts; i++)
        free(f->kts[i]);            /* their VMs went with their simulations */
    f->n_kts = 0;
}
