/* libchaoscontrol: virtio devices (virtio-mmio, version 2) for a VM.
 *
 * Four deterministic devices: an entropy source fed by the VM's seeded
 * ChaCha20 stream, a copy-on-write disk with fault injection, a network
 * card whose frames go to and come from the host, and a memory balloon. Each device sits in its
 * own 4 KiB MMIO window at 0xd0000000 + i * 0x1000 with its own ISA
 * interrupt (5, 6, 7, 9, 10, 11, 12, 14, 15 in the order devices are added)
 * and is announced to Linux on the kernel command line
 * (virtio_mmio.device=4K@0xd0000000:5), so devices must be added BEFORE
 * cc_vm_load_linux(). At most 9 devices per VM.
 *
 *   struct cc_virtio_blk *disk;
 *   struct cc_blk_config bc = {.size = 64 << 20, .image_path = "base.img"};
 *   if (cc_vm_add_virtio_rng(vm, NULL, &err) < 0 ||
 *       cc_vm_add_virtio_blk(vm, &bc, &disk, &err) < 0 ||
 *       cc_vm_load_linux(vm, kernel, initrd, NULL, &err) < 0) ...
 *   struct cc_blk_fault f = {.kind = CC_BLK_FAULT_READ_ERROR, .offset = 0,
 *                            .length = 4096, .count = 1};
 *   cc_virtio_blk_fault_add(disk, &f, &err);   // next read of block 0 fails
 *
 * Devices are destroyed with the VM. The guest is the adversary: every
 * guest-supplied index, length and address is checked; a malformed queue
 * puts that device into a failed state (DEVICE_NEEDS_RESET) with a reason
 * (cc_vm_virtio_info) and never affects the VMM. Device work happens
 * synchronously on the guest's notification exit; nothing here uses threads
 * or host time. None of these functions are thread-safe: call them from the
 * thread that runs the VM (and, for a wire, the thread that runs both). */
#ifndef CHAOSCONTROL_VIRTIO_H
#define CHAOSCONTROL_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

struct cc_vm;
struct cc_virtio_rng;
struct cc_virtio_blk;
struct cc_virtio_net;
struct cc_virtio_balloon;
struct cc_blk_overlay;

#define CC_VIRTIO_MMIO_BASE 0xd0000000ull
#define CC_VIRTIO_MAX_DEVICES 9

enum cc_virtio_type {
    CC_VIRTIO_NET = 1,
    CC_VIRTIO_BLK = 2,
    CC_VIRTIO_RNG = 4,
    CC_VIRTIO_BALLOON = 5,
};

struct cc_virtio_info {
    enum cc_virtio_type type;
    uint64_t mmio_base;
    unsigned irq;
    const char *failure;    /* NULL while healthy; else why the device failed */
    uint32_t status;        /* the device status register */
};

unsigned cc_vm_virtio_count(const struct cc_vm *vm);
/* Device i (in the order added). -ENOENT when there is no such device. */
int cc_vm_virtio_info(const struct cc_vm *vm, unsigned i, struct cc_virtio_info *info);

/* The n-th device of a type (0 = the first added), or NULL: for VMs whose
 * devices were made elsewhere, e.g. by cc_vm_fork. */
struct cc_virtio_net *cc_vm_virtio_net(struct cc_vm *vm, unsigned n);
struct cc_virtio_blk *cc_vm_virtio_blk(struct cc_vm *vm, unsigned n);
struct cc_virtio_balloon *cc_vm_virtio_balloon(struct cc_vm *vm, unsigned n);

/* ---- virtio-rng ----
 * Bytes come from the stream (seed, "virtio-rng<i>"), i = the device's
 * index among rng devices, seed = the VM's seed. */
int cc_vm_add_virtio_rng(struct cc_vm *vm, struct cc_virtio_rng **out, struct cc_err *err);
/* Restart the stream from (seed, the device's label): a fork that reseeds
 * with a new seed diverges from its siblings; equal seeds stay equal. */
void cc_virtio_rng_reseed(struct cc_virtio_rng *r, uint64_t seed);
uint64_t cc_virtio_rng_bytes_served(const struct cc_virtio_rng *r);
const char *cc_virtio_rng_failure(const struct cc_virtio_rng *r);

/* ---- virtio-blk ----
 * A disk of `size` bytes, copy-on-write over all zeros or a read-only base
 * image file. The file is opened O_RDONLY and never written: only written
 * 4 KiB pages are kept, in memory, in a refcounted radix tree whose pages
 * and nodes are shared between snapshots and forks (cc_virtio_blk_snapshot
 * is O(1); a disk with 1 MiB written costs about 1 MiB however many
 * snapshots share it). Requests: IN, OUT, FLUSH, GET_ID. */
struct cc_blk_config {
    uint64_t size;              /* bytes, multiple of 512; 0 = the image's size
                                   rounded up to 512 (required without an image) */
    const char *image_path;     /* read-only base image; NULL = all zeros */
    bool read_only;             /* offer VIRTIO_BLK_F_RO; writes get IOERR */
    const char *id;             /* GET_ID string, at most 20 bytes;
                                   NULL = "virtio-blk<i>" */
};

