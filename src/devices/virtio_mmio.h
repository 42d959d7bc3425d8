/* virtio-mmio transport, version 2 ("modern", virtio 1.2 section 4.2).
 *
 * The transport owns the registers, the feature handshake, the queues and
 * the interrupt; a device (rng, blk, net) only fills a struct cc_virtio_ops
 * and moves data with the virtio_mmio_pop/push helpers. The owner maps
 * the 0x1000-byte register window and forwards accesses with the offset.
 *
 * Handshake: the driver must accept VIRTIO_F_VERSION_1 and nothing we did
 * not offer; otherwise FEATURES_OK does not stick in the status register
 * (the driver reads it back and gives up, as the spec intends). DRIVER_OK
 * without an accepted FEATURES_OK is a protocol error.
 *
 * Work is synchronous: a QueueNotify write runs the device on that queue
 * during the same MMIO exit. Notifications that arrive before DRIVER_OK are
 * remembered and run when DRIVER_OK is set. No threads, no host time.
 *
 * Failure: any malformed guest input (bad queue layout, bad chain, a request
 * the device cannot parse) puts the device into the failed state: status
 * gets DEVICE_NEEDS_RESET, a configuration-change interrupt is sent (when
 * DRIVER_OK), the reason is logged (the first 16 messages per device: a
 * guest can fail and reset in a loop) and kept (virtio_mmio_failure),
 * and the device ignores its queues until the driver resets it (status 0).
 *
 * Interrupts: InterruptStatus bit 0 (used buffer) and bit 1 (configuration
 * change). The ISA line is driven high when InterruptStatus goes from 0 to
 * non-zero and low when InterruptACK clears it to 0, so the PIC sees one
 * edge per batch; the Linux driver acknowledges before it walks the used
 * rings, so nothing is lost. The same line behaviour also works with a
 * level-triggered (ELCR) PIC input. A used-buffer interrupt is suppressed
 * while the driver sets VRING_AVAIL_F_NO_INTERRUPT.
 *
 * Register accesses must be 4 bytes wide and aligned (others read 0 and are
 * ignored); the device configuration space at 0x100 takes 1, 2, 4 and 8
 * byte accesses. ConfigGeneration changes whenever the device changes its
 * configuration (virtio_mmio_config_changed). */
#ifndef CC_DEVICES_VIRTIO_MMIO_H
#define CC_DEVICES_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "chaoscontrol/err.h"
#include "devices/irq.h"
#include "devices/virtqueue.h"
#include "util/buf.h"

#define CC_VIRTIO_MMIO_SIZE 0x1000
#define CC_VIRTIO_MAX_QUEUES 4
#define CC_VIRTIO_CONFIG_MAX 64

/* Register offsets. */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_AVAIL_LOW     0x090
#define VIRTIO_MMIO_QUEUE_AVAIL_HIGH    0x094
#define VIRTIO_MMIO_QUEUE_USED_LOW      0x0a0
#define VIRTIO_MMIO_QUEUE_USED_HIGH     0x0a4
#define VIRTIO_MMIO_SHM_SEL             0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW         0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH        0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW        0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc
#define VIRTIO_MMIO_QUEUE_RESET         0x0c0
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

#define VIRTIO_MMIO_MAGIC  0x74726976u     /* "virt" */
#define CC_VIRTIO_VENDOR   0x43434343u     /* "CCCC" */

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE        1
#define VIRTIO_STATUS_DRIVER             2
#define VIRTIO_STATUS_DRIVER_OK          4
#define VIRTIO_STATUS_FEATURES_OK        8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED             128

#define VIRTIO_INT_USED   1
#define VIRTIO_INT_CONFIG 2

#define VIRTIO_F_VERSION_1 32

struct cc_virtio_mmio;

/* What a device provides. */
struct cc_virtio_ops {
    const char *name;           /* "virtio-blk", for messages */
    uint32_t device_id;         /* 1 net, 2 block, 4 entropy */
    uint64_t features;          /* device feature bits; VERSION_1 is added */
    unsigned num_queues;        /* <= CC_VIRTIO_MAX_QUEUES */
    uint16_t queue_max;         /* QueueNumMax of every queue, <= CC_VQ_MAX_SIZE */
    uint32_t config_size;       /* <= CC_VIRTIO_CONFIG_MAX */
    /* Fill config_size bytes of configuration space as it reads now. */
    void (*config)(void *dev, uint8_t *out);
    /* Queue q was notified (DRIVER_OK is set, the queue is ready and the
     * device has not failed). Pop at most one queue size of chains. */
    void (*notify)(void *dev, unsigned q);
    /* The driver reset the device (status 0); queues are already reset. */
    void (*reset)(void *dev);
    /* DRIVER_OK was just set (optional). */
    void (*driver_ok)(void *dev);

