/* Plugging virtio-mmio devices into a VM: each device gets the next 4 KiB
 * MMIO window at 0xd0000000 + i * 0x1000, the next free ISA interrupt from
 * 5, 6, 7, 9, 10, 11, 12, 14, 15 (PIC, edge-triggered as Linux sets up
 * these lines), and a "virtio_mmio.device=4K@0x...:IRQ" fragment on the
 * kernel command line, which is why devices must be added before
 * cc_vm_load_linux. Device messages (a device that failed and why) go to
 * the VM's log. Devices see guest RAM through &vm->mem / &vm->mem_size, so
 * they follow the VM if its memory is remapped, and report every range they
 * write through cc_vm_gpa_w, so snapshot resets see those pages dirty. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/virtio.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "devices/virtio_rng.h"
#include "vm_internal.h"
#include "vm_virtio.h"

#define VIRTIO_SAVE_VERSION 1

static const unsigned virtio_irqs[CC_VIRTIO_MAX_DEVICES] = {5, 6, 7, 9, 10, 11, 12, 14, 15};

struct vm_vdev {
    enum cc_virtio_type type;
    void *dev;                      /* struct cc_virtio_{rng,blk,net} */
    struct cc_virtio_mmio *mmio;
    uint64_t base;
    unsigned irq;
    /* How it was made, so forks and snapshot files can make it again. */
    uint64_t blk_size;
    char *blk_image, *blk_id;
    bool blk_ro;
    uint8_t mac[6];
};

struct cc_vm_virtio {
    struct vm_vdev d[CC_VIRTIO_MAX_DEVICES];
    unsigned n;
    unsigned n_type[6];             /* devices of each type, for labels */
};

static void mmio_read(void *opaque, uint64_t off, void *data, unsigned size)
{
    virtio_mmio_read(opaque, off, data, size);
}

static void mmio_write(void *opaque, uint64_t off, const void *data, unsigned size)
{
    virtio_mmio_write(opaque, off, data, size);
}

static const struct cc_io_ops virtio_io = {mmio_read, mmio_write};

static void virtio_log(void *opaque, const char *msg)
{
    vm_log(opaque, "%s", msg);
}

/* Device writes into guest RAM are invisible to KVM's dirty log. */
static void vm_mark_dirty(void *opaque, uint64_t gpa, uint64_t len)
{
    cc_vm_gpa_w(opaque, gpa, len);
}

static void destroy_dev(struct vm_vdev *d)
{
    free(d->blk_image);
    free(d->blk_id);
    d->blk_image = d->blk_id = NULL;
    d->mmio->ops->destroy(d->dev);
}

/* The slot a new device would get, with its command-line fragment; checks
 * that there is room for both before anything is created. */
static int next_slot(struct cc_vm *vm, struct vm_vdev *slot, char *frag, size_t fraglen,
                     struct cc_err *err)
{
    if (!vm->virtio) {
        vm->virtio = calloc(1, sizeof(*vm->virtio));
        if (!vm->virtio)
            return cc_err_set(err, ENOMEM, "out of memory");
    }
    struct cc_vm_virtio *v = vm->virtio;
    if (v->n == CC_VIRTIO_MAX_DEVICES)
        return cc_err_set(err, ENOSPC, "a VM has at most %u virtio devices",
                          CC_VIRTIO_MAX_DEVICES);
    slot->base = CC_VIRTIO_MMIO_BASE + (uint64_t)v->n * CC_VIRTIO_MMIO_SIZE;
    slot->irq = virtio_irqs[v->n];
    snprintf(frag, fraglen, "virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)slot->base,
             slot->irq);
    if (strlen(vm->cmdline_dev) + 1 + strlen(frag) >= sizeof(vm->cmdline_dev))
        return cc_err_set(err, E2BIG, "no room on the kernel command line for another device");
    return 0;
}

