/* libchaoscontrol: one deterministic virtual machine.
 *
 * A struct cc_vm owns everything about one guest: the KVM file descriptors,
 * guest memory, the legacy devices (PIC, PIT, UART, CMOS), the virtual clock,
 * the seeded entropy stream and the exit trace. There are no globals, so
 * many VMs can live in one process.
 *
 *   struct cc_vm_config cfg;
 *   cc_vm_config_default(&cfg);
 *   cfg.seed = 1;
 *   struct cc_vm *vm;
 *   struct cc_err err = {0};
 *   if (cc_vm_create(&cfg, &vm, &err) < 0 ||
 *       cc_vm_load_linux(vm, "bzImage", "hello.initrd", NULL, &err) < 0) ...
 *   struct cc_run_result res;
 *   cc_vm_run(vm, NULL, &res, &err);      // until power-off, reset or halt
 *   cc_vm_destroy(vm);
 *
 * Determinism (DESIGN.md §3): the guest only sees time through the virtual
 * clock, which advances by fixed amounts at exits and jumps to the next timer
 * deadline when the vCPU halts; interrupts are injected only at exits; the
 * TSC is written from virtual time before every entry; CPUID hides sources of
 * hardware randomness and host time. */
#ifndef CHAOSCONTROL_VM_H
#define CHAOSCONTROL_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

struct cc_vm;
struct cc_vm_ext_ops;
struct cc_dlog;
struct cc_vm_config;

/* Virtual-time cost of each exit kind, in nanoseconds. */
struct cc_exit_costs {
    uint64_t pio;
    uint64_t mmio;
    uint64_t hlt;           /* added on top of the jump to the next deadline */
    uint64_t irq_window;
    uint64_t other;
};

struct cc_cpu_identity {
    char vendor[13];        /* 12 characters, e.g. "GenuineIntel" */
    uint32_t family, model, stepping;
    char brand[49];         /* brand string for leaves 0x80000002-4 */
};

/* The processor a VM presents, as one value (the same fields as
 * cc_vm_config's cpu, tsc_khz, avx2 and avx512): what simulations and
 * exploration targets carry and bug files record (docs/cpu.md). */
struct cc_cpu_model {
    struct cc_cpu_identity id;
    uint32_t tsc_khz;
    bool avx2, avx512;
};
/* Bounds that cc_cpu_model_check enforces. Family: 1-15 in CPUID.1:EAX's
 * family field, 16-270 as 15 plus the extended family. Model: 0-255 for
 * families 6 and 15 and above (with the extended model), else 0-15.
 * Stepping 0-15. Vendor exactly 12 and brand at most 48 printable ASCII
 * characters. */
#define CC_CPU_MAX_FAMILY (0xfu + 0xffu)
#define CC_CPU_MIN_TSC_KHZ 1000u            /* 1 MHz */
#define CC_CPU_MAX_TSC_KHZ 10000000u        /* 10 GHz */
void cc_cpu_model_default(struct cc_cpu_model *m);
bool cc_cpu_model_is_default(const struct cc_cpu_model *m);
/* Copy between a model and a VM configuration. */
void cc_cpu_model_apply(struct cc_vm_config *cfg, const struct cc_cpu_model *m);
void cc_cpu_model_of(const struct cc_vm_config *cfg, struct cc_cpu_model *m);
/* -EINVAL with a message naming the field and the allowed values when the
 * model cannot be presented (cc_vm_create checks the same). */
int cc_cpu_model_check(const struct cc_cpu_model *m, struct cc_err *err);

/* SMP (vcpus > 1): which vCPU runs next at a switch point. */
enum cc_vcpu_sched {
    CC_VSCHED_RR = 0,       /* round robin, a quantum of vcpu_quantum exits */
    CC_VSCHED_RANDOM,       /* after each exit switch with probability
                               1/vcpu_quantum, to a vCPU drawn from the
                               scheduler's seeded stream */
};
#define CC_VM_MAX_VCPUS 8
#define CC_VM_DEFAULT_QUANTUM 50

