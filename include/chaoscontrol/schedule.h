/* libchaoscontrol: fault schedules for multi-VM simulations (sim.h).
 *
 * A schedule is a list of faults, each at a virtual time (nanoseconds on the
 * simulation's global timeline). Build one in C, or read and write it as
 * JSON; the fault engine (sim.h) applies each fault at its time and writes
 * it to the run log.
 *
 *   struct cc_schedule *s = cc_schedule_new();
 *   struct cc_fault f;
 *   cc_fault_init(&f, CC_FAULT_PARTITION, 2 * CC_SEC);
 *   f.sides[0] = 1u << 0;            // VM 0 on one side, the rest on the other
 *   f.n_sides = 1;
 *   f.duration_ns = 3 * CC_SEC;      // healed at 5 s
 *   cc_schedule_add(s, &f, &err);
 *   cc_fault_init(&f, CC_FAULT_LOSS, 6 * CC_SEC);
 *   f.ppm = 200000;                  // 20 % on every link from 6 s on
 *   cc_schedule_add(s, &f, &err);
 *   char *json = cc_schedule_to_json(s);
 *
 * Faults are kept ordered by time; faults at equal times keep the order in
 * which they were added (and are applied in that order).
 *
 * ---- JSON form (version 1) ----
 *
 *   {"version": 1,
 *    "faults": [
 *      {"at": "2s",    "type": "partition", "sides": [[0], [1, 2]], "duration": "3s"},
 *      {"at": "6s",    "type": "loss", "rate": 0.2},
 *      {"at": "6s",    "type": "latency", "from": 0, "to": [1, 2], "latency": "5ms"},
 *      {"at": "7s",    "type": "pause", "vm": 2, "duration": "1500ms"},
 *      {"at": 8000000000, "type": "disk_write_error", "vm": 1, "offset": 0, "length": 4096},
 *      {"at": "9s",    "type": "vcpu_schedule", "vm": 0, "seed": 12345}
 *    ]}
 *
 * "version" is optional (1 when absent; a newer version is refused); the
 * top level may have no other keys. Every fault is an object with:
 *   at        required: when, a time (below), >= 0
 *   type      required: one of the names in the table below
 *   duration  optional: a time > 0; the fault is undone that long after
 *             "at" (required for pause; not allowed for heal, kill,
 *             restart, clock_jump, irq, nmi, vcpu_schedule: they are
 *             instants)
 * and the keys of its type; any other key is an error (so typos are
 * caught). Times are either integers (nanoseconds) or strings of a decimal
 * number and a unit: "250ns", "100us", "1.5ms", "2s" (the value must come
 * to a whole number of nanoseconds). Rates are numbers in [0, 1] (kept as
 * parts per million). Sizes are integers (bytes) or strings with a K, M or
 * G suffix (binary: "64M" = 64 MiB).
 *
 *   type              keys (defaults)                  effect
 *   partition         sides: [[vm,...], ...]           VMs on different sides cannot talk;
 *                                                      VMs in no side form one more side;
 *                     bridge: [vm,...] ([])            except these: they reach every side;
 *                                                      replaces any partition in place
 *   heal              -                                ends the partition
 *   latency           latency: time, from, to          one-way delay of the links
 *   jitter            jitter: time, from, to           + uniform [0, jitter] per frame
 *   bandwidth         bps: integer (0 = unlimited)     serialization delay, queueing
 *   loss              rate, from, to                   frames dropped with this probability
 *   corrupt           rate, from, to                   one bit flipped past the Ethernet header
 *   reorder           rate, delay: time (1ms), from, to  frames held back by delay, so later
 *                                                      ones overtake them
 *   duplicate         rate, from, to                   frames delivered twice
 *   disk_read_error   vm, offset (0), length (0 = to the end), count ("unlimited")
 *   disk_write_error  vm, offset, length, count        (virtio-blk faults, virtio.h:
 *   disk_torn_write   vm, offset, length, count,        the guest sees EIO for errors)
 *                     torn_bytes ("random"), torn_error (false)
 *   disk_corrupt_read  vm, offset, length, count, bits (1)
 *   disk_corrupt_write vm, offset, length, count, bits (1)
 *   disk_full         vm, capacity: size               new writes fail beyond capacity
 *   kill              vm                               the VM stops for good
 *   pause             vm, duration                     not scheduled; its clock then jumps
 *   restart           vm                               back to its post-setup snapshot,
 *                                                      keeping its disk
 *   clock_skew        vm, ppm: integer (> -1000000)    its clock runs at (1 + ppm/1e6)
 *   clock_jump        vm, delta: time (may be "-5s")   its clock jumps (backward: RTC only)
 *   memory_pressure   vm, size: size                   balloon of that size
 *   irq               vm, line: 0-15 (not 2), count (1)  edges on an ISA line
 *   nmi               vm                               a non-maskable interrupt
 *   vcpu_schedule     vm, seed: u64                    from now on the VM's vCPU scheduler
 *                                                      draws from a stream seeded with seed
 *                                                      (vm.h, cc_vm_sched_reseed): other
 *                                                      thread interleavings on an SMP VM;
 *                                                      skipped (logged) on a one-vCPU VM
 *
 * "from" and "to" select links by sending and receiving VM: an index or an
 * array of indices; absent means every VM. Link settings apply to each
 * selected ordered pair (from != to). A count is an integer >= 1 or
 * "unlimited". Undoing (duration) a link setting puts the simulation's
 * default for it back; undoing a partition heals; a disk fault is removed;
 * skew goes back to 0; memory pressure to 0. A seed is an integer 0 to
 * 2^64-1: a JSON number up to 2^53, above that a string of decimal digits
 * ("18446744073709551615"; either form is read). A restart puts the VM's
 * vCPU scheduler back where it was at the restart point, like the rest of
 * the VM (a vcpu_schedule before the restart no longer counts).
 *
 * Errors name the source and the JSON path, e.g.
 *   schedule.json: faults[3].vm: 5 is out of range (3 VMs)
 *   schedule.json: faults[0].type: unknown fault type 'partion'
 *   schedule.json: faults[1].at: -5 is negative
 *   schedule.json: line 4, column 12: invalid JSON: ...
 */
