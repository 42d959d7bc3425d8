/* Shared pieces of the chaoscontrol subcommands. */
#ifndef CC_CLI_H
#define CC_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "chaoscontrol/dlog.h"
#include "chaoscontrol/pin.h"
#include "chaoscontrol/vm.h"

/* The processor the VMs present and host core pinning (cpuopts.c,
 * docs/cpu.md): options of every command that creates VMs. */
struct cli_cpu_opts {
    struct cc_cpu_model model;  /* --cpu-vendor ... --avx512 */
    bool model_given;           /* any of them */
    struct cc_cpulist pin;      /* --pin-cpu (n == 0: none) */
};
enum {
    CLI_OPT_CPU_VENDOR = 0x1000, CLI_OPT_CPU_FAMILY, CLI_OPT_CPU_MODEL, CLI_OPT_CPU_STEPPING,
    CLI_OPT_CPU_BRAND, CLI_OPT_TSC_KHZ, CLI_OPT_AVX2, CLI_OPT_NO_AVX2, CLI_OPT_AVX512,
    CLI_OPT_NO_AVX512, CLI_OPT_PIN_CPU,
};
/* Entries for a getopt_long table. */
#define CLI_CPU_MODEL_LONG_OPTS \
    {"cpu-vendor", required_argument, NULL, CLI_OPT_CPU_VENDOR}, \
    {"cpu-family", required_argument, NULL, CLI_OPT_CPU_FAMILY}, \
    {"cpu-model", required_argument, NULL, CLI_OPT_CPU_MODEL}, \
    {"cpu-stepping", required_argument, NULL, CLI_OPT_CPU_STEPPING}, \
    {"cpu-brand", required_argument, NULL, CLI_OPT_CPU_BRAND}, \
    {"tsc-khz", required_argument, NULL, CLI_OPT_TSC_KHZ}, \
    {"avx2", no_argument, NULL, CLI_OPT_AVX2}, \
    {"no-avx2", no_argument, NULL, CLI_OPT_NO_AVX2}, \
    {"avx512", no_argument, NULL, CLI_OPT_AVX512}, \
    {"no-avx512", no_argument, NULL, CLI_OPT_NO_AVX512}
#define CLI_PIN_LONG_OPTS {"pin-cpu", required_argument, NULL, CLI_OPT_PIN_CPU}
/* The option names, for explore.c's per-command lists. */
#define CLI_CPU_MODEL_NAMES "cpu-vendor cpu-family cpu-model cpu-stepping cpu-brand tsc-khz " \
                            "avx2 no-avx2 avx512 no-avx512"

void cli_cpu_opts_default(struct cli_cpu_opts *o);
/* Option c (getopt_long's value) with argument arg: 1 when it is one of
 * these and valid, 0 when it is not one of these, -1 after printing
 * "chaoscontrol CMD: --opt 'arg': why" on stderr. */
int cli_cpu_opt(const char *cmd, int c, const char *arg, struct cli_cpu_opts *o);
/* After all options: the model as a whole (a model above 15 needs family
 * 6 or >= 15). 0, or -1 after printing why. */
int cli_cpu_opts_check(const char *cmd, const struct cli_cpu_opts *o);
/* --pin-cpu: pin the calling thread (the one that will run the vCPUs) to
 * the k-th core of the list (round robin); nothing without --pin-cpu.
 * Says so on stderr (once) unless quiet; cmd NULL: messages start with
 * "chaoscontrol:". 0, or -1 after printing why. Call it before the VMs are
 * made: their watchdog threads inherit the pinning. */
int cli_pin(const char *cmd, const struct cli_cpu_opts *o, unsigned k, bool quiet);
/* Help lines for the options, their names in a column of width w. */
void cli_cpu_usage(FILE *f, int w, bool model, bool pin);

/* Options common to every command that boots a Linux guest. */
struct cli_vm_opts {
    const char *kernel;
    const char *initrd;
    const char *cmdline;        /* replaces the default command line */
    const char *cmdline_extra;  /* appended */
    uint64_t mem;
    uint64_t seed;
    unsigned vcpus;             /* --cpus (0: one) */
    enum cc_vcpu_sched vcpu_sched;  /* --vcpu-schedule */
    uint32_t vcpu_quantum;      /* --vcpu-quantum (0: the default) */
    bool vcpu_opts_given;       /* any of the three (snapshot load refuses them) */
    const char *serial_out;
    const char *until;
    uint64_t max_exits;
    const char *trace_out;
    bool force;                 /* run even if the KVM probe says no */
    bool quiet;
    bool print_cmdline;
    const char *disk_image;     /* virtio-blk over this read-only image */
    uint64_t disk_size;         /* virtio-blk size (zeros without an image) */
    bool rng;                   /* virtio-rng */
    bool seed_given;
    const char *output;         /* snapshot save */
    bool snapshot_mode;         /* snapshot load: a FILE argument, no --kernel */
    const char *snapshot;
#define CLI_MAX_SEEDS 16
    uint64_t seeds[CLI_MAX_SEEDS];  /* verify --seeds: one per run */
    unsigned n_seeds;
    bool runs_given;
    bool regs;                  /* boot --regs */
    const char *dlog;           /* boot --dlog F */
    uint64_t dlog_regs;         /* boot --dlog-regs N */
    struct cc_dlog *dlog_writer;    /* the open writer, for cli_prepare_vm */
    struct cli_cpu_opts cpu;    /* --cpu-*, --tsc-khz, --avx*, --pin-cpu */
};

