/* The VM object's insides, shared by the files of src/vmm/ (and later the
 * snapshot code). Not part of the public API. */
#ifndef CC_VMM_VM_INTERNAL_H
#define CC_VMM_VM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <xxhash.h>

#include "chaoscontrol/vm.h"
#include "devices/cmos.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/uart.h"
#include "util/rng.h"

#define CC_MAX_IO_RANGES 32

struct cc_io_range {
    uint64_t base, len;
    const struct cc_io_ops *ops;
    void *opaque;
};

struct cc_io_bus {
    struct cc_io_range r[CC_MAX_IO_RANGES];
    unsigned n;
};

struct cc_trace {
    XXH3_state_t *hash;
    struct cc_trace_rec *recs;      /* when keep */
    size_t n, cap;
    bool keep;
    FILE *file;
};

struct cc_serial {
    uint8_t *buf;
    size_t len, cap;
    /* Host input waiting for room in the UART's receiver. */
    uint8_t *in;
    size_t in_len, in_cap;
    int fd;
    /* run_until support */
    const char *pattern;
    size_t pattern_len;
    size_t search_from;
    bool matched;
};

struct cc_vm {
    struct cc_vm_config cfg;
    struct cc_host_caps caps;

    int kvm_fd, vm_fd, vcpu_fd;
    struct kvm_run *run;
    size_t run_size;

    uint8_t *mem;
    uint64_t mem_size;

    /* Virtual clock: nanoseconds since power-on. */
    uint64_t vtime;
    uint64_t exits;
    uint64_t unknown_io;

    struct cc_pic pic;
    struct cc_pit pit;
    struct cc_uart uart;
    struct cc_cmos cmos;
    bool a20_reset_port;        /* port 0x92 last value bit 0 */
    uint8_t port92;

    struct cc_io_bus pio, mmio;

    struct cc_rng rng;          /* seeded ChaCha20 stream */

    struct cc_trace trace;
    struct cc_serial serial;

    /* Stop requests from devices and hooks during one exit. */
    enum cc_stop pending_stop;
    int pending_stop_code;

    /* Watchdog thread: reports when KVM_RUN does not return for a while. */
    pthread_t watchdog;
    bool watchdog_running;
    atomic_uint_fast64_t wd_exits;      /* exits seen by the watchdog */
    atomic_bool wd_in_run;
    atomic_bool wd_stop;
    pthread_mutex_t wd_lock;
    pthread_cond_t wd_cond;
};

/* cpu.c */
int cc_cpu_init(struct cc_vm *vm, struct cc_err *err);
int cc_cpu_set_tsc(struct cc_vm *vm, struct cc_err *err);
uint64_t cc_vm_tsc_value(const struct cc_vm *vm);

/* trace.c */
int cc_trace_open(struct cc_trace *t, bool keep, const char *path, struct cc_err *err);
void cc_trace_close(struct cc_trace *t);
void cc_trace_add(struct cc_trace *t, const struct cc_trace_rec *r);
uint64_t cc_trace_digest(const struct cc_trace *t);

/* vm.c */
void cc_vm_log(struct cc_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
