/* store: Raft's persistent state (currentTerm, votedFor, log) on a raw
 * block device (/dev/vda in the guest) or a regular file (tests, local runs).
 *
 * Layout, all integers little-endian, all I/O in aligned 4096-byte blocks
 * (O_DIRECT when the file allows it, so a VM restored from a snapshot never
 * reads a stale page cache):
 *
 *   block 0, block 1   header slots, written alternately:
 *                      u64 magic "RAFTDSK1", u32 version (1), u32 node id + 1,
 *                      u64 seq, u64 term, u64 voted_for + 1 (0 = none),
 *                      u64 log_len, u64 checksum of the 48 bytes before it;
 *                      the rest of the block is zero. The valid slot with
 *                      the higher seq is current.
 *   block 2 on         log records, 64 bytes each, record i (1-based) at
 *                      byte 8192 + (i - 1) * 64:
 *                      u64 term, u64 index, u64 chained hash, u8 len,
 *                      24 bytes value (zero padded), 7 bytes zero,
 *                      u64 checksum of the 56 bytes before it.
 *                      Records past the header's log_len are ignored.
 *
 * A save writes the changed log blocks and then a header, each followed by
 * fdatasync; when it rewrites entries the last header already covers (a
 * truncation), a header with the shorter length goes first, so a crash in
 * between never leaves old and new entries mixed. Every write is read back
 * and compared (a torn or corrupted write is rewritten once, then the save
 * fails), so a save that returns 0 is on the disk.
 *
 * Load: an all-zero disk (both header slots zero) is a fresh, empty state.
 * A header slot that is neither valid nor zero, or a record within log_len
 * that fails its checksum, index or hash chain, is corruption, and a header
 * written by another node id is a misplaced disk: load fails
 * (after re-reading a few times) and the node must not start, because
 * silently using older state could undo a vote or an acknowledged entry. */
#ifndef GUESTS_RAFT_STORE_H
#define GUESTS_RAFT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "raft.h"

#define RAFT_STORE_BLOCK 4096u
#define RAFT_STORE_REC 64u
#define RAFT_STORE_LOG_OFF (2u * RAFT_STORE_BLOCK)
#define RAFT_STORE_PER_BLOCK (RAFT_STORE_BLOCK / RAFT_STORE_REC)
/* bytes a disk needs to hold RAFT_LOG_MAX entries */
#define RAFT_STORE_FULL_SIZE (RAFT_STORE_LOG_OFF + (uint64_t)RAFT_LOG_MAX * RAFT_STORE_REC)

struct raft_store {
    int node_id;                /* written to headers; a disk written by another
                                   node is refused on load (-1: no check) */
    int fd;
    int direct;                 /* opened with O_DIRECT */
    uint64_t size;              /* bytes */
    uint64_t capacity;          /* log entries that fit (<= RAFT_LOG_MAX) */
    uint64_t seq;               /* seq of the current header */
    unsigned slot;              /* its slot */
    uint64_t persisted_len;     /* log_len in the current header */
    uint8_t *buf, *vbuf;        /* aligned block buffers (write, verify) */
    uint64_t writes, syncs, rewrites;
    char err[160];              /* why the last call failed */
};

/* Open path read-write for node node_id (-1: any). 0, or -1 with s->err
 * set. The disk must hold at least the two header blocks and one log block. */
int raft_store_open(struct raft_store *s, const char *path, int node_id);
/* Read the state: *n_entries entries into entries[0..] (at most max).
 * 0 (a fresh disk gives term 0, vote -1, no entries) or -1 with s->err. */
int raft_store_load(struct raft_store *s, uint64_t *term, int *voted_for,
                    struct raft_entry *entries, uint64_t max, uint64_t *n_entries);
/* Make (term, voted_for, log[1..log_len]) durable; entries below
 * first_dirty are unchanged since the last save (0: only term/vote). log is
 * 1-based (log[0] unused). 0, or -1 with s->err. */
int raft_store_save(struct raft_store *s, uint64_t term, int voted_for,
                    const struct raft_entry *log, uint64_t log_len, uint64_t first_dirty);
void raft_store_close(struct raft_store *s);

#endif
