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
#include "chaoscontrol/vm_ext.h"
#include "devices/cmos.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/uart.h"
#include "util/buf.h"
#include "util/rng.h"

#define CC_MAX_IO_RANGES 48
#define IOBUS_ANY_SIZE 0xffu    /* access sizes a range takes: a mask of 1, 2, 4, 8 */

struct cc_io_range {
    uint64_t base, len;
    unsigned sizes;
    const struct cc_io_ops *ops;
    void *opaque;
    const char *name;           /* a built-in device (board.c), for messages; else NULL */
};

struct cc_io_bus {
    struct cc_io_range r[CC_MAX_IO_RANGES];
    unsigned n;
};

struct cc_trace {
    uint64_t hash;                  /* chained: h = XXH3_64(record, seed = h) */
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

/* A port of the board (board.c): the range's handler finds the VM and the
 * range's first port here. */
struct board_port {
    struct cc_vm *vm;
    uint16_t base;
};
#define BOARD_PORTS 14

#define VM_MAX_EXTS 8
struct vm_ext {
    const struct cc_vm_ext_ops *ops;
    void *state;
};

#define VM_MAX_HYPERCALLS 4
struct vm_hypercall {
    uint64_t nr;
    cc_hypercall_fn fn;
    void *opaque;
};

/* One vCPU of an SMP VM (smp.c). With one vCPU only fd and run are used. */
enum vcpu_state {
    VCPU_WAIT_SIPI = 0,     /* an AP before its STARTUP IPI (or after INIT) */
    VCPU_RUNNING,           /* runnable unless halted or sleeping */
    VCPU_HALTED,            /* HLT with interrupts on: wakes on an interrupt */
    VCPU_STOPPED,           /* HLT with interrupts off: only NMI or INIT wakes it */
};
struct vm_vcpu {
    int fd;
    struct kvm_run *run;
    enum vcpu_state state;
    uint64_t sleep_until;   /* CC_PORT_YIELD delay: not runnable before this vtime */
    bool nmi_pending;       /* an NMI given to KVM, not yet entered */
    bool fresh;             /* never entered since SIPI: registers set by us */
    uint64_t exits;
    struct cc_lapic lapic;
};

struct cc_vm {
    struct cc_vm_config cfg;
    struct cc_host_caps caps;
    bool host_svm;              /* KVM is kvm-amd: see vcpu_set_sregs */

    int kvm_fd, vm_fd;
    /* The vCPU being run (vcpu[cur]'s fd and kvm_run): everything below
     * that talks to "the vCPU" talks to this one (smp_switch changes it). */
    int vcpu_fd;
    struct kvm_run *run;
    bool tsc_offset_attr;       /* KVM_VCPU_TSC_OFFSET usable */
    uint32_t host_tsc_khz;
    size_t run_size;

    /* SMP (smp.c): ncpu vCPUs, the interrupt controllers and the scheduler.
     * smp is ncpu > 1 (with one vCPU none of this exists). */
    unsigned ncpu, cur;
    bool smp;
    struct vm_vcpu vcpu[CC_VM_MAX_VCPUS];
    struct cc_ioapic ioapic;
    struct vm_sched {
        struct cc_rng rng;      /* the scheduler's choices */
        uint64_t seed;          /* last (re)seed, for snapshots and messages */
        uint32_t quantum;       /* exits */
        uint32_t used;          /* exits of the current vCPU since it was picked */
        bool yield;             /* the current vCPU wrote CC_PORT_YIELD */
        bool pending;           /* an exit was handled, the scheduler has not run */
        uint64_t switches;
    } sched;

    uint8_t *mem;
    uint64_t mem_size;

    /* Virtual clock: nanoseconds since power-on. */
    uint64_t vtime;
    uint64_t exits;
    /* Interrupt windows reported inside an STI shadow (vm.c) */
    uint64_t sti_deferrals;
    uint64_t unknown_io;
    /* Reads of the clock page's time registers (board.c): what the
     * nanosecond clock costs in exits */
    uint64_t clock_reads;
    /* The clock's shared page (platform.h, CC_CLOCK_SHARED_GPA): memory slot
     * 1, the virtual time written before every entry */
    volatile uint64_t *clock_page;

    struct cc_pic pic;
    struct cc_pit pit;
    struct cc_uart uart;
    struct cc_cmos cmos;
    uint8_t port92;             /* last value written to port 0x92, bit 0 clear */
    bool has_exit_status;       /* the guest wrote CC_PORT_STATUS */
    uint32_t exit_status;
    struct board_port board[BOARD_PORTS];

    struct cc_io_bus pio, mmio;

    /* Kernel command-line fragments added by devices (e.g. virtio_mmio.device=...),
     * appended by cc_vm_load_linux. */
    char cmdline_dev[1024];
    char *cmdline_extra;        /* owned copy of cfg.cmdline_extra */