#ifndef CHAOSCONTROL_SCHEDULE_H
#define CHAOSCONTROL_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

#define CC_SIM_MAX_VMS 64           /* VMs per simulation (link masks are 64-bit) */
#define CC_SCHEDULE_MAX_SIDES 16    /* partition sides */
#define CC_SCHEDULE_VERSION 1
#define CC_SEC 1000000000ull
#define CC_MSEC 1000000ull
#define CC_USEC 1000ull
#define CC_FAULT_UNLIMITED UINT64_MAX   /* disk fault count: every matching request */
#define CC_FAULT_TORN_RANDOM UINT32_MAX /* torn_bytes drawn from the disk's stream */

enum cc_fault_type {
    CC_FAULT_PARTITION = 1,
    CC_FAULT_HEAL,
    CC_FAULT_LATENCY,
    CC_FAULT_JITTER,
    CC_FAULT_BANDWIDTH,
    CC_FAULT_LOSS,
    CC_FAULT_CORRUPT,
    CC_FAULT_REORDER,
    CC_FAULT_DUPLICATE,
    CC_FAULT_DISK_READ_ERROR,
    CC_FAULT_DISK_WRITE_ERROR,
    CC_FAULT_DISK_TORN_WRITE,
    CC_FAULT_DISK_CORRUPT_READ,
    CC_FAULT_DISK_CORRUPT_WRITE,
    CC_FAULT_DISK_FULL,
    CC_FAULT_KILL,
    CC_FAULT_PAUSE,
    CC_FAULT_RESTART,
    CC_FAULT_CLOCK_SKEW,
    CC_FAULT_CLOCK_JUMP,
    CC_FAULT_MEMORY_PRESSURE,
    CC_FAULT_IRQ,
    CC_FAULT_NMI,
    CC_FAULT_VCPU_SCHEDULE,
    CC_FAULT_TYPE_END           /* one past the last */
};

/* The JSON name ("partition", "disk_read_error", ...) or "?". */
const char *cc_fault_type_name(enum cc_fault_type t);
/* The type with that JSON name, or 0. */
enum cc_fault_type cc_fault_type_from_name(const char *name);

/* Which fields a type uses. */
bool cc_fault_is_network(enum cc_fault_type t);     /* partition .. duplicate */
bool cc_fault_is_link(enum cc_fault_type t);        /* latency .. duplicate (from/to) */
bool cc_fault_is_disk(enum cc_fault_type t);
bool cc_fault_has_vm(enum cc_fault_type t);         /* disk, process, clock, memory, irq, nmi,
                                                       vcpu_schedule */
bool cc_fault_is_instant(enum cc_fault_type t);     /* takes no duration */

/* One fault. Only the fields of its type matter; cc_fault_init zeroes the
 * rest and sets the defaults. */