/* Parse the options shared by boot, verify and the snapshot commands.
 * runs is non-NULL only for verify. Returns 0, or 2 after printing a usage
 * error. */
int cli_parse_vm_opts(int argc, char **argv, const char *cmd, struct cli_vm_opts *o,
                      uint64_t *runs);

/* What a finished run looked like. */
struct cli_summary {
    enum cc_stop stop;
    uint64_t exits, vtime, trace_hash, serial_hash, ram_hash, unknown_io, clock_reads;
    bool has_status;            /* the guest told its exit status */
    int status;
};

/* Check the kernel, initrd and disk options as booting them would, before
 * /dev/kvm is opened. Prints the error and returns -1. */
int cli_check_inputs(const struct cli_vm_opts *o);
/* Create the VM (with the devices the options ask for) and load the guest.
 * Prints the error and returns -1. */
int cli_prepare_vm(const struct cli_vm_opts *o, int serial_fd, const char *trace_path,
                   bool keep_trace, struct cc_vm **out);
/* Run until a stop (honouring --until and --max-exits) and summarize. */
int cli_run_vm(const struct cli_vm_opts *o, struct cc_vm *vm, struct cli_summary *sum);
void cli_print_summary(FILE *f, const char *prefix, const struct cli_summary *s);
bool cli_stop_is_clean(enum cc_stop s);
/* The vCPU's main registers, for a guest that stopped abnormally. */
void cli_print_regs(FILE *f, struct cc_vm *vm);
/* VM log callback: prints each distinct library note once. */
void cli_log(void *opaque, const char *msg);

void cli_vm_opts_default(struct cli_vm_opts *o);

/* --kernel's default: kernel/bzImage beside the program (build/kernel/ in the
 * build tree) or the installed one (DATADIR/chaoscontrol/kernel/bzImage,
 * src/util/selfpath.h). Sets *kernel when it is NULL; returns -1 if there is
 * none, and CLI_NO_KERNEL is the error to print then. */
int cli_default_kernel(const char **kernel);
#define CLI_NO_KERNEL "--kernel is required (no default kernel: no kernel/bzImage beside " \
                      "the program or installed with it)"

/* --cpus N (1-CC_VM_MAX_VCPUS), --vcpu-schedule rr|random, --vcpu-quantum N
 * (exits, >= 1): the options of every command that creates VMs. Each
 * parses its value, or prints "chaoscontrol CMD: --cpus 'x' is not ..."
 * on stderr and returns false. */
bool cli_parse_cpus(const char *cmd, const char *arg, unsigned *out);
bool cli_parse_vcpu_schedule(const char *cmd, const char *arg, enum cc_vcpu_sched *out);
bool cli_parse_vcpu_quantum(const char *cmd, const char *arg, uint32_t *out);

/* Parse a size such as 256M, 1G, 4096 or 64K. Returns false if malformed. */
bool cli_parse_size(const char *s, uint64_t *out);
bool cli_parse_u64(const char *s, uint64_t *out);

/* Refuse (with a message pointing at tools/kvm-host) when this host's KVM
 * cannot run Linux guests, unless force. Returns 0 to go ahead. */
int cli_check_kvm(bool force);
/* Load a bug file for command cmd and check its files' hashes and the KVM
 * (messages on stderr): 0 with *b set, or the exit status (2 bad input,
 * 1 no usable KVM) with *b NULL. */
struct cc_bug;
int cli_load_bug(const char *cmd, const char *path, bool force, struct cc_bug **b);

/* Progress output goes to stderr only when it is a terminal. */
bool cli_is_tty(void);

/* vmlinux beside the kernel file, if there is one (malloc'd, or NULL). */
char *cli_vmlinux_beside(const char *kernel);

int cmd_boot(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_snapshot_demo(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_run(int argc, char **argv);      /* run.c */
int cmd_serve(int argc, char **argv);
int cmd_sim(int argc, char **argv);      /* sim.c */
int cmd_explore(int argc, char **argv);  /* explore.c */
int cmd_minimize(int argc, char **argv);
int cmd_reproduce(int argc, char **argv);
int cmd_pack(int argc, char **argv);      /* pack.c */
int cmd_check(int argc, char **argv);     /* check.c */
int cmd_dlog(int argc, char **argv);      /* dlog.c */
int cmd_replay(int argc, char **argv);    /* replay.c */
int cmd_debug(int argc, char **argv);     /* debug.c */
int cmd_triage(int argc, char **argv);
int cmd_test(int argc, char **argv);      /* test.c */
int cmd_trace(int argc, char **argv);     /* trace.c */

#endif