struct cc_vm_config {
    uint64_t mem_size;      /* bytes; default 256 MiB, at most 3 GiB */
    uint64_t seed;
    /* vCPUs, 1-CC_VM_MAX_VCPUS (0 means 1). One vCPU: 8259 PIC only, the
     * kernel command line says noapic nolapic. More: a local APIC per
     * vCPU, an I/O APIC and an MP table; exactly one vCPU runs at a time
     * and the VM switches between them only at exits (smp.c). */
    unsigned vcpus;
    enum cc_vcpu_sched vcpu_sched;
    uint32_t vcpu_quantum;  /* exits; 0 = CC_VM_DEFAULT_QUANTUM */
    uint32_t tsc_khz;       /* default 3,000,000 */
    struct cc_cpu_identity cpu;
    /* Expose AVX2 / AVX-512 (default off). cc_vm_create fails when asked
     * for one the host's KVM cannot give the guest, rather than run a
     * guest that differs from the one asked for (a recording would then
     * replay differently on another host). */
    bool avx2, avx512;
    const char *cmdline_extra;   /* appended to the kernel command line */
    uint64_t rtc_epoch;     /* Unix seconds at virtual time 0 */
    struct cc_exit_costs costs;

    /* Serial (COM1) output: always captured in memory; also written to
     * serial_fd when >= 0 (e.g. a file or the terminal). */
    int serial_fd;

    /* Exit trace: folded into a running hash always; kept in memory when
     * trace_keep (needed by verify to report the first divergence); written
     * as text to trace_path when set. */
    bool trace_keep;
    const char *trace_path;

    /* Determinism log (chaoscontrol/dlog.h): every exit, injection, SDK
     * event, periodic register dump and snapshot boundary of this VM goes
     * to dlog (NULL = none; the writer outlives the VM), tagged dlog_vm. */
    struct cc_dlog *dlog;
    unsigned dlog_vm;

    /* Host watchdog: report when KVM_RUN has not returned for this many
     * wall-clock seconds (0 = off). It changes nothing the guest can see. */
    unsigned watchdog_s;

    /* Messages about the host (e.g. TSC frequency not pinned) go here;
     * NULL means stderr. */
    void (*log)(void *opaque, const char *msg);
    void *log_opaque;

    /* Extensions to attach (chaoscontrol/vm_ext.h), a NULL-terminated
     * list that outlives the VM; NULL means cc_vm_default_exts (the guest
     * SDK's host side). */
    const struct cc_vm_ext_ops *const *exts;

    /* A VM without KVM: memory, the board's devices on the I/O buses and
     * the extensions, but no vCPU, so it cannot run or load a kernel. For
     * unit tests and fuzzing of what a guest drives (cc_vm_io). */
    bool no_kvm;
};

void cc_vm_config_default(struct cc_vm_config *cfg);

int cc_vm_create(const struct cc_vm_config *cfg, struct cc_vm **out, struct cc_err *err);
void cc_vm_destroy(struct cc_vm *vm);

/* Load a Linux kernel (bzImage or ELF vmlinux) with an optional initrd and
 * command line (NULL = the default deterministic command line; cmdline_extra
 * from the config is appended either way) and point the vCPU at its 64-bit
 * entry. */
int cc_vm_load_linux(struct cc_vm *vm, const char *kernel, const char *initrd,
                     const char *cmdline, struct cc_err *err);

/* Check a kernel and initrd as cc_vm_load_linux would for a VM of mem_size
 * bytes (format, truncation, fit in memory), without a VM or /dev/kvm:
 * programs call it before they open KVM, so bad input gets the same error on
 * every machine. */
int cc_linux_check(const char *kernel, const char *initrd, uint64_t mem_size,
                   struct cc_err *err);

/* Guest memory bounds: a multiple of 4 KiB in [CC_VM_MIN_MEM, CC_VM_MAX_MEM]. */
#define CC_VM_MIN_MEM (2ull << 20)
#define CC_VM_MAX_MEM (3ull << 30)
#define CC_VM_DEFAULT_MEM (256ull << 20)

/* The default kernel command line (console, no APIC/ACPI, timers, ...). */
const char *cc_vm_default_cmdline(void);
/* The default command line of a VM with that many vCPUs (cfg.vcpus; 0 or
 * 1: cc_vm_default_cmdline; more: the SMP one, with the local APIC and
 * the paravirtual yield instead of noapic nolapic). */
const char *cc_vm_default_cmdline_for(unsigned vcpus);

/* Set up flat 64-bit long mode (identity-mapped first 1 GiB, GDT, no
 * interrupts) and start at rip with the given rsp, rdi and rsi. Used by the
 * Linux loader and by tiny test guests. */
