/* ChaosControl guest SDK wire protocol, shared by the guest SDK (sdk/) and
 * the VMM (src/sdk/). Everything here is a fixed layout in guest-physical
 * memory; both sides check it with static asserts.
 *
 * The SDK area is the PC's legacy hole [0xA0000, 0x100000), which boot.c
 * marks reserved in the e820 map (our platform has no VGA and no BIOS), so
 * Linux never allocates it and guest user space maps it through /dev/mem:
 *
 *   0xA0000-0xCFFFF  mailboxes: 48 x 4 KiB, one per guest thread in a call
 *   0xD0000-0xDFFFF  coverage bitmap: 64 KiB of AFL-style edge hit counts
 *   0xE0000-0xE0FFF  header page (struct cc_proto_header), written by the
 *                    VMM when the VM is created
 *   0xE1000-0xEFFFF  assertion state table (struct cc_proto_slot[1920])
 *   0xF0000-0xFFFFF  unused
 *
 * A call: the guest thread owns a mailbox (claimed once, by compare-and-swap
 * of its thread id into header.mailbox_owner[i]), writes op, arguments and
 * payload into it, and rings the doorbell, either
 *   - port I/O: outl(i, CC_PROTO_PORT) from user space after ioperm(); or
 *   - hypercall: ioctl(/dev/chaoscontrol, CC_PROTO_IOC_HYPERCALL) with
 *     nr = KVM_HC_MAP_GPA_RANGE, args = {mailbox GPA, 1, op}: the kernel
 *     driver (kernel/patches/0003) executes VMCALL, or VMMCALL when the
 *     header has CC_PROTO_F_VMMCALL, and KVM exits to the VMM with
 *     KVM_EXIT_HYPERCALL (only when the VMM enabled KVM_CAP_EXIT_HYPERCALL:
 *     CC_PROTO_F_HYPERCALL).
 * Either way the exit is handled synchronously: when the doorbell
 * instruction completes, status and results are in the mailbox.
 *
 * Assertion evaluations do not exit: the guest counts hits, passes and fails
 * in its slot of the state table, and the VMM reads the table when it wants.
 * Only what must be acted on at once exits (a failed ALWAYS, a reached
 * UNREACHABLE, registration, lifecycle events, guidance, random values).
 * Coverage never exits either: the bitmap is plain guest RAM, so snapshots
 * carry it.
 *
 * Payloads longer than one mailbox go in pieces: CC_OP_APPEND ops (arg[0] =
 * offset, 0 starts over) stage bytes in the VMM, and the final op sets
 * CC_MB_STAGED so that its payload is the staged bytes followed by its own.
 */
#ifndef CHAOSCONTROL_PROTOCOL_H
#define CHAOSCONTROL_PROTOCOL_H

#include <stdint.h>

#define CC_PROTO_MAGIC          0x314b44534f414843ull    /* "CHAOSDK1" */
#define CC_PROTO_VERSION        1u

#define CC_PROTO_AREA_GPA       0xA0000ull
#define CC_PROTO_AREA_SIZE      0x60000ull
#define CC_PROTO_MAILBOX_GPA    0xA0000ull
#define CC_PROTO_MAILBOX_SIZE   4096u
#define CC_PROTO_MAILBOXES      48u
#define CC_PROTO_COVERAGE_GPA   0xD0000ull
#define CC_PROTO_COVERAGE_SIZE  0x10000u
#define CC_PROTO_HEADER_GPA     0xE0000ull
#define CC_PROTO_TABLE_GPA      0xE1000ull
#define CC_PROTO_TABLE_SIZE     0xF000u
#define CC_PROTO_SLOT_SIZE      32u
#define CC_PROTO_SLOTS          (CC_PROTO_TABLE_SIZE / CC_PROTO_SLOT_SIZE)

/* The doorbell port, in the ChaosControl block (CC_PORT_BASE in
 * include/chaoscontrol/platform.h). A 32-bit write of the mailbox index. */
#define CC_PROTO_PORT           0x0cc4

/* KVM_HC_MAP_GPA_RANGE: the one hypercall KVM passes to user space. */
#define CC_PROTO_HYPERCALL_NR   12u