    struct cc_rng rng;          /* seeded ChaCha20 stream */

    /* Snapshot memory (mem.c, snapshot.c): RAM is a copy-on-write view of
     * mem_base's memfd once a snapshot exists; dirty = pages written since. */
    struct cc_snapshot *mem_base;
    uint64_t *dirty, *kvm_log;
    bool dirty_logging;
    uint64_t last_reset_pages;

    struct cc_vm_virtio *virtio;    /* virtio-mmio devices (vm_virtio.c), NULL if none */

    struct cc_trace trace;
    struct cc_serial serial;
    /* Determinism log (vm_dlog.c): the writer (shared by a simulation's
     * VMs, not owned) and this VM's index in it. */
    struct cc_dlog *dlog;
    unsigned dlog_vm;

    struct vm_ext ext[VM_MAX_EXTS];     /* attached extensions (ext.c) */
    unsigned n_ext;
    struct vm_hypercall hc[VM_MAX_HYPERCALLS];
    unsigned n_hc;

    /* Halted in the VMM (fault engine, issue 7): the vCPU executed HLT with
     * interrupts on and its next timer is beyond the run's virtual-time
     * limit, so the run stopped at the limit without re-entering the guest.
     * The next run continues the halt: it wakes on a deliverable interrupt
     * or at the timer deadline. Saved in snapshots. */
    bool halted;
    /* PIT ticks owed to the guest after cc_vm_clock_jump: raised on IRQ0 one
     * at a time, whenever IRQ0 is neither requested nor in service, so a
     * jiffies-based guest clock catches up. Saved in snapshots. */
    uint64_t missed_ticks;

    /* Guest debugging (debug.c): a hook, its traps, the INT3 bytes it put
     * into memory. Not saved in snapshots (the debugger re-arms after every
     * restore). */
    struct vm_debug {
        cc_debug_fn fn;
        void *opaque;
        struct cc_debug_cfg cfg;
        bool kvm_dirty;         /* cfg not yet given to KVM */
        uint64_t at_exit;
        struct { uint64_t gpa; uint8_t orig; bool in; } sw[CC_DEBUG_MAX_BP];
        bool sw_in;             /* some INT3 is in memory */
        int hw_slot[CC_DEBUG_MAX_HW];   /* cfg.bp index per debug register, -1 */
        bool rf_next;           /* resume over the breakpoint at rf_rip */
        uint64_t rf_rip;
        bool sw_stepping;       /* single-stepping over an INT3 breakpoint */
        bool pushf_fix;         /* the step being taken is over a PUSHF */
        bool syscall_fix;       /* ... over a SYSCALL */
        uint64_t pushf_rsp;
    } dbg;

    /* Stop requests from devices and hooks during one exit. */
    enum cc_stop pending_stop;
    int pending_stop_code;