int cc_vm_setup_long_mode(struct cc_vm *vm, uint64_t rip, uint64_t rsp,
                          uint64_t rdi, uint64_t rsi, struct cc_err *err);

enum cc_stop {
    CC_STOP_NONE = 0,
    CC_STOP_POWEROFF,       /* the guest wrote the power-off port */
    CC_STOP_HALTED,         /* HLT with interrupts disabled: nothing can wake it */
    CC_STOP_RESET,          /* reset requested (port 0x64, 0xCF9, 0x92) */
    CC_STOP_TRIPLE_FAULT,   /* KVM_EXIT_SHUTDOWN */
    CC_STOP_IDLE,           /* halted with interrupts on but no timer armed */
    CC_STOP_SERIAL_MATCH,   /* run_until pattern seen */
    CC_STOP_MAX_EXITS,      /* exit budget used up */
    CC_STOP_VTIME,          /* virtual-time limit reached */
    CC_STOP_REQUESTED,      /* a device or hook called cc_vm_request_stop */
    CC_STOP_ERROR,          /* KVM internal error or failed entry */
    CC_STOP_ASSERTION,      /* an SDK assertion failed (see chaoscontrol/sdk_host.h) */
    CC_STOP_SETUP_COMPLETE, /* the guest called cc_setup_complete (when asked to stop) */
    CC_STOP_DEBUG,          /* a debug hook ended the run (cc_vm_debug_attach) */
};

const char *cc_stop_name(enum cc_stop s);

struct cc_run_limits {
    uint64_t max_exits;         /* 0 = unlimited; counted per call */
    uint64_t until_vtime_ns;    /* 0 = unlimited; absolute virtual time */
    const char *until_serial;   /* stop once this appears in new output */
};

struct cc_run_result {
    enum cc_stop stop;
    int stop_code;              /* for CC_STOP_REQUESTED: the caller's code */
    uint64_t exits;             /* exits in this call */
};

/* Run until a stop condition. Returns 0 (details in res) or a negative errno
 * for host-side failures (with err filled). A guest that crashes is not a
 * host failure: it shows up as a stop reason. */
int cc_vm_run(struct cc_vm *vm, const struct cc_run_limits *lim,
              struct cc_run_result *res, struct cc_err *err);
int cc_vm_run_until(struct cc_vm *vm, const char *serial_pattern,
                    struct cc_run_result *res, struct cc_err *err);
int cc_vm_run_bounded(struct cc_vm *vm, uint64_t max_exits,
                      struct cc_run_result *res, struct cc_err *err);

/* Ask the run loop to return CC_STOP_REQUESTED with code after the current
 * exit is handled (callable from port/MMIO handlers). */
void cc_vm_request_stop(struct cc_vm *vm, int code);
/* Ask the run loop to return with stop reason why after the current exit
 * (the first request of an exit wins): for devices and extensions. */
void cc_vm_stop(struct cc_vm *vm, enum cc_stop why);

/* Hypercalls (KVM_EXIT_HYPERCALL): fn handles hypercall number nr and
 * returns the value for the guest's rax. KVM only passes some numbers to
 * user space (KVM_CAP_EXIT_HYPERCALL; today KVM_HC_MAP_GPA_RANGE = 12):
 * -ENOTSUP (err set) when the host does not offer nr. At most 4 numbers. */
typedef uint64_t (*cc_hypercall_fn)(void *opaque, uint64_t nr, const uint64_t args[6]);
int cc_vm_set_hypercall(struct cc_vm *vm, uint64_t nr, cc_hypercall_fn fn, void *opaque,
                        struct cc_err *err);

/* Port I/O and MMIO handlers for extra devices and test hooks. The handler
 * gets the offset from base. Ranges must not overlap existing ones. */
struct cc_io_ops {
    void (*read)(void *opaque, uint64_t offset, void *data, unsigned size);
    void (*write)(void *opaque, uint64_t offset, const void *data, unsigned size);
};
int cc_vm_add_pio(struct cc_vm *vm, uint16_t base, uint16_t len,
                  const struct cc_io_ops *ops, void *opaque, struct cc_err *err);
int cc_vm_add_mmio(struct cc_vm *vm, uint64_t base, uint64_t len,
                   const struct cc_io_ops *ops, void *opaque, struct cc_err *err);