/* Register a created device: MMIO window, command line, log. */
static int plug(struct cc_vm *vm, struct vm_vdev *slot, const char *frag, const char *label,
                struct cc_err *err)
{
    struct cc_vm_virtio *v = vm->virtio;
    int rc = cc_vm_add_mmio(vm, slot->base, CC_VIRTIO_MMIO_SIZE, &virtio_io, slot->mmio, err);
    if (rc < 0) {
        destroy_dev(slot);
        return rc;
    }
    rc = vm_cmdline_add(vm, frag, err);      /* room was checked in next_slot */
    char name[32];
    snprintf(name, sizeof(name), "%s@0x%llx", label, (unsigned long long)slot->base);
    virtio_mmio_set_log(slot->mmio, name, virtio_log, vm);
    virtio_mmio_set_dirty_hook(slot->mmio, vm_mark_dirty, vm);
    v->d[v->n++] = *slot;
    v->n_type[slot->type]++;
    return rc;
}

static struct cc_irq_sink pic_sink(struct cc_vm *vm)
{
    return vm_irq_sink(vm);
}

int cc_vm_add_virtio_rng(struct cc_vm *vm, struct cc_virtio_rng **out, struct cc_err *err)
{
    struct vm_vdev slot = {.type = CC_VIRTIO_RNG};
    char frag[80], label[32];
    int rc = next_slot(vm, &slot, frag, sizeof(frag), err);
    if (rc < 0)
        return rc;
    snprintf(label, sizeof(label), "virtio-rng%u", vm->virtio->n_type[CC_VIRTIO_RNG]);
    struct cc_virtio_rng *r;
    rc = virtio_rng_create(vm->cfg.seed, label, &vm->mem, &vm->mem_size, pic_sink(vm),
                              slot.irq, &r, err);
    if (rc < 0)
        return rc;
    slot.dev = r;
    slot.mmio = &r->mmio;
    rc = plug(vm, &slot, frag, label, err);
    if (rc == 0 && out)
        *out = r;
    return rc;
}