    /* Watchdog thread: reports when KVM_RUN does not return for a while. */
    pthread_t watchdog;
    bool watchdog_running;
    bool wd_inited;             /* lock and condition variable exist */
    atomic_uint_fast64_t wd_exits;      /* exits seen by the watchdog */
    atomic_bool wd_in_run;
    atomic_bool wd_stop;
    pthread_mutex_t wd_lock;
    pthread_cond_t wd_cond;
};

/* cpu.c */
int cpu_init(struct cc_vm *vm, struct cc_err *err);
int cpu_set_tsc(struct cc_vm *vm, struct cc_err *err);
uint64_t vm_tsc_value(const struct cc_vm *vm);

/* mem.c */
int mem_init(struct cc_vm *vm, struct cc_err *err);
void mem_free(struct cc_vm *vm);
void mem_mark_dirty(struct cc_vm *vm, uint64_t gpa, uint64_t len);
int mem_fetch_dirty(struct cc_vm *vm, struct cc_err *err);
uint64_t mem_dirty_count(const struct cc_vm *vm);
int mem_map_memfd(struct cc_vm *vm, int memfd, struct cc_err *err);
int64_t mem_reset(struct cc_vm *vm, struct cc_err *err);

/* vcpu_state.c */
int vcpu_complete_io(struct cc_vm *vm, struct cc_err *err);
int vcpu_save(struct cc_vm *vm, struct cc_buf *out, struct cc_err *err);
int vcpu_load(struct cc_vm *vm, struct cc_rd *in, struct cc_err *err);
bool host_is_svm(void);
/* Every KVM_SET_SREGS of the VMM: TR's type as an SVM guest's LTR leaves it. */
int vcpu_set_sregs(struct cc_vm *vm, const struct kvm_sregs *sregs, struct cc_err *err);

/* debug.c */
int dbg_before_entry(struct cc_vm *vm, struct cc_err *err);
/* After KVM_EXIT_DEBUG: 0 re-enter, 1 end the run (the hook said so), or
 * -errno. */
int dbg_trap(struct cc_vm *vm, struct cc_err *err);
/* After a handled exit: the hook's at-exit call if it is due (0, 1 end). */
int dbg_after_exit(struct cc_vm *vm);
void dbg_remove_sw(struct cc_vm *vm);
/* A HLT exit that is one of our breakpoints (not an exit: dbg_trap). */
bool dbg_is_hlt_bp(struct cc_vm *vm);
/* KVM_SET_GUEST_DEBUG as cfg says (after someone else changed it). */
void dbg_mark_dirty(struct cc_vm *vm);

/* trace.c */
int trace_open(struct cc_trace *t, bool keep, const char *path, struct cc_err *err);
void trace_close(struct cc_trace *t);
void trace_add(struct cc_trace *t, const struct cc_trace_rec *r);
uint64_t trace_digest(const struct cc_trace *t);

/* vm_dlog.c */
/* Every exit and injection: into the trace (hash) and the dlog. */
void vm_trace(struct cc_vm *vm, const struct cc_trace_rec *tr);
/* A MARK record (chaoscontrol/dlog.h, enum cc_dlog_mark) with a RAM hash. */
void vm_dlog_mark(struct cc_vm *vm, uint32_t what, uint64_t ram_hash);

/* iobus.c */
struct cc_io_range *iobus_find(struct cc_io_bus *bus, uint64_t addr, unsigned size);
int iobus_add_pio(struct cc_vm *vm, uint16_t base, uint16_t len, unsigned sizes,
                  const struct cc_io_ops *ops, void *opaque, const char *name,
                  struct cc_err *err);

/* board.c: the legacy PC devices on the port bus */
int board_init(struct cc_vm *vm, struct cc_err *err);

/* serial.c */
void serial_tx(void *opaque, uint8_t byte);     /* the UART's transmitter */
void serial_feed(struct cc_vm *vm);             /* queued input into the UART */

/* watchdog.c */
int watchdog_start(struct cc_vm *vm, struct cc_err *err);
void watchdog_stop(struct cc_vm *vm);

/* run.c */
void vm_timers_catch_up(struct cc_vm *vm);
uint64_t vm_next_deadline(const struct cc_vm *vm);
/* Would a halted vCPU (interrupts on) be woken now? (Raises an owed tick.) */
bool vm_wake_pending(struct cc_vm *vm);

/* ext.c */
int ext_attach_all(struct cc_vm *vm, const struct cc_vm_ext_ops *const *list,
                   struct cc_err *err);
void ext_detach_all(struct cc_vm *vm);
/* Each extension with state as a snapshot section (tag, u64 length, bytes). */
int ext_save_all(struct cc_vm *vm, struct cc_buf *b, struct cc_err *err);
/* 1 when an extension took the section, 0 when none has the tag. */
int ext_load(struct cc_vm *vm, uint32_t tag, const uint8_t *p, size_t len, struct cc_err *err);
void ext_reseed_all(struct cc_vm *vm, uint64_t seed);

/* smp.c */
int smp_create_vcpus(struct cc_vm *vm, struct cc_err *err);
void smp_destroy_vcpus(struct cc_vm *vm);
/* Make vCPU i the one vm->vcpu_fd / vm->run talk to. */
void smp_select(struct cc_vm *vm, unsigned i);
int smp_board_init(struct cc_vm *vm, struct cc_err *err);
/* The scheduler's turn after an exit of the current vCPU was handled
 * (before the next entry): a switch, or vm->halted when no vCPU can run. */
void smp_after_exit(struct cc_vm *vm);
/* Every vCPU idle (vm->halted): wake one or stop the run. */
bool smp_continue_halt(struct cc_vm *vm, const struct cc_run_limits *lim,
                       struct cc_run_result *res);
/* Before entering the current vCPU: inject or request a window. */
int smp_prepare_entry(struct cc_vm *vm, struct cc_err *err);
/* HLT exit of the current vCPU (SMP). */
void smp_handle_hlt(struct cc_vm *vm);
void smp_timers_catch_up(struct cc_vm *vm);
uint64_t smp_next_deadline(const struct cc_vm *vm);
bool smp_wake_pending(struct cc_vm *vm);
void smp_yield(struct cc_vm *vm, uint32_t val);
int smp_nmi(struct cc_vm *vm, unsigned cpu, struct cc_err *err);
/* Kernel command line for SMP guests. */
const char *smp_cmdline(const struct cc_vm *vm);
int smp_save(struct cc_vm *vm, struct cc_buf *out, struct cc_err *err);
int smp_load(struct cc_vm *vm, struct cc_rd *in, struct cc_err *err);
/* The ISA interrupt lines of the board: to the PIC, and the I/O APIC. */
struct cc_irq_sink vm_irq_sink(struct cc_vm *vm);

/* vm.c */
/* Append " frag" to the device part of the kernel command line. */
int vm_cmdline_add(struct cc_vm *vm, const char *frag, struct cc_err *err);
void vm_log(struct cc_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