int cc_vm_add_virtio_blk(struct cc_vm *vm, const struct cc_blk_config *cfg,
                         struct cc_virtio_blk **out, struct cc_err *err);
/* Check a disk configuration as cc_vm_add_virtio_blk would (the image is a
 * readable regular file; the size fits), without a VM or /dev/kvm. */
int cc_blk_config_check(const struct cc_blk_config *cfg, struct cc_err *err);

uint64_t cc_virtio_blk_size(const struct cc_virtio_blk *b);
const char *cc_virtio_blk_failure(const struct cc_virtio_blk *b);

/* Host access to the disk contents (through the overlay; the image file is
 * never written). Out-of-range requests return -EINVAL. */
int cc_virtio_blk_read(struct cc_virtio_blk *b, uint64_t off, void *buf, size_t len,
                       struct cc_err *err);
int cc_virtio_blk_write(struct cc_virtio_blk *b, uint64_t off, const void *buf, size_t len,
                        struct cc_err *err);

/* In-memory snapshots of the disk contents. snapshot shares every page
 * (O(1)); restore makes the device's contents a copy-on-write clone of ov
 * (which must come from a disk with the same base and size). The overlay
 * stays valid until freed, independent of the device. */
struct cc_blk_overlay *cc_virtio_blk_snapshot(struct cc_virtio_blk *b);
int cc_virtio_blk_restore(struct cc_virtio_blk *b, const struct cc_blk_overlay *ov,
                          struct cc_err *err);
void cc_blk_overlay_free(struct cc_blk_overlay *ov);

struct cc_blk_usage {
    uint64_t pages;             /* 4 KiB pages written in this disk (or overlay) */
    uint64_t live_pages;        /* pages allocated by all disks sharing the base */
    uint64_t live_nodes;        /* radix-tree nodes (4 KiB each) allocated, likewise */
};
void cc_virtio_blk_usage(const struct cc_virtio_blk *b, struct cc_blk_usage *u);
void cc_blk_overlay_usage(const struct cc_blk_overlay *ov, struct cc_blk_usage *u);

/* Fault injection. A fault matches a request of its kind whose byte range
 * overlaps [offset, offset + length) (length 0 = to the end of the disk),
 * and affects `count` matching requests (CC_BLK_FAULT_UNLIMITED = every
 * one). When several faults match a request, the one added first wins.
 * What the guest sees (virtio-blk has no finer error than IOERR, so Linux
 * reports EIO for every error status):
 *  READ_ERROR     the read returns status IOERR; no data is transferred.
 *  WRITE_ERROR    the write returns IOERR; nothing is written.
 *  TORN_WRITE     only the first torn_bytes bytes of the write's data land
 *                 (CC_BLK_TORN_RANDOM: a multiple of 512 below the request
 *                 length, drawn from the device's seeded stream); the
 *                 request then reports OK, as a disk that lost power with
 *                 the rest still in its cache would (the guest notices after
 *                 a restart or cache drop), or IOERR when torn_error is set.
 *  CORRUPT_READ   flip_bits bits (default 1) of the returned data flip at
 *                 positions drawn from the device's seeded stream, within
 *                 the overlap of request and fault range; status OK; the
 *                 disk itself is unchanged (a transient media/bus error).
 *  CORRUPT_WRITE  the same flips applied to the data as it is stored (a
 *                 persistent, silent corruption); status OK.
 *  DISK_FULL      thin provisioning runs out: a write that would store new
 *                 pages while the disk already holds full_bytes or more of
 *                 written pages fails with IOERR and writes nothing;
 *                 rewrites of stored pages still succeed. (To fail writes
 *                 above a disk offset instead, use WRITE_ERROR with that
 *                 range.) Flushes are not affected by faults. */
enum cc_blk_fault_kind {
    CC_BLK_FAULT_READ_ERROR = 1,
    CC_BLK_FAULT_WRITE_ERROR,
    CC_BLK_FAULT_TORN_WRITE,
    CC_BLK_FAULT_CORRUPT_READ,
    CC_BLK_FAULT_CORRUPT_WRITE,
    CC_BLK_FAULT_DISK_FULL,
};

#define CC_BLK_FAULT_UNLIMITED UINT64_MAX
#define CC_BLK_TORN_RANDOM UINT32_MAX
#define CC_BLK_MAX_FAULTS 64

struct cc_blk_fault {
    enum cc_blk_fault_kind kind;
    uint64_t offset, length;    /* byte range; length 0 = to the end */
    uint64_t count;             /* requests affected (>= 1), or UNLIMITED */
    uint32_t torn_bytes;        /* TORN_WRITE */
    bool torn_error;            /* TORN_WRITE: report IOERR instead of OK */
    uint32_t flip_bits;         /* CORRUPT_*: bits per request, 0 = 1 */
    uint64_t full_bytes;        /* DISK_FULL: written-page capacity */
};

