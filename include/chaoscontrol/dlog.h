/* libchaoscontrol: the determinism log (dlog), a binary per-exit event log.
 *
 * A dlog records, per VM, every exit (reason, port or address, size, data,
 * RIP, virtual time, exit number), every injected interrupt, SDK events,
 * periodic register dumps and RAM hashes at snapshot boundaries and at the
 * end; a simulation adds its run log (faults, setup, VM stops). One file
 * holds every VM of a run, in the order the records were made (a
 * simulation's deterministic order), each record tagged with its VM index.
 * Format: docs/dlog.md (versioned, zstd-compressed blocks, XXH3 checksums).
 *
 *   struct cc_dlog_opts o = {.n_vms = 1, .seed = 1, .regs_every = 100000,
 *                            .source = "boot"};
 *   struct cc_dlog *d;
 *   cc_dlog_create("run.dlog", &o, &d, &err);
 *   cfg.dlog = d;  cfg.dlog_vm = 0;          // struct cc_vm_config
 *   ... cc_vm_create, cc_vm_run ...
 *   cc_vm_dlog_end(vm);                       // RAM hash at the end
 *   cc_dlog_close(d, &err);                   // flush, fsync, rename into place
 *
 * Writing never changes what the guest sees (the exit trace hash is the
 * same with and without a dlog). The writer is not thread-safe: one thread
 * drives every VM that shares it (as a simulation does). */
#ifndef CHAOSCONTROL_DLOG_H
#define CHAOSCONTROL_DLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "chaoscontrol/err.h"

struct cc_vm;
struct cc_dlog;
struct cc_dlog_reader;

#define CC_DLOG_FORMAT_VERSION 1
#define CC_DLOG_MAX_VMS 1024
#define CC_DLOG_MAX_REGS 64     /* values kept per register dump */
#define CC_DLOG_DEFAULT_REGS_EVERY 100000

enum cc_dlog_type {
    CC_DLOG_EXIT = 1,   /* a VM exit: kind (cc_trace_kind), addr, size, data, rip */
    CC_DLOG_INJECT,     /* an interrupt injected before entry: addr = vector (2: NMI) */
    CC_DLOG_REGS,       /* register dump after exit `exit`: nregs values, cc_dlog_reg_name order */
    CC_DLOG_SDK,        /* an SDK event: kind (cc_sdk_event_kind), value, text = name */
    CC_DLOG_SIM,        /* a simulation log entry: kind (cc_sim_log_kind), value = fault
                           index (-1: none), size = fault type, text; vtime is global,
                           vm = CC_DLOG_NO_VM when network-wide, exit = 0 */
    CC_DLOG_MARK,       /* a boundary: kind (cc_dlog_mark), data = RAM hash,
                           addr = exit-trace hash */
};
#define CC_DLOG_NO_VM UINT32_MAX

enum cc_dlog_mark {
    CC_DLOG_MARK_SNAPSHOT = 1,  /* a snapshot was taken here (RAM hash of it) */
    CC_DLOG_MARK_RESTORE,       /* the VM was restored to a snapshot (its RAM hash) */
    CC_DLOG_MARK_END,           /* the end of the run (cc_vm_ram_hash) */
};

struct cc_dlog_rec {
    uint32_t type;              /* enum cc_dlog_type */
    uint32_t vm;                /* VM index */
    uint64_t exit;              /* exit number (EXIT: this exit's; others: exits so far) */
    uint64_t vtime;             /* the VM's virtual ns (SIM: global) */
    uint32_t kind;              /* EXIT: enum cc_trace_kind | vCPU << 8 (SMP); INJECT
                                   records carry the vCPU the same way in addr */
    uint32_t size;
    uint64_t rip, addr, data;
    int64_t value;
    uint32_t nregs;
    uint64_t regs[CC_DLOG_MAX_REGS];
    char text[200];
};

/* ---- writing ---- */

struct cc_dlog_opts {
    unsigned n_vms;             /* 1..CC_DLOG_MAX_VMS */
    uint64_t seed;
    uint64_t regs_every;        /* register dump every N exits of a VM (0 = none) */
    const char *source;         /* what wrote it ("boot", "sim"), up to 31 bytes */
};