/* An access as the guest would make it, through the VM's I/O buses (the
 * run loop does the same for every port I/O or MMIO exit): size 1, 2 or 4
 * (port I/O) or 1-8 (MMIO) bytes. Returns the value read (all ones where
 * nothing answers; 0 for writes). For tests and fuzzing, with or without
 * KVM (no_kvm). */
uint64_t cc_vm_io(struct cc_vm *vm, bool mmio, uint64_t addr, unsigned size, bool write,
                  uint64_t value);

/* Guest memory. cc_vm_gpa returns a host pointer for [gpa, gpa+len) or NULL
 * when the range is not entirely inside guest RAM. */
uint8_t *cc_vm_mem(struct cc_vm *vm, uint64_t *size);
void *cc_vm_gpa(struct cc_vm *vm, uint64_t gpa, uint64_t len);
/* Like cc_vm_gpa, for writing: device models must write guest memory
 * through this, so the pages are known dirty for snapshot resets. */
void *cc_vm_gpa_w(struct cc_vm *vm, uint64_t gpa, uint64_t len);

/* Observations. */
/* The exit status the guest told before it powered off (the init of images
 * made by chaoscontrol pack writes its command's status to CC_PORT_STATUS):
 * true with *status set, false when it told none. */
bool cc_vm_exit_status(const struct cc_vm *vm, int *status);
uint64_t cc_vm_seed(const struct cc_vm *vm);
uint64_t cc_vm_vtime_ns(const struct cc_vm *vm);
uint64_t cc_vm_exit_count(const struct cc_vm *vm);
uint64_t cc_vm_trace_hash(const struct cc_vm *vm);
uint64_t cc_vm_ram_hash(struct cc_vm *vm);
const uint8_t *cc_vm_serial(const struct cc_vm *vm, size_t *len);
uint64_t cc_vm_serial_hash(const struct cc_vm *vm);
uint64_t cc_vm_unknown_io_count(const struct cc_vm *vm);
/* Exits that read the virtual clock page (ns or TSC register): the cost of
 * the guest's nanosecond clock (platform.h, CC_CLOCK_GPA). */
uint64_t cc_vm_clock_reads(const struct cc_vm *vm);
/* Interrupt-window exits reported inside an STI shadow, stepped past before
 * being counted (seen under QEMU's emulated SVM; see vm.c). */
uint64_t cc_vm_sti_deferrals(const struct cc_vm *vm);

/* Host input to the guest's COM1 receiver. Bytes wait in a queue and enter
 * the UART as its receiver (FIFO or holding register) has room. Returns
 * the number of bytes queued (len, or 0 when out of memory). */
size_t cc_vm_serial_input(struct cc_vm *vm, const void *data, size_t len);

/* One exit as recorded in the trace. */
enum cc_trace_kind {
    CC_TR_PIO_IN = 1,
    CC_TR_PIO_OUT,
    CC_TR_MMIO_READ,
    CC_TR_MMIO_WRITE,
    CC_TR_HLT,
    CC_TR_IRQ_WINDOW,
    CC_TR_INJECT,           /* not an exit: interrupt injected before entry */
    CC_TR_SHUTDOWN,
    CC_TR_OTHER,
    CC_TR_HYPERCALL,        /* KVM_EXIT_HYPERCALL: addr = first argument, data = third */
};

struct cc_trace_rec {
    uint64_t seq;           /* exit number */
    uint64_t vtime;         /* virtual ns when the exit was handled */
    uint64_t rip;
    uint64_t addr;          /* port, MMIO address or vector */
    uint64_t data;          /* value read/written (first 8 bytes) */
    uint32_t size;
    uint32_t kind;          /* enum cc_trace_kind */
    uint32_t cpu;           /* the vCPU (always 0 with one) */
};

const struct cc_trace_rec *cc_vm_trace(const struct cc_vm *vm, size_t *n);
const char *cc_trace_kind_name(uint32_t kind);
/* Format one record as a line of text (no newline). */
void cc_trace_format(const struct cc_trace_rec *r, char *buf, size_t len);

/* ---- clock faults and interrupt injection (the fault engine, sim.h) ----
 *
 * Halting and lockstep: when the vCPU halts with interrupts on and its next
 * timer deadline lies beyond the run's until_vtime_ns, the run does not
 * fast-forward past the limit: the clock stops at the limit, the run
 * returns CC_STOP_VTIME, and the vCPU stays halted (cc_vm_halted) without
 * re-entering the guest, also when no timer is armed at all. The next run
 * continues the halt: it wakes at once if an interrupt is deliverable (a
 * device or the host raised one in between), else at the timer deadline if
 * that is within its limit, else it stops at its limit again. So N VMs can
 * advance in lockstep quanta with no exits spent on idle ones. Without a
 * limit nothing changes (fast-forward; CC_STOP_IDLE when nothing is armed). */