struct cc_fault {
    enum cc_fault_type type;
    uint64_t at_ns;             /* global virtual time */
    uint64_t duration_ns;       /* 0: until changed; PAUSE: required */
    unsigned vm;                /* VM faults: the VM's index */
    uint64_t from, to;          /* link faults: VM bit masks; 0 = every VM */
    uint64_t sides[CC_SCHEDULE_MAX_SIDES];  /* PARTITION: VM masks, disjoint */
    unsigned n_sides;
    uint64_t bridge;            /* PARTITION: VMs on no side that still reach
                                   every side (clients, as in Jepsen's control
                                   node); 0: none */
    uint64_t ns;                /* LATENCY, JITTER: the delay; REORDER: hold-back */
    uint64_t bps;               /* BANDWIDTH: bits per second, 0 = unlimited */
    uint32_t ppm;               /* LOSS, CORRUPT, REORDER, DUPLICATE: parts per million */
    int64_t skew_ppm;           /* CLOCK_SKEW */
    int64_t delta_ns;           /* CLOCK_JUMP */
    uint64_t bytes;             /* MEMORY_PRESSURE: balloon size; DISK_FULL: capacity */
    uint64_t offset, length;    /* DISK_*: byte range, length 0 = to the end */
    uint64_t count;             /* DISK_*: requests affected (default UNLIMITED);
                                   IRQ: edges (default 1) */
    uint32_t torn_bytes;        /* DISK_TORN_WRITE (default TORN_RANDOM) */
    bool torn_error;            /* DISK_TORN_WRITE */
    uint32_t bits;              /* DISK_CORRUPT_*: bit flips per request (default 1) */
    unsigned line;              /* IRQ */
    uint64_t seed;              /* VCPU_SCHEDULE: the scheduler's new seed */
};

/* Zero f and set type, time and the type's defaults (count, torn_bytes,
 * bits, reorder delay 1 ms). */
void cc_fault_init(struct cc_fault *f, enum cc_fault_type type, uint64_t at_ns);

/* Check one fault. n_vms = 0 checks VM indices only against
 * CC_SIM_MAX_VMS. The message starts with what is wrong (the caller adds
 * where, e.g. "faults[3].vm: "). */
int cc_fault_validate(const struct cc_fault *f, unsigned n_vms, struct cc_err *err);

/* One line for logs and tables, e.g. "partition [0] | [1 2] for 3s",
 * "loss 20% 0->*", "pause vm 2 for 1.5s". */
void cc_fault_describe(const struct cc_fault *f, char *buf, size_t len);

/* Format a time the way the JSON form writes it ("2s", "1500ms", "7ns");
 * negative values get a "-". */
void cc_time_format(int64_t ns, char *buf, size_t len);
/* Parse a time the way the JSON form reads it: a decimal number with a
 * unit ("2s", "1.5ms", "100us", "250ns") or plain digits (nanoseconds).
 * Returns false when malformed, negative or not whole nanoseconds. */
bool cc_time_parse(const char *s, uint64_t *ns);

struct cc_schedule;

struct cc_schedule *cc_schedule_new(void);          /* NULL when out of memory */
void cc_schedule_free(struct cc_schedule *s);
struct cc_schedule *cc_schedule_clone(const struct cc_schedule *s);

/* Add a fault (checked with cc_fault_validate(f, 0)) in time order, after
 * the faults already at the same time. Returns its index. */
int cc_schedule_add(struct cc_schedule *s, const struct cc_fault *f, struct cc_err *err);
/* Remove fault i (the later ones move down). -ENOENT if out of range. */
int cc_schedule_remove(struct cc_schedule *s, size_t i);
size_t cc_schedule_count(const struct cc_schedule *s);
const struct cc_fault *cc_schedule_get(const struct cc_schedule *s, size_t i);
/* Index of the first fault at or after t (cc_schedule_count if none). */
size_t cc_schedule_first_at(const struct cc_schedule *s, uint64_t t);

/* Check every fault against a simulation of n_vms VMs; errors say
 * "faults[i].<field>: ...". */
int cc_schedule_validate(const struct cc_schedule *s, unsigned n_vms, struct cc_err *err);

/* Parse the JSON form. name is used in messages (a file name, or NULL for
 * "schedule"); n_vms as for cc_fault_validate. */
int cc_schedule_parse(const char *text, const char *name, unsigned n_vms,
                      struct cc_schedule **out, struct cc_err *err);
/* Read and parse a file (messages name the file). */
int cc_schedule_load(const char *path, unsigned n_vms, struct cc_schedule **out,
                     struct cc_err *err);

/* The JSON form (malloc'd, NULL when out of memory). Parsing it gives the
 * same schedule back. */
char *cc_schedule_to_json(const struct cc_schedule *s);
/* One fault as a JSON object text (malloc'd). */
char *cc_fault_to_json(const struct cc_fault *f);
/* Write the JSON form to a file atomically. */
int cc_schedule_save(const struct cc_schedule *s, const char *path, struct cc_err *err);

#endif