/* Start a dlog at path (written to a temporary name beside it, renamed into
 * place by cc_dlog_close). */
int cc_dlog_create(const char *path, const struct cc_dlog_opts *o, struct cc_dlog **out,
                   struct cc_err *err);
/* Append a record (buffered). Write errors are sticky: cc_dlog_close reports them. */
void cc_dlog_add(struct cc_dlog *d, const struct cc_dlog_rec *r);
uint64_t cc_dlog_regs_every(const struct cc_dlog *d);
uint64_t cc_dlog_records(const struct cc_dlog *d);
/* Bytes written so far (compressed blocks and headers; the last block may
 * still be buffered). */
uint64_t cc_dlog_bytes(const struct cc_dlog *d);
/* Flush, write the end marker, fsync and rename into place; frees d. */
int cc_dlog_close(struct cc_dlog *d, struct cc_err *err);
/* Drop it (no file left behind); frees d. */
void cc_dlog_abort(struct cc_dlog *d);

/* The VM side: every exit, injection and SDK event of a VM goes to its
 * writer (set by cc_vm_config.dlog, or here, before the VM runs; NULL
 * detaches), tagged with index. */
void cc_vm_set_dlog(struct cc_vm *vm, struct cc_dlog *d, unsigned index);
/* A MARK record: the run's end (RAM hash now). */
void cc_vm_dlog_end(struct cc_vm *vm);
/* An SDK event (called by the SDK's host side). */
void cc_vm_dlog_sdk(struct cc_vm *vm, uint32_t kind, int64_t value, const char *name);

/* ---- reading ---- */

struct cc_dlog_info {
    uint32_t version;
    uint32_t n_vms;
    uint64_t seed;
    uint64_t regs_every;
    char source[32];
};

/* Open and check the header. Every error names the file and the problem
 * (not a dlog, newer version, truncated, corrupt). */
int cc_dlog_open(const char *path, struct cc_dlog_reader **out, struct cc_err *err);
/* The same from memory (name is used in messages); the bytes must outlive
 * the reader. */
int cc_dlog_open_mem(const void *data, size_t len, const char *name,
                     struct cc_dlog_reader **out, struct cc_err *err);
const struct cc_dlog_info *cc_dlog_reader_info(const struct cc_dlog_reader *r);
/* The next record: 1, 0 at the (checked) end, or -errno with err set. */
int cc_dlog_next(struct cc_dlog_reader *r, struct cc_dlog_rec *rec, struct cc_err *err);
void cc_dlog_reader_close(struct cc_dlog_reader *r);

const char *cc_dlog_type_name(uint32_t type);
const char *cc_dlog_mark_name(uint32_t what);
/* Name of register dump value i ("rax", ..., "gs_base"), or "?" */
const char *cc_dlog_reg_name(unsigned i);
/* One record as a line of text / a JSON object (no newline). */
void cc_dlog_format(const struct cc_dlog_rec *r, char *buf, size_t len);
char *cc_dlog_rec_json(const struct cc_dlog_rec *r);    /* malloc'd, NULL if out of memory */

/* ---- tools (chaoscontrol dlog) ---- */

struct cc_dlog_dump_opts {
    bool json;
    int64_t vm;                 /* only this VM (-1: all) */
    uint64_t from;              /* records of exit >= from (SIM records once one passed) */
    uint64_t count;             /* at most this many (0: all) */
};
int cc_dlog_dump(const char *path, const struct cc_dlog_dump_opts *o, FILE *out,
                 struct cc_err *err);
/* Exits by reason, by port/address, by VM and per virtual second. */
int cc_dlog_stats(const char *path, bool json, FILE *out, struct cc_err *err);

struct cc_dlog_diff_opts {
    bool structural;            /* ignore data payloads: exit data, register values, hashes */
    unsigned context;           /* records shown before and after the divergence */
};
/* 0 when the record streams are the same, 1 when they differ (the first
 * divergence printed with context), < 0 for bad input (err set). */
int cc_dlog_diff(const char *a, const char *b, const struct cc_dlog_diff_opts *o, FILE *out,
                 struct cc_err *err);

#endif