bool cc_vm_halted(const struct cc_vm *vm);
/* The earliest virtual time at which this VM can execute again on its own:
 * its clock now unless it is halted with nothing deliverable, else its next
 * timer deadline (UINT64_MAX: none). Only an interrupt raised from outside
 * (a device fed by the host, cc_vm_irq_pulse, cc_vm_nmi) can wake it sooner.
 * (A simulation uses it to skip quanta in which every VM is idle.) */
uint64_t cc_vm_wake_time(struct cc_vm *vm);

/* Move the virtual clock forward by delta_ns at once, as if the VM had been
 * frozen that long (a paused VM, a clock jump). Guest time reads (PIT,
 * CMOS, TSC) jump with it; the periodic PIT ticks that fall inside the jump
 * are owed to the guest and raised on IRQ0 one at a time (the next once the
 * guest has taken and acknowledged the previous, like KVM's PIT reinject
 * policy; at most 1,000,000 are owed, the rest are coalesced), so Linux's
 * tick-based clock (jiffies, CLOCK_MONOTONIC, CLOCK_REALTIME) catches up by
 * the full delta. Returns the number of ticks added to the debt. The clock
 * cannot go backwards: for a backward jump shift the RTC only. */
uint64_t cc_vm_clock_jump(struct cc_vm *vm, uint64_t delta_ns);
/* Ticks still owed from clock jumps. */
uint64_t cc_vm_missed_ticks(const struct cc_vm *vm);
/* Shift the wall-clock time the CMOS RTC shows by delta_s seconds (either
 * sign). Linux reads the RTC only at boot (and in hwclock), so this alone
 * does not move a running guest's clock. */
void cc_vm_rtc_shift(struct cc_vm *vm, int64_t delta_s);
/* An edge on ISA interrupt line `line` (0-15, not 2) of the PIC, as a
 * device would raise it. Delivered when the guest has the line unmasked
 * (Linux unmasks a line when a driver requests it). */
int cc_vm_irq_pulse(struct cc_vm *vm, unsigned line, struct cc_err *err);
/* Queue a non-maskable interrupt (KVM_NMI; traced as an injection of
 * vector 2); KVM delivers it at the next entry, waking a halted vCPU. */
int cc_vm_nmi(struct cc_vm *vm, struct cc_err *err);

/* ---- SMP (cfg.vcpus > 1) ----
 *
 * The scheduler's choices come from its own seeded stream (cfg.seed, or
 * the last cc_vm_sched_reseed); reseeding at a virtual time is how a
 * simulation or the explorer steers interleavings ("vcpu" schedule
 * events). Both are saved in snapshots. */
unsigned cc_vm_vcpus(const struct cc_vm *vm);
/* The vCPU that ran the last exit (0 with one vCPU). */
unsigned cc_vm_current_vcpu(const struct cc_vm *vm);
void cc_vm_sched_reseed(struct cc_vm *vm, uint64_t seed);
/* Number of vCPU switches so far, and exits per vCPU. */
uint64_t cc_vm_vcpu_switches(const struct cc_vm *vm);
uint64_t cc_vm_vcpu_exits(const struct cc_vm *vm, unsigned cpu);
const char *cc_vcpu_sched_name(enum cc_vcpu_sched s);
/* "rr" or "random": 0, or -1 for anything else. */
int cc_vcpu_sched_parse(const char *s, enum cc_vcpu_sched *out);

/* vCPU register access for tools (thin KVM wrappers): the CLI shows the
 * registers when a guest stops abnormally. */
struct kvm_regs;
struct kvm_sregs;
int cc_vm_get_regs(struct cc_vm *vm, struct kvm_regs *regs, struct cc_err *err);
int cc_vm_get_sregs(struct cc_vm *vm, struct kvm_sregs *sregs, struct cc_err *err);
int cc_vm_set_sregs(struct cc_vm *vm, const struct kvm_sregs *sregs, struct cc_err *err);