/* Header flags, set by the VMM. */
#define CC_PROTO_F_HYPERCALL    0x1u    /* the hypercall doorbell works */
#define CC_PROTO_F_VMMCALL      0x2u    /* AMD host: the instruction is VMMCALL */
#define CC_PROTO_F_FORCE_PORT   0x4u    /* the VMM asks for the port doorbell */

struct cc_proto_header {
    uint64_t magic;                 /* CC_PROTO_MAGIC */
    uint32_t version;               /* CC_PROTO_VERSION */
    uint32_t flags;                 /* CC_PROTO_F_* */
    uint32_t header_size;           /* sizeof(struct cc_proto_header) */
    uint32_t port;                  /* CC_PROTO_PORT */
    uint32_t hypercall_nr;          /* CC_PROTO_HYPERCALL_NR */
    uint32_t mailbox_count;
    uint64_t mailbox_gpa;
    uint32_t mailbox_size;
    uint32_t coverage_size;
    uint64_t coverage_gpa;
    uint64_t table_gpa;
    uint32_t table_slots;
    uint32_t slot_size;
    uint8_t reserved[184];
    /* Written by the guest: the thread id owning each mailbox, 0 = free. */
    uint32_t mailbox_owner[64];
};

/* Mailbox flags (guest). */
#define CC_MB_STAGED            0x1u    /* payload = staged bytes + data[0..len) */

#define CC_PROTO_MAILBOX_DATA   (CC_PROTO_MAILBOX_SIZE - 64u)

struct cc_proto_mailbox {
    uint32_t op;                    /* CC_OP_* */
    int32_t status;                 /* VMM: 0 or a negative errno */
    uint32_t len;                   /* payload bytes in data */
    uint32_t flags;                 /* CC_MB_* */
    uint64_t arg[3];
    uint64_t ret[2];
    uint64_t reserved;
    uint8_t data[CC_PROTO_MAILBOX_DATA];
};

/* Operations. "data" is the payload (after staging). */
enum cc_proto_op {
    CC_OP_PING = 1,         /* nothing; for measuring the doorbell */
    CC_OP_HELLO = 2,        /* arg0 = pid, arg1 = CC_HELLO_*; data = program name */
    CC_OP_APPEND = 3,       /* arg0 = offset (0 starts over); data staged */
    CC_OP_CATALOG = 4,      /* arg0 = record count; data = cc_proto_catrec records;
                               reply: data = uint32 slot + 1 per record (0 = none) */
    CC_OP_ASSERT = 5,       /* arg0 = id, arg1 = CC_ASSERT_* | kind << 8,
                               arg2 = slot + 1 or 0; data = details (JSON text,
                               may be empty). Sent for failures (the first
                               in the run, per the slot's count) and for every
                               evaluation of an entry without a slot */
    CC_OP_SETUP = 6,        /* data = details (JSON text, may be empty) */
    CC_OP_EVENT = 7,        /* data = name, NUL, details */
    CC_OP_GUIDANCE = 8,     /* arg0 = value (int64), arg1 = 1 maximize / 0 minimize;
                               data = message */
    CC_OP_RANDOM = 9,       /* arg0 = CC_RAND_*, arg1 = n (choice) or byte count;
                               reply: ret0 = value; data = bytes (CC_RAND_BYTES) */
    CC_OP_JSON = 10,        /* data = one Antithesis JSON event (libvoidstar shim) */
};

#define CC_HELLO_KCOV           0x1u    /* kernel coverage folded into the bitmap */
#define CC_HELLO_HYPERCALL      0x2u    /* this process rings by hypercall */
#define CC_HELLO_VOIDSTAR       0x4u    /* the libvoidstar shim */

#define CC_ASSERT_COND          0x1u    /* the condition's value */
#define CC_ASSERT_COUNTED       0x2u    /* already counted in the state table */

#define CC_RAND_U64             1u
#define CC_RAND_CHOICE          2u
#define CC_RAND_BYTES           3u

/* Assertion kinds (SDK.md). */
enum cc_proto_kind {
    CC_KIND_ALWAYS = 1,
    CC_KIND_ALWAYS_OR_UNREACHABLE = 2,
    CC_KIND_SOMETIMES = 3,
    CC_KIND_REACHABLE = 4,
    CC_KIND_UNREACHABLE = 5,
};

/* One catalog record in a CC_OP_CATALOG payload: the header, then message,
 * file and function (no NULs), then zero padding to a multiple of 8. */