    /* The device's lifecycle, for its owner (src/vmm/vm_virtio.c, which
     * iterates over devices through these): the whole state as a record
     * (transport included) and back, destruction, and a new seed for its
     * random streams (optional). */
    void (*save)(const void *dev, struct cc_buf *out);
    int (*load)(void *dev, struct cc_rd *in, struct cc_err *err);
    void (*destroy)(void *dev);
    void (*reseed)(void *dev, uint64_t seed);
    /* In-memory snapshots of a device with bulk data (a disk): the state
     * without the data, an O(1) copy-on-write handle to the data (NULL when
     * out of memory), its release, and both back. NULL for devices whose
     * whole record is small (then save/load serve). */
    void (*save_meta)(const void *dev, struct cc_buf *out);
    void *(*data_snapshot)(void *dev);
    void (*data_free)(void *data);
    int (*load_meta)(void *dev, struct cc_rd *in, const void *data, struct cc_err *err);
};

struct cc_virtio_mmio {
    /* Wiring (not saved). */
    const struct cc_virtio_ops *ops;
    void *dev;
    uint8_t *const *mem_base;   /* where guest RAM is, read at each access */
    const uint64_t *mem_size;
    struct cc_irq_sink irq;
    unsigned irq_line;
    void (*log)(void *opaque, const char *msg);
    void *log_opaque;
    void (*mark)(void *opaque, uint64_t gpa, uint64_t len);    /* see cc_gmem */
    void *mark_opaque;
    char label[32];             /* e.g. "virtio-blk@0xd0001000" */

    /* State (saved). */
    uint32_t status;
    uint32_t dev_features_sel, drv_features_sel;
    uint64_t driver_features;
    uint32_t queue_sel;
    uint32_t isr;
    uint32_t config_gen;
    uint32_t shm_sel;
    uint32_t kicked;            /* queues notified before DRIVER_OK */
    bool irq_level;
    bool failed;
    char reason[256];           /* why the device failed */
    struct cc_vq vq[CC_VIRTIO_MAX_QUEUES];

    /* Statistics (not saved). */
    uint64_t failures;
    unsigned logged;            /* messages logged (at most 16, then quiet) */
};

/* Set up the transport for a device. mem_base/mem_size point at the owner's
 * idea of guest RAM (they are read on every access, so RAM may be remapped).
 * log may be NULL (messages are then dropped; the reason is still kept). */
void virtio_mmio_init(struct cc_virtio_mmio *t, const struct cc_virtio_ops *ops, void *dev,
                         uint8_t *const *mem_base, const uint64_t *mem_size,
                         struct cc_irq_sink irq, unsigned irq_line);
void virtio_mmio_set_log(struct cc_virtio_mmio *t, const char *label,
                            void (*log)(void *opaque, const char *msg), void *opaque);

/* Report every range of guest RAM the device writes to fn (dirty-page
 * tracking); NULL turns it off. */
void virtio_mmio_set_dirty_hook(struct cc_virtio_mmio *t,
                                   void (*fn)(void *opaque, uint64_t gpa, uint64_t len),
                                   void *opaque);

/* Register window accesses, offsets from the base. */
void virtio_mmio_read(struct cc_virtio_mmio *t, uint64_t off, void *data, unsigned size);
void virtio_mmio_write(struct cc_virtio_mmio *t, uint64_t off, const void *data, unsigned size);

/* ---- for devices ---- */

struct cc_gmem virtio_mmio_mem(const struct cc_virtio_mmio *t);

/* Is queue q live (DRIVER_OK, ready, not failed)? */
bool virtio_mmio_queue_live(const struct cc_virtio_mmio *t, unsigned q);

/* Pop the next chain of queue q: 1 with *c, 0 when none (or not live), -1
 * when the rings are malformed (the device is now failed). */
int virtio_mmio_pop(struct cc_virtio_mmio *t, unsigned q, struct cc_vq_chain *c);

/* Return a chain and raise the used-buffer interrupt (unless suppressed).
 * A failure to write the used ring fails the device. */
void virtio_mmio_push(struct cc_virtio_mmio *t, unsigned q, const struct cc_vq_chain *c,
                         uint32_t written);

/* Put the device into the failed state with a reason (printf-style). */
void virtio_mmio_fail(struct cc_virtio_mmio *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The device changed its configuration: bump ConfigGeneration and send a
 * configuration-change interrupt when the driver is running. */
void virtio_mmio_config_changed(struct cc_virtio_mmio *t);

/* The failure reason, or NULL while the device is healthy. */
const char *virtio_mmio_failure(const struct cc_virtio_mmio *t);

/* Has the driver negotiated feature bit `bit`? */
bool virtio_mmio_has_feature(const struct cc_virtio_mmio *t, unsigned bit);

/* Snapshot of the transport state (registers, queues, interrupt, failure). */
void virtio_mmio_save(const struct cc_virtio_mmio *t, struct cc_buf *out);
/* Load into t (all or nothing). The wiring and ops stay as they are; the
 * saved device id and queue count must match them. */
int virtio_mmio_load(struct cc_virtio_mmio *t, struct cc_rd *in, struct cc_err *err);

#endif