/* ---- guest debugging (the time-travel debugger, chaoscontrol/debug.h) ----
 *
 * A debug hook sees the vCPU stopped between two instructions: after a
 * single step, at a breakpoint (before the instruction executes), after a
 * watched access, or right after a chosen exit was handled. These stops
 * are not exits: they advance no clock, inject nothing, are not traced or
 * counted, and the guest cannot tell them apart from running on (on SVM a
 * single-stepped PUSHF pushes TF: the debugger steps over PUSHF with a
 * breakpoint instead). So a run with a hook makes the same exits as one
 * without, and re-running the same steps and breakpoints from the same
 * state stops at the same instructions.
 *
 * Breakpoints: CC_BP_SW writes INT3 into guest memory while the vCPU runs
 * (removed whenever the hook or anyone else can look; the address is
 * translated with the page tables at the start of each run, so kernel
 * text is right and user addresses only for the process then current);
 * the others use the debug registers (at most 4; linear addresses, any
 * address space). Watchpoints trigger after the access. */
enum cc_bp_type { CC_BP_SW = 0, CC_BP_HW, CC_WP_WRITE, CC_WP_ACCESS };
struct cc_bp {
    uint64_t addr;
    uint8_t type;               /* enum cc_bp_type */
    uint8_t len;                /* watchpoints: 1, 2, 4 or 8, aligned */
};
#define CC_DEBUG_MAX_BP 32
#define CC_DEBUG_MAX_HW 4
struct cc_debug_cfg {
    bool step;                  /* stop after every instruction */
    unsigned n;
    struct cc_bp bp[CC_DEBUG_MAX_BP];
};
enum cc_debug_what {
    CC_DEBUG_AT_EXIT = 1,       /* cc_vm_debug_at_exit's exit was just handled */
    CC_DEBUG_TRAP,              /* a step, breakpoint or watchpoint */
};
struct cc_debug_event {
    enum cc_debug_what what;
    bool step;                  /* a single step completed */
    uint32_t hits;              /* bit i: cfg.bp[i] triggered */
    uint64_t rip;               /* linear address of the next instruction */
    uint64_t exits;             /* cc_vm_exit_count */
};
/* The hook returns 0 to go on (under the configuration cc_vm_debug_set
 * last set, which it may change) or 1 to end the run at once: cc_vm_run
 * returns CC_STOP_DEBUG. */
typedef int (*cc_debug_fn)(void *opaque, struct cc_vm *vm, const struct cc_debug_event *ev);
/* Attach (fn non-NULL) or detach a hook; detaching disarms everything. */
void cc_vm_debug_attach(struct cc_vm *vm, cc_debug_fn fn, void *opaque);
/* Arm the traps of the next entries. EINVAL (with why) for more than
 * CC_DEBUG_MAX_HW debug-register breakpoints, a bad length or alignment. */
int cc_vm_debug_set(struct cc_vm *vm, const struct cc_debug_cfg *cfg, struct cc_err *err);
/* Call the hook right after exit number `exit` (cc_vm_exit_count) has been
 * handled, before the next entry (0: never). */
void cc_vm_debug_at_exit(struct cc_vm *vm, uint64_t exit);
/* The guest-physical address of linear address va with the vCPU's page
 * tables now (KVM_TRANSLATE); false when not mapped. */
bool cc_vm_translate(struct cc_vm *vm, uint64_t va, uint64_t *gpa);
/* Read up to len bytes at linear address va through those page tables,
 * page by page; the bytes read (fewer at the first unmapped page). */
size_t cc_vm_read_va(struct cc_vm *vm, uint64_t va, void *out, size_t len);
/* One MSR (KVM_GET_MSRS): 0, or -1 when KVM refuses it. */
int cc_vm_get_msr(struct cc_vm *vm, uint32_t index, uint64_t *val);
struct kvm_fpu;
int cc_vm_get_fpu(struct cc_vm *vm, struct kvm_fpu *fpu, struct cc_err *err);

/* Host capabilities seen when the VM was created. */
struct cc_host_caps {
    bool tsc_control;       /* KVM_CAP_TSC_CONTROL: KVM_SET_TSC_KHZ works */
    bool sync_regs;         /* KVM_CAP_SYNC_REGS */
    bool exit_hypercall;    /* KVM_CAP_EXIT_HYPERCALL */
    bool immediate_exit;
    bool amd;               /* AMD or Hygon CPU (hypercalls are VMMCALL, not VMCALL) */
};
void cc_vm_host_caps(const struct cc_vm *vm, struct cc_host_caps *caps);

#endif
