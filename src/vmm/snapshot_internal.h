/* What a snapshot is inside, shared by snapshot.c (capture, restore, fork,
 * diff, info) and snapshot_file.c (the file format). Not part of the public
 * API. */
#ifndef CC_VMM_SNAPSHOT_INTERNAL_H
#define CC_VMM_SNAPSHOT_INTERNAL_H

#include <stdint.h>

#include "chaoscontrol/snapshot.h"
#include "util/buf.h"
#include "vm_internal.h"
#include "vm_virtio.h"

#define SNAP_PAGE 4096ull
/* A section tag: four characters, the first in the lowest byte. */
#define SNAP_TAG(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

struct cc_snapshot {
    int refs;
    int memfd;
    uint64_t mem_size;
    uint64_t *page_hash;
    uint64_t pages_nonzero;
    struct cc_buf state;
    struct cc_vm_config cfg;    /* strings and callbacks cleared */
    uint64_t vtime, exits, trace_hash;
    /* virtio devices: which ones (manifest), and their state either as an
     * in-memory copy-on-write snapshot (taken from a VM) or as a full
     * serialized blob (loaded from a file). */
    struct cc_buf vdev;
    struct cc_vm_virtio_snap *vsnap;
    struct cc_buf vstate;
};

/* An empty snapshot with one reference (NULL when out of memory). */
struct cc_snapshot *snapshot_alloc(void);
/* The hash of an all-zero page: pages never written have it. */
uint64_t snapshot_zero_page_hash(void);
/* A memfd of size bytes for snapshot memory, or -errno (err set). */
int snapshot_memfd_new(uint64_t size, struct cc_err *err);
/* Seal it: from now on nobody can change or resize it. */
int snapshot_memfd_seal(int fd, struct cc_err *err);

/* A section is (u32 tag, u64 length, payload). begin writes the tag and a
 * placeholder length and returns where the length is; end fills it in. */
size_t snapshot_section_begin(struct cc_buf *b, uint32_t tag);
void snapshot_section_end(struct cc_buf *b, size_t at);
/* The tag as four printable characters, for messages. */
const char *snapshot_tag_name(uint32_t tag, char out[5]);

/* Fill s->vtime, s->exits and s->trace_hash from the VM section of the
 * state blob (for cc_snapshot_info on a loaded file). -EINVAL when the
 * blob's section headers run past its end. */
int snapshot_read_summary(struct cc_snapshot *s);

#endif