int cc_vm_add_virtio_blk(struct cc_vm *vm, const struct cc_blk_config *cfg,
                         struct cc_virtio_blk **out, struct cc_err *err)
{
    struct vm_vdev slot = {.type = CC_VIRTIO_BLK};
    char frag[80], label[32];
    int rc = next_slot(vm, &slot, frag, sizeof(frag), err);
    if (rc < 0)
        return rc;
    snprintf(label, sizeof(label), "virtio-blk%u", vm->virtio->n_type[CC_VIRTIO_BLK]);
    struct cc_virtio_blk *b;
    rc = virtio_blk_create(cfg, vm->cfg.seed, label, &vm->mem, &vm->mem_size, pic_sink(vm),
                              slot.irq, &b, err);
    if (rc < 0)
        return rc;
    slot.dev = b;
    slot.mmio = &b->mmio;
    slot.blk_size = cc_virtio_blk_size(b);
    slot.blk_ro = cfg->read_only;
    slot.blk_image = cfg->image_path ? strdup(cfg->image_path) : NULL;
    slot.blk_id = cfg->id ? strdup(cfg->id) : NULL;
    if ((cfg->image_path && !slot.blk_image) || (cfg->id && !slot.blk_id)) {
        destroy_dev(&slot);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    rc = plug(vm, &slot, frag, label, err);
    if (rc == 0 && out)
        *out = b;
    return rc;
}

int cc_vm_add_virtio_net(struct cc_vm *vm, const uint8_t mac[6], struct cc_virtio_net **out,
                         struct cc_err *err)
{
    struct vm_vdev slot = {.type = CC_VIRTIO_NET};
    char frag[80], label[32];
    int rc = next_slot(vm, &slot, frag, sizeof(frag), err);
    if (rc < 0)
        return rc;
    unsigned idx = vm->virtio->n_type[CC_VIRTIO_NET];
    snprintf(label, sizeof(label), "virtio-net%u", idx);
    uint8_t def[6] = {0x02, 0xcc, 0, 0, (uint8_t)((idx + 1) >> 8), (uint8_t)(idx + 1)};
    struct cc_virtio_net *n;
    rc = virtio_net_create(mac ? mac : def, &vm->mem, &vm->mem_size, pic_sink(vm), slot.irq,
                              &n, err);
    if (rc < 0)
        return rc;
    slot.dev = n;
    slot.mmio = &n->mmio;
    memcpy(slot.mac, mac ? mac : def, 6);
    rc = plug(vm, &slot, frag, label, err);
    if (rc == 0 && out)
        *out = n;
    return rc;
}

int cc_vm_add_virtio_balloon(struct cc_vm *vm, struct cc_virtio_balloon **out,
                             struct cc_err *err)
{
    struct vm_vdev slot = {.type = CC_VIRTIO_BALLOON};
    char frag[80], label[32];
    int rc = next_slot(vm, &slot, frag, sizeof(frag), err);
    if (rc < 0)
        return rc;
    snprintf(label, sizeof(label), "virtio-balloon%u", vm->virtio->n_type[CC_VIRTIO_BALLOON]);
    struct cc_virtio_balloon *b;
    rc = virtio_balloon_create(&vm->mem, &vm->mem_size, pic_sink(vm), slot.irq, &b, err);
    if (rc < 0)
        return rc;
    slot.dev = b;
    slot.mmio = &b->mmio;
    rc = plug(vm, &slot, frag, label, err);
    if (rc == 0 && out)
        *out = b;
    return rc;
}

static void *nth_device(struct cc_vm *vm, enum cc_virtio_type type, unsigned n)
{
    for (unsigned i = 0; i < cc_vm_virtio_count(vm); i++)
        if (vm->virtio->d[i].type == type && n-- == 0)
            return vm->virtio->d[i].dev;
    return NULL;
}

struct cc_virtio_net *cc_vm_virtio_net(struct cc_vm *vm, unsigned n)
{
    return nth_device(vm, CC_VIRTIO_NET, n);
}

struct cc_virtio_blk *cc_vm_virtio_blk(struct cc_vm *vm, unsigned n)
{
    return nth_device(vm, CC_VIRTIO_BLK, n);
}

struct cc_virtio_balloon *cc_vm_virtio_balloon(struct cc_vm *vm, unsigned n)
{
    return nth_device(vm, CC_VIRTIO_BALLOON, n);
}

unsigned cc_vm_virtio_count(const struct cc_vm *vm)
{
    return vm->virtio ? vm->virtio->n : 0;
}

int cc_vm_virtio_info(const struct cc_vm *vm, unsigned i, struct cc_virtio_info *info)
{
    if (i >= cc_vm_virtio_count(vm))
        return -ENOENT;
    const struct vm_vdev *d = &vm->virtio->d[i];
    info->type = d->type;
    info->mmio_base = d->base;
    info->irq = d->irq;
    info->failure = virtio_mmio_failure(d->mmio);
    info->status = d->mmio->status;
    return 0;
}

void vm_virtio_destroy(struct cc_vm *vm)
{
    struct cc_vm_virtio *v = vm->virtio;
    if (!v)
        return;
    for (unsigned i = 0; i < v->n; i++)
        destroy_dev(&v->d[i]);
    free(v);
    vm->virtio = NULL;
}

void vm_virtio_save(const struct cc_vm *vm, struct cc_buf *out)
{
    unsigned n = cc_vm_virtio_count(vm);
    buf_put_u8(out, VIRTIO_SAVE_VERSION);
    buf_put_u8(out, (uint8_t)n);
    for (unsigned i = 0; i < n; i++) {
        const struct vm_vdev *d = &vm->virtio->d[i];
        buf_put_u8(out, (uint8_t)d->type);
        d->mmio->ops->save(d->dev, out);
    }
}

int vm_virtio_load(struct cc_vm *vm, struct cc_rd *in, struct cc_err *err)
{
    int ver = rd_version(in, VIRTIO_SAVE_VERSION, "virtio", err);
    if (ver < 0)
        return ver;
    uint8_t n = rd_u8(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "virtio: snapshot section truncated");
    if (n != cc_vm_virtio_count(vm))
        return cc_err_set(err, EINVAL, "virtio: the snapshot has %u devices, this VM %u; add "
                          "the same devices in the same order", n, cc_vm_virtio_count(vm));
    for (unsigned i = 0; i < n; i++) {
        struct vm_vdev *d = &vm->virtio->d[i];
        uint8_t type = rd_u8(in);
        if (!rd_ok(in))
            return cc_err_set(err, EINVAL, "virtio: snapshot section truncated");
        if (type != d->type)
            return cc_err_set(err, EINVAL, "virtio: snapshot device %u has type %u, this VM's "
                              "has type %u", i, type, d->type);
        int rc = d->mmio->ops->load(d->dev, in, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- in-memory snapshots ---- */

struct cc_vm_virtio_snap {
    struct cc_buf state;        /* like vm_virtio_save, bulk data left out */
    void *data[CC_VIRTIO_MAX_DEVICES];  /* devices' copy-on-write data (disks) */
    void (*data_free[CC_VIRTIO_MAX_DEVICES])(void *data);
    unsigned n;
};

void vm_virtio_snap_free(struct cc_vm_virtio_snap *s)
{
    if (!s)
        return;
    for (unsigned i = 0; i < s->n; i++)
        if (s->data[i])
            s->data_free[i](s->data[i]);
    buf_free(&s->state);
    free(s);
}

int vm_virtio_snap_take(const struct cc_vm *vm, struct cc_vm_virtio_snap **out,
                           struct cc_err *err)
{
    struct cc_vm_virtio_snap *s = calloc(1, sizeof(*s));
    if (!s)
        return cc_err_set(err, ENOMEM, "out of memory");
    buf_init(&s->state);
    s->n = cc_vm_virtio_count(vm);
    buf_put_u8(&s->state, VIRTIO_SAVE_VERSION);
    buf_put_u8(&s->state, (uint8_t)s->n);
    for (unsigned i = 0; i < s->n; i++) {
        const struct vm_vdev *d = &vm->virtio->d[i];
        const struct cc_virtio_ops *ops = d->mmio->ops;
        buf_put_u8(&s->state, (uint8_t)d->type);
        if (!ops->save_meta) {
            ops->save(d->dev, &s->state);
            continue;
        }
        ops->save_meta(d->dev, &s->state);
        s->data[i] = ops->data_snapshot(d->dev);
        s->data_free[i] = ops->data_free;
        if (!s->data[i]) {
            vm_virtio_snap_free(s);
            return cc_err_set(err, ENOMEM, "out of memory");
        }
    }
    if (!buf_ok(&s->state)) {
        vm_virtio_snap_free(s);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    *out = s;
    return 0;
}

bool vm_virtio_snap_serialize(const struct cc_vm_virtio_snap *s, struct cc_buf *out)
{
    for (unsigned i = 0; i < s->n; i++)
        if (s->data[i])
            return false;
    buf_put(out, s->state.data, s->state.len);
    return true;
}

int vm_virtio_snap_restore(struct cc_vm *vm, const struct cc_vm_virtio_snap *s,
                              struct cc_err *err)
{
    struct cc_rd in;
    rd_init(&in, s->state.data, s->state.len);
    uint8_t ver = rd_u8(&in);
    uint8_t n = rd_u8(&in);
    if (!rd_ok(&in) || ver != VIRTIO_SAVE_VERSION)
        return cc_err_set(err, EINVAL, "virtio: snapshot is damaged");
    if (n != cc_vm_virtio_count(vm))
        return cc_err_set(err, EINVAL, "virtio: the snapshot has %u devices, this VM %u; add "
                          "the same devices in the same order", n, cc_vm_virtio_count(vm));
    for (unsigned i = 0; i < n; i++) {
        struct vm_vdev *d = &vm->virtio->d[i];
        uint8_t type = rd_u8(&in);
        if (type != d->type)
            return cc_err_set(err, EINVAL, "virtio: snapshot device %u has type %u, this VM's "
                              "has type %u", i, type, d->type);
        const struct cc_virtio_ops *ops = d->mmio->ops;
        int rc = ops->load_meta ? ops->load_meta(d->dev, &in, s->data[i], err)
                                : ops->load(d->dev, &in, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- manifest: which devices, made how ---- */

#define MANIFEST_VERSION 1

/* A string that may be absent: presence, then buf_put_str. */
static void put_str(struct cc_buf *b, const char *s)
{
    buf_put_bool(b, s != NULL);
    buf_put_str(b, s ? s : "");
}

static int get_str(struct cc_rd *r, char **out, struct cc_err *err)
{
    *out = NULL;
    bool present = rd_bool(r);
    uint32_t n = rd_u32(r);
    if (!rd_ok(r) || n > 4096 || n > rd_left(r))
        return cc_err_set(err, EINVAL, "virtio manifest: bad string");
    if (!present)
        return 0;
    *out = malloc(n + 1);
    if (!*out)
        return cc_err_set(err, ENOMEM, "out of memory");
    rd_get(r, *out, n);
    (*out)[n] = 0;
    if (strlen(*out) != n) {
        free(*out);
        *out = NULL;
        return cc_err_set(err, EINVAL, "virtio manifest: string with a NUL byte");
    }
    return 0;
}

void vm_virtio_manifest_save(const struct cc_vm *vm, struct cc_buf *out)
{
    unsigned n = vm->virtio ? vm->virtio->n : 0;
    buf_put_u8(out, MANIFEST_VERSION);
    buf_put_u32(out, n);
    for (unsigned i = 0; i < n; i++) {
        const struct vm_vdev *d = &vm->virtio->d[i];
        buf_put_u8(out, (uint8_t)d->type);
        if (d->type == CC_VIRTIO_BLK) {
            buf_put_u64(out, d->blk_size);
            buf_put_bool(out, d->blk_ro);
            put_str(out, d->blk_image);
            put_str(out, d->blk_id);
        } else if (d->type == CC_VIRTIO_NET) {
            buf_put(out, d->mac, 6);
        }
    }
}

int vm_virtio_manifest_apply(struct cc_vm *vm, struct cc_rd *in, struct cc_err *err)
{
    int ver = rd_version(in, MANIFEST_VERSION, "virtio manifest", err);
    if (ver < 0)
        return ver;
    uint32_t n = rd_u32(in);
    if (!rd_ok(in))
        return cc_err_set(err, EINVAL, "virtio manifest truncated");
    if (n > CC_VIRTIO_MAX_DEVICES)
        return cc_err_set(err, EINVAL, "virtio manifest: %u devices (at most %u)", n,
                          CC_VIRTIO_MAX_DEVICES);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t type = rd_u8(in);
        int rc;
        if (!rd_ok(in))
            return cc_err_set(err, EINVAL, "virtio manifest truncated");
        if (type == CC_VIRTIO_RNG) {
            rc = cc_vm_add_virtio_rng(vm, NULL, err);
        } else if (type == CC_VIRTIO_BLK) {
            struct cc_blk_config c = {0};
            char *image = NULL, *id = NULL;
            c.size = rd_u64(in);
            c.read_only = rd_bool(in);
            rc = get_str(in, &image, err);
            if (rc == 0)
                rc = get_str(in, &id, err);
            if (rc == 0) {
                c.image_path = image;
                c.id = id;
                rc = cc_vm_add_virtio_blk(vm, &c, NULL, err);
            }
            free(image);
            free(id);
        } else if (type == CC_VIRTIO_NET) {
            uint8_t mac[6];
            rd_get(in, mac, 6);
            if (!rd_ok(in))
                return cc_err_set(err, EINVAL, "virtio manifest truncated");
            rc = cc_vm_add_virtio_net(vm, mac, NULL, err);
        } else if (type == CC_VIRTIO_BALLOON) {
            rc = cc_vm_add_virtio_balloon(vm, NULL, err);
        } else {
            return cc_err_set(err, EINVAL, "virtio manifest: unknown device type %u", type);
        }
        if (rc < 0)
            return cc_err_prefix(err, "recreating virtio device %u", i);
    }
    return 0;
}

void vm_virtio_reseed(struct cc_vm *vm, uint64_t seed)
{
    if (!vm->virtio)
        return;
    for (unsigned i = 0; i < vm->virtio->n; i++) {
        const struct vm_vdev *d = &vm->virtio->d[i];
        if (d->mmio->ops->reseed)
            d->mmio->ops->reseed(d->dev, seed);
    }
}