struct cc_proto_catrec {
    uint64_t id;
    uint32_t kind;
    uint32_t line;
    uint16_t message_len;
    uint16_t file_len;
    uint16_t function_len;
    uint16_t reserved;
};

#define CC_PROTO_STR_MAX        1024u   /* longer catalog strings are cut */

/* Assertion state table slot. The VMM assigns slots at registration and
 * sets kind and flags; the guest only adds to the counters. */
#define CC_SLOT_USED            0x1u

struct cc_proto_slot {
    uint64_t hits;
    uint64_t passes;
    uint64_t fails;
    uint32_t flags;
    uint32_t kind;
};

/* The /dev/chaoscontrol ioctl (kernel/patches/0003). */
#define CC_PROTO_HC_VMMCALL     0x1u

struct cc_proto_hypercall {
    uint64_t nr;
    uint64_t args[4];
    uint64_t ret;
    uint32_t flags;                 /* CC_PROTO_HC_* */
    uint32_t reserved;
};

/* _IOWR('C', 0xc0, struct cc_proto_hypercall) */
#define CC_PROTO_IOC_HYPERCALL  ((3u << 30) | ((uint32_t)sizeof(struct cc_proto_hypercall) << 16) | \
                                 ('C' << 8) | 0xc0u)

/* Stable assertion id: 64-bit FNV-1a of "file:line:message". */
static inline uint64_t cc_proto_fnv1a(uint64_t h, const void *p, uint64_t n)
{
    const uint8_t *s = (const uint8_t *)p;
    for (uint64_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static inline uint64_t cc_proto_assert_id(const char *file, uint64_t file_len, uint32_t line,
                                          const char *message, uint64_t message_len)
{
    char num[16];
    int n = 0;
    char tmp[12];
    int t = 0;
    do {
        tmp[t++] = (char)('0' + line % 10);
        line /= 10;
    } while (line && t < 12);
    num[n++] = ':';
    while (t)
        num[n++] = tmp[--t];
    num[n++] = ':';
    uint64_t h = 0xcbf29ce484222325ull;
    h = cc_proto_fnv1a(h, file, file_len);
    h = cc_proto_fnv1a(h, num, (uint64_t)n);
    return cc_proto_fnv1a(h, message, message_len);
}

#ifdef __cplusplus
#define CC_PROTO_STATIC_ASSERT static_assert
#else
#define CC_PROTO_STATIC_ASSERT _Static_assert
#endif

CC_PROTO_STATIC_ASSERT(sizeof(struct cc_proto_header) == 512, "header layout");
CC_PROTO_STATIC_ASSERT(__builtin_offsetof(struct cc_proto_header, mailbox_owner) == 256,
                       "header layout");
CC_PROTO_STATIC_ASSERT(sizeof(struct cc_proto_mailbox) == CC_PROTO_MAILBOX_SIZE, "mailbox layout");
CC_PROTO_STATIC_ASSERT(__builtin_offsetof(struct cc_proto_mailbox, data) == 64, "mailbox layout");
CC_PROTO_STATIC_ASSERT(sizeof(struct cc_proto_catrec) == 24, "catalog record layout");
CC_PROTO_STATIC_ASSERT(sizeof(struct cc_proto_slot) == CC_PROTO_SLOT_SIZE, "slot layout");
CC_PROTO_STATIC_ASSERT(sizeof(struct cc_proto_hypercall) == 56, "ioctl layout");
CC_PROTO_STATIC_ASSERT(CC_PROTO_MAILBOX_GPA + CC_PROTO_MAILBOXES * CC_PROTO_MAILBOX_SIZE <=
                       CC_PROTO_COVERAGE_GPA, "mailboxes overlap the bitmap");
CC_PROTO_STATIC_ASSERT(CC_PROTO_COVERAGE_GPA + CC_PROTO_COVERAGE_SIZE <= CC_PROTO_HEADER_GPA,
                       "bitmap overlaps the header");
CC_PROTO_STATIC_ASSERT(CC_PROTO_TABLE_GPA + CC_PROTO_TABLE_SIZE <= 0x100000ull,
                       "table leaves the reserved area");
CC_PROTO_STATIC_ASSERT(CC_PROTO_MAILBOXES <= 64, "owner array too small");

#endif