/* Returns a fault id (>= 0) or a negative errno (bad kind, range or count,
 * or CC_BLK_MAX_FAULTS active). */
int cc_virtio_blk_fault_add(struct cc_virtio_blk *b, const struct cc_blk_fault *f,
                            struct cc_err *err);
/* Remove one fault (-ENOENT if unknown) or all of them. */
int cc_virtio_blk_fault_remove(struct cc_virtio_blk *b, int id);
void cc_virtio_blk_fault_clear(struct cc_virtio_blk *b);
/* Requests the fault has affected so far (-ENOENT if unknown). A fault
 * whose count is used up stays listed with hits == count. */
int64_t cc_virtio_blk_fault_hits(const struct cc_virtio_blk *b, int id);

struct cc_blk_stats {
    uint64_t reads, writes, flushes, get_ids, unsupported;
    uint64_t bytes_read, bytes_written;
    uint64_t ioerrs;            /* requests answered IOERR (faults or bad ranges) */
    uint64_t faults_hit;        /* requests affected by a fault */
};
void cc_virtio_blk_stats(const struct cc_virtio_blk *b, struct cc_blk_stats *s);

/* ---- virtio-net ----
 * One RX and one TX queue, no offloads; features MAC and STATUS. Frames
 * are Ethernet frames without the virtio header, at most
 * CC_NET_MAX_FRAME bytes. */
#define CC_NET_MAX_FRAME 1518
#define CC_NET_RX_QUEUE_DEFAULT 256

/* mac NULL = 02:cc:00:00:00:<index + 1> (locally administered). */
int cc_vm_add_virtio_net(struct cc_vm *vm, const uint8_t mac[6], struct cc_virtio_net **out,
                         struct cc_err *err);

/* Frames the guest transmits are handed to fn during the guest's
 * notification exit (the pointer is valid only during the call). fn may
 * call cc_virtio_net_inject on any device, including this one. */
void cc_virtio_net_set_endpoint(struct cc_virtio_net *n,
                                void (*fn)(void *opaque, const uint8_t *frame, size_t len),
                                void *opaque);

/* Host to guest: deliver a frame into the guest's next RX buffer, or queue
 * it in the device (up to the RX queue limit) until the guest posts one.
 * Returns 0 when delivered or queued; a dropped frame (counted) gives
 * -ENOBUFS when the queue is full, -EMSGSIZE when empty or oversized,
 * -ENETDOWN when the link is down. */
int cc_virtio_net_inject(struct cc_virtio_net *n, const void *frame, size_t len);

/* Bound of the device's pending RX queue in frames (default 256, >= 1);
 * frames beyond a lowered limit are dropped (counted). */
void cc_virtio_net_set_rx_limit(struct cc_virtio_net *n, unsigned frames);

/* Link state in the STATUS config field (a config-change interrupt). */
void cc_virtio_net_set_link(struct cc_virtio_net *n, bool up);

void cc_virtio_net_mac(const struct cc_virtio_net *n, uint8_t mac[6]);
const char *cc_virtio_net_failure(const struct cc_virtio_net *n);

struct cc_net_stats {
    uint64_t tx_frames, tx_bytes;
    uint64_t tx_dropped;        /* empty, oversized, link down or no endpoint */
    uint64_t rx_frames, rx_bytes;       /* delivered into guest buffers */
    uint64_t rx_queued;         /* waiting in the device now */
    uint64_t rx_dropped;        /* queue full, oversized, or link down */
    uint64_t rx_too_small;      /* dropped: the guest's buffer could not hold it */
};
void cc_virtio_net_stats(const struct cc_virtio_net *n, struct cc_net_stats *s);

/* ---- virtio-balloon ----
 * A memory balloon (devices/virtio_balloon.h): the host sets a target in
 * 4 KiB pages and the guest's driver hands that many pages over, making
 * them unusable inside the guest (Linux: MemTotal and MemFree drop). The
 * pages are only counted, never discarded, so guest RAM and determinism
 * are unaffected. No optional features (no statistics queue, no
 * deflate-on-OOM). */
int cc_vm_add_virtio_balloon(struct cc_vm *vm, struct cc_virtio_balloon **out,
                             struct cc_err *err);
/* Ask for `pages` pages (0 = give everything back); a configuration-change
 * interrupt tells the driver. */
void cc_virtio_balloon_set_target(struct cc_virtio_balloon *b, uint64_t pages);

struct cc_balloon_stats {
    uint64_t target_pages;      /* what the host asks for */
    uint64_t actual_pages;      /* what the guest holds in the balloon now */
    uint64_t inflated, deflated;            /* PFNs received on each queue */
    uint64_t inflate_reqs, deflate_reqs;    /* requests (chains) */
    uint64_t bad_pfns;          /* PFNs outside guest RAM (ignored) */
    uint64_t target_changes;
};
void cc_virtio_balloon_stats(const struct cc_virtio_balloon *b, struct cc_balloon_stats *s);
const char *cc_virtio_balloon_failure(const struct cc_virtio_balloon *b);

#endif
