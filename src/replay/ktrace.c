/* Host-side KVM trace recordings: the bpftrace program, its events as
 * recording lines, and the comparison of two recordings
 * (chaoscontrol/ktrace.h, docs/trace.md). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/file.h"
#include "chaoscontrol/ktrace.h"

/* ---- the bpftrace program ---- */

/* Exit reasons KVM takes for host reasons (host interrupts, NMIs and SMIs,
 * nested page faults on first touch of guest RAM and on MMIO, pause-loop
 * exits, machine checks, #PF under shadow paging; VMX's EXCEPTION_NMI is
 * the host's when it is an NMI, #PF or #MC): they differ from run to run of
 * one execution (docs/trace.md has the measurements). Interrupt-window
 * exits (SVM vintr, VMX INTERRUPT_WINDOW) too: a window can open at a host
 * exit instead, and SVM may take two window exits where it takes one in
 * another run; the window the guest sees is its "uexit irq_window_open"
 * with the rip. isa: 1 VMX, 2 SVM. */
static const struct { unsigned isa; uint32_t reason; } host_exits[] = {
    {2, 0x060}, {2, 0x061}, {2, 0x062}, {2, 0x077}, {2, 0x400}, {2, 0x052}, {2, 0x04e},
    {2, 0x064},
    {1, 1}, {1, 7}, {1, 40}, {1, 41}, {1, 48}, {1, 49}, {1, 52}, {1, 62},
};
#define N_HOST_EXITS (sizeof(host_exits) / sizeof(host_exits[0]))

/* Each printed event counts its thread's events (@seq: a per-thread
 * counter only that thread updates, so no race) and prints the event with
 * its number. Host-induced events are only counted (@x: exits by reason,
 * every exit; @n: the rest): printing them would cost more than the run
 * (every printed event raises a host interrupt, which is another exit). */
#define PRINT(fmt, ...)                                                                \
    "@seq[tid]++; printf(\"E %d %d " fmt "\\n\", tid, @seq[tid], " __VA_ARGS__ "); "
#define KPROBE(tp, body) "tracepoint:kvm:" tp " /pid == $1/ { " body "}\n"

static const char script_head[] =
    "tracepoint:syscalls:sys_enter_getppid /pid == $2/ { printf(\"S1\\n\"); }\n";
static const char script_exit_print[] =
    PRINT("exit %u %x rip=0x%lx info1=0x%llx info2=0x%llx intr=0x%x err=0x%x vcpu=%u",
          "args->isa, args->exit_reason, args->guest_rip, args->info1, args->info2, "
          "args->intr_info, args->error_code, args->vcpu_id");
static const char script_tail[] =
    KPROBE("kvm_entry", "@n[tid, \"entry\"] = count(); ")
    KPROBE("kvm_page_fault", "@n[tid, \"pf\"] = count(); ")
    /* A userspace exit carries the guest rip of the exit that led to it
     * (@rip, set by kvm_exit): an interrupt window opens at a window exit
     * or, when a host exit came at that very instruction, at that one. */
    KPROBE("kvm_userspace_exit",
           "if (args->errno == 0 && args->reason != 10) { "
           PRINT("uexit %u errno=%d rip=0x%lx", "args->reason, args->errno, @rip[tid]")
           "} else { @n[tid, \"uexit-interrupted\"] = count(); } ")
    /* KVM_INTERRUPT queues an interrupt that KVM then injects through its
     * re-injection path (reinjected=1): an injection is ours when a
     * KVM_INTERRUPT came before it, else a re-injection after a host exit
     * cut a delivery short. */
    "tracepoint:syscalls:sys_enter_ioctl /pid == $1 && args->cmd == 0x4004ae86/ "
    "{ @irq[tid] = 1; }\n"
    KPROBE("kvm_inj_virq",
           "if (@irq[tid]) { @irq[tid] = 0; "
           PRINT("virq vector=0x%x soft=%u", "args->vector, (uint8)args->soft")
           "} else { @n[tid, \"virq-reinjected\"] = count(); } ")
    KPROBE("kvm_inj_exception",
           "if (args->reinjected) { @n[tid, \"exc-reinjected\"] = count(); } else { "
           PRINT("exc vector=0x%x has_error=%u err=0x%x",
                 "args->exception, args->has_error, args->error_code") "} ")
    KPROBE("kvm_pio", PRINT("pio write=%u port=0x%x size=%u count=%u val=0x%x",
                            "args->rw, args->port, args->size, args->count, args->val"))
    KPROBE("kvm_mmio", PRINT("mmio type=%u len=%u gpa=0x%llx val=0x%llx",
                             "args->type, args->len, args->gpa, args->val"))
    KPROBE("kvm_msr", PRINT("msr write=%u ecx=0x%x data=0x%llx gp=%u",
                            "args->write, args->ecx, args->data, args->exception"))
    KPROBE("kvm_cpuid",
           PRINT("cpuid func=0x%x index=0x%x rax=0x%lx rbx=0x%lx rcx=0x%lx rdx=0x%lx",
                 "args->function, args->index, args->rax, args->rbx, args->rcx, args->rdx"))
    KPROBE("kvm_hypercall", PRINT("hcall nr=0x%lx a0=0x%lx a1=0x%lx a2=0x%lx a3=0x%lx",
                                  "args->nr, args->a0, args->a1, args->a2, args->a3"))
    "tracepoint:syscalls:sys_exit_getppid /pid == $2/ { printf(\"S2\\n\"); }\n"
    "END { print(@seq); print(@x); print(@n); clear(@seq); clear(@x); clear(@n); clear(@irq); clear(@rip); "
    "printf(\"@@end\\n\"); }\n";

const char *cc_ktrace_bpftrace_script(void)
{
    static char script[8192];
    if (script[0])
        return script;
    /* kvm_exit: count every exit; print those that are not host-induced. */
    size_t n = (size_t)snprintf(script, sizeof(script),
                                "%stracepoint:kvm:kvm_exit /pid == $1/ { "
                                "@x[tid, args->isa, args->exit_reason] = count(); "
                                "@rip[tid] = args->guest_rip; if (!(",
                                script_head);
    for (size_t i = 0; i < N_HOST_EXITS; i++)
        n += (size_t)snprintf(script + n, sizeof(script) - n,
                              "(args->isa == %u && args->exit_reason == %u) || ",
                              host_exits[i].isa, host_exits[i].reason);
    n += (size_t)snprintf(script + n, sizeof(script) - n,
                          "(args->isa == 1 && args->exit_reason == 0 && "
                          "(((args->intr_info >> 8) & 7) == 2 || (args->intr_info & 0xff) == 14 "
                          "|| (args->intr_info & 0xff) == 18)))) { %s} }\n%s",
                          script_exit_print, script_tail);
    return script;
}

/* ---- exit reasons ---- */

/* AMD SVM exit codes (the kernel's svm_exit_reasons, exceptions renamed). */
static const struct { uint32_t code; const char *name; } svm_reasons[] = {
    {0x000, "read_cr0"}, {0x002, "read_cr2"}, {0x003, "read_cr3"}, {0x004, "read_cr4"},
    {0x008, "read_cr8"}, {0x010, "write_cr0"}, {0x012, "write_cr2"}, {0x013, "write_cr3"},
    {0x014, "write_cr4"}, {0x018, "write_cr8"}, {0x020, "read_dr0"}, {0x027, "read_dr7"},
    {0x030, "write_dr0"}, {0x037, "write_dr7"}, {0x040, "excp_DE"}, {0x041, "excp_DB"},
    {0x043, "excp_BP"}, {0x046, "excp_UD"}, {0x047, "excp_NM"}, {0x048, "excp_DF"},
    {0x04d, "excp_GP"}, {0x04e, "excp_PF"}, {0x050, "excp_MF"}, {0x051, "excp_AC"},
    {0x052, "excp_MC"}, {0x053, "excp_XF"}, {0x060, "interrupt"}, {0x061, "nmi"},
    {0x062, "smi"}, {0x063, "init"}, {0x064, "vintr"}, {0x065, "cr0_sel_write"},
    {0x06e, "rdtsc"}, {0x06f, "rdpmc"}, {0x070, "pushf"}, {0x071, "popf"}, {0x072, "cpuid"},
    {0x073, "rsm"}, {0x074, "iret"}, {0x075, "swint"}, {0x076, "invd"}, {0x077, "pause"},
    {0x078, "hlt"}, {0x079, "invlpg"}, {0x07a, "invlpga"}, {0x07b, "io"}, {0x07c, "msr"},
    {0x07d, "task_switch"}, {0x07e, "ferr_freeze"}, {0x07f, "shutdown"}, {0x080, "vmrun"},
    {0x081, "hypercall"}, {0x082, "vmload"}, {0x083, "vmsave"}, {0x084, "stgi"},
    {0x085, "clgi"}, {0x086, "skinit"}, {0x087, "rdtscp"}, {0x088, "icebp"},
    {0x089, "wbinvd"}, {0x08a, "monitor"}, {0x08b, "mwait"}, {0x08d, "xsetbv"},
    {0x08f, "write_efer_trap"}, {0x090, "write_cr0_trap"}, {0x094, "write_cr4_trap"},
    {0x098, "write_cr8_trap"}, {0x0a2, "invpcid"}, {0x400, "npf"},
    {0x401, "avic_incomplete_ipi"}, {0x402, "avic_unaccelerated_access"}, {0x403, "vmgexit"},
};

/* Intel VMX basic exit reasons (the kernel's VMX_EXIT_REASONS). */
static const char *const vmx_reasons[] = {
    [0] = "EXCEPTION_NMI", [1] = "EXTERNAL_INTERRUPT", [2] = "TRIPLE_FAULT",
    [3] = "INIT_SIGNAL", [4] = "SIPI_SIGNAL", [7] = "INTERRUPT_WINDOW", [8] = "NMI_WINDOW",
    [9] = "TASK_SWITCH", [10] = "CPUID", [12] = "HLT", [13] = "INVD", [14] = "INVLPG",
    [15] = "RDPMC", [16] = "RDTSC", [18] = "VMCALL", [19] = "VMCLEAR", [20] = "VMLAUNCH",
    [21] = "VMPTRLD", [22] = "VMPTRST", [23] = "VMREAD", [24] = "VMRESUME", [25] = "VMWRITE",
    [26] = "VMOFF", [27] = "VMON", [28] = "CR_ACCESS", [29] = "DR_ACCESS",
    [30] = "IO_INSTRUCTION", [31] = "MSR_READ", [32] = "MSR_WRITE", [33] = "INVALID_STATE",
    [34] = "MSR_LOAD_FAIL", [36] = "MWAIT_INSTRUCTION", [37] = "MONITOR_TRAP_FLAG",
    [39] = "MONITOR_INSTRUCTION", [40] = "PAUSE_INSTRUCTION", [41] = "MCE_DURING_VMENTRY",
    [43] = "TPR_BELOW_THRESHOLD", [44] = "APIC_ACCESS", [45] = "EOI_INDUCED",
    [46] = "GDTR_IDTR", [47] = "LDTR_TR", [48] = "EPT_VIOLATION", [49] = "EPT_MISCONFIG",
    [50] = "INVEPT", [51] = "RDTSCP", [52] = "PREEMPTION_TIMER", [53] = "INVVPID",
    [54] = "WBINVD", [55] = "XSETBV", [56] = "APIC_WRITE", [57] = "RDRAND", [58] = "INVPCID",
    [59] = "VMFUNC", [60] = "ENCLS", [61] = "RDSEED", [62] = "PML_FULL", [63] = "XSAVES",
    [64] = "XRSTORS", [67] = "UMWAIT", [68] = "TPAUSE", [74] = "BUS_LOCK", [75] = "NOTIFY",
};

/* KVM_EXIT_* (linux/kvm.h), lower case. */
static const char *const uexit_reasons[] = {
    "unknown", "exception", "io", "hypercall", "debug", "hlt", "mmio", "irq_window_open",
    "shutdown", "fail_entry", "intr", "set_tpr", "tpr_access", "s390_sieic", "s390_reset",
    "dcr", "nmi", "internal_error", "osi", "papr_hcall", "s390_ucontrol", "watchdog",
    "s390_tsch", "epr", "system_event", "s390_stsi", "ioapic_eoi", "hyperv", "arm_nisv",
    "x86_rdmsr", "x86_wrmsr",
};

/* "svm:io", "vmx:HLT", else "svm:0x123" / "isa3:0x7". */
static void exit_reason_name(unsigned isa, uint32_t reason, char *out, size_t n)
{
    const char *name = NULL;
    if (isa == 2) {
        for (size_t i = 0; i < sizeof(svm_reasons) / sizeof(svm_reasons[0]); i++)
            if (svm_reasons[i].code == reason)
                name = svm_reasons[i].name;
        if (name)
            snprintf(out, n, "svm:%s", name);
        else
            snprintf(out, n, "svm:0x%" PRIx32, reason);
    } else if (isa == 1) {
        uint32_t basic = reason & 0xffff;
        if (basic < sizeof(vmx_reasons) / sizeof(vmx_reasons[0]))
            name = vmx_reasons[basic];
        if (name && basic == reason)
            snprintf(out, n, "vmx:%s", name);
        else
            snprintf(out, n, "vmx:0x%" PRIx32, reason);
    } else {
        snprintf(out, n, "isa%u:0x%" PRIx32, isa, reason);
    }
}

bool cc_ktrace_format_event(const char *line, uint64_t *tid, uint64_t *seq, char *out,
                            size_t out_size)
{
    char ev[16];
    int pos = 0;
    if (sscanf(line, "E %" SCNu64 " %" SCNu64 " %15s %n", tid, seq, ev, &pos) != 3 || !pos ||
        !*seq)
        return false;
    const char *rest = line + pos;
    int w;
    if (!strcmp(ev, "exit")) {
        unsigned isa;
        uint32_t reason;
        int p2 = 0;
        if (sscanf(rest, "%u %" SCNx32 " %n", &isa, &reason, &p2) != 2 || !p2)
            return false;
        char name[40];
        exit_reason_name(isa, reason, name, sizeof(name));
        const char *f = rest + p2, *in = strstr(f, " intr="), *vc = in ? strstr(in, " vcpu=") : NULL;
        if (isa == 2 && vc)
            /* SVM's EXITINTINFO: an event being delivered when the exit
             * came, which depends on host-induced exits during deliveries. */
            w = snprintf(out, out_size, "exit reason=%s %.*s intr=- err=-%s", name,
                         (int)(in - f), f, vc);
        else
            w = snprintf(out, out_size, "exit reason=%s %s", name, f);
    } else if (!strcmp(ev, "uexit")) {
        unsigned reason;
        int p2 = 0;
        if (sscanf(rest, "%u %n", &reason, &p2) != 1 || !p2)
            return false;
        if (reason < sizeof(uexit_reasons) / sizeof(uexit_reasons[0]))
            w = snprintf(out, out_size, "uexit reason=%s %s", uexit_reasons[reason], rest + p2);
        else
            w = snprintf(out, out_size, "uexit reason=%u %s", reason, rest + p2);
    } else {
        w = snprintf(out, out_size, "%s %s", ev, rest);
    }
    if (w < 0 || (size_t)w >= out_size)
        return false;
    size_t l = strlen(out);
    while (l && (out[l - 1] == '\n' || out[l - 1] == ' '))
        out[--l] = 0;
    return true;
}

bool cc_ktrace_format_count(const char *line, uint64_t *tid, char *out, size_t out_size)
{
    unsigned isa;
    uint32_t reason;
    uint64_t n;
    char name[32], rname[40];
    int w;
    if (sscanf(line, "@x[%" SCNu64 ", %u, %" SCNu32 "]: %" SCNu64, tid, &isa, &reason, &n) == 4) {
        exit_reason_name(isa, reason, rname, sizeof(rname));
        w = snprintf(out, out_size, "exit:%s %" PRIu64, rname, n);
    } else if (sscanf(line, "@n[%" SCNu64 ", %31[a-z-]]: %" SCNu64, tid, name, &n) == 3) {
        w = snprintf(out, out_size, "%s %" PRIu64, name, n);
    } else {
        return false;
    }
    return w > 0 && (size_t)w < out_size;
}

/* ---- reading recordings ---- */

static const struct {
    const char *name;
    const char *plural;     /* for the summary */
    const char *keys[8];
} events[] = {
    {"exit", "exits", {"reason", "rip", "info1", "info2", "intr", "err", "vcpu"}},
    {"uexit", "userspace exits", {"reason", "errno", "rip"}},
    {"virq", "injected interrupts", {"vector", "soft"}},
    {"exc", "injected exceptions", {"vector", "has_error", "err"}},
    {"pio", "pio", {"write", "port", "size", "count", "val"}},
    {"mmio", "mmio", {"type", "len", "gpa", "val"}},
    {"msr", "msr", {"write", "ecx", "data", "gp"}},
    {"cpuid", "cpuid", {"func", "index", "rax", "rbx", "rcx", "rdx"}},
    {"hcall", "hypercalls", {"nr", "a0", "a1", "a2", "a3"}},
};
#define N_EVENTS (sizeof(events) / sizeof(events[0]))

struct kevent {
    const char *text;       /* EVENT FIELDS, NUL-terminated in the file buffer
                               (or in krec.synth) */
    size_t line;
    unsigned kind;          /* index in events[] */
};

struct kthread {
    struct kevent *ev;
    size_t n, cap;
};

struct krec {
    const char *path;
    char *data;
    size_t size;
    struct kthread *th;
    unsigned nth;
    uint64_t n_events, stepped_windows;
    char **synth;           /* texts made by normalize_sti_windows */
    size_t nsynth;
    bool interrupted;
    /* "# counted T NAME N" lines, summed over the threads */
    struct { char name[48]; uint64_t n; } counted[96];
    unsigned ncounted;
};

static void krec_free(struct krec *r)
{
    for (unsigned i = 0; i < r->nth; i++) {
        free(r->th[i].ev);
    }
    for (size_t i = 0; i < r->nsynth; i++)
        free(r->synth[i]);
    free(r->synth);
    free(r->th);
    free(r->data);
}

static int bad(struct krec *r, size_t line, struct cc_err *err, const char *what, const char *text)
{
    if (text)
        return cc_err_set(err, EINVAL, "%s:%zu: %s: '%.80s'", r->path, line, what, text);
    return cc_err_set(err, EINVAL, "%s:%zu: %s", r->path, line, what);
}

static bool value_ok(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_' || c == ':' || c == '-'))
            return false;
    }
    return true;
}

/* Check an event's text: a known event and exactly its keys, in order. */
static int parse_event(struct krec *r, size_t line, char *text, unsigned *kind,
                       struct cc_err *err)
{
    size_t nl = strcspn(text, " ");
    unsigned k;
    for (k = 0; k < N_EVENTS; k++)
        if (strlen(events[k].name) == nl && !strncmp(text, events[k].name, nl))
            break;
    if (k == N_EVENTS)
        return bad(r, line, err, "unknown event", text);
    const char *p = text + nl;
    for (unsigned i = 0; i < 8 && events[k].keys[i]; i++) {
        const char *key = events[k].keys[i];
        size_t kl = strlen(key);
        if (*p != ' ' || strncmp(p + 1, key, kl) || p[1 + kl] != '=') {
            char what[96];
            snprintf(what, sizeof(what), "%s event without its field '%s' (field %u)",
                     events[k].name, key, i + 1);
            return bad(r, line, err, what, text);
        }
        p += 2 + kl;
        size_t vl = strcspn(p, " ");
        if (!value_ok(p, vl)) {
            char what[96];
            snprintf(what, sizeof(what), "bad value of field '%s'", key);
            return bad(r, line, err, what, text);
        }
        p += vl;
    }
    if (*p)
        return bad(r, line, err, "extra text after the event's fields", text);
    *kind = k;
    return 0;
}

static int add_counted(struct krec *r, size_t line, const char *text, struct cc_err *err)
{
    unsigned long t;
    char name[48];
    uint64_t n;
    int end = 0;
    if (sscanf(text, "# counted %lu %47s %" SCNu64 "%n", &t, name, &n, &end) != 3 ||
        text[end])
        return bad(r, line, err, "want '# counted THREAD NAME N'", text);
    if (t >= r->nth)
        return bad(r, line, err, "thread number beyond the header's '# threads'", text);
    for (unsigned i = 0; i < r->ncounted; i++)
        if (!strcmp(r->counted[i].name, name)) {
            r->counted[i].n += n;
            return 0;
        }
    if (r->ncounted == sizeof(r->counted) / sizeof(r->counted[0]))
        return bad(r, line, err, "too many different '# counted' names", text);
    snprintf(r->counted[r->ncounted].name, sizeof(r->counted[0].name), "%s", name);
    r->counted[r->ncounted++].n = n;
    return 0;
}

static int alloc_threads(struct krec *r, uint64_t n, size_t line, struct cc_err *err)
{
    if (r->th)
        return bad(r, line, err, "a second '# threads' line", NULL);
    if (n > 4096)
        return bad(r, line, err, "too many threads in the header", NULL);
    r->nth = (unsigned)n;
    r->th = calloc(r->nth ? r->nth : 1, sizeof(*r->th));
    if (!r->th)
        return cc_err_set(err, ENOMEM, "%s: out of memory", r->path);
    return 0;
}

/* SVM can report an interrupt window inside an STI shadow, depending on
 * host-induced exits around the STI; our VMM then steps one instruction
 * and takes the window where hardware would (src/vmm/run.c,
 * step_out_of_sti_shadow). In the trace: "uexit irq_window_open rip=X",
 * then the step's #DB "exit svm:excp_DB (rip Y), uexit debug rip=Y", which
 * the VMM takes as the window exit at Y. That becomes what a run without
 * the early window shows: "uexit irq_window_open rip=Y". A step that ends
 * in an exit of the instruction itself (the HLT of "sti; hlt", port I/O)
 * is that exit, which every run makes: the early window goes. A window
 * the VMM takes is always followed by its injection (virq), so a window
 * followed by an exit is such an early one. */
static bool is_ev(const struct kthread *th, size_t i, const char *prefix)
{
    return i < th->n && !strncmp(th->ev[i].text, prefix, strlen(prefix));
}

static int normalize_sti_windows(struct krec *r, struct kthread *th)
{
    static const char window[] = "uexit reason=irq_window_open ", debug[] = "uexit reason=debug";
    size_t w = 0;
    for (size_t i = 0; i < th->n; i++) {
        if (is_ev(th, i, window) && is_ev(th, i + 1, "exit reason=svm:excp_DB ") &&
            is_ev(th, i + 2, "uexit reason=debug ")) {
            r->stepped_windows++;
            /* The step's uexit with the window's reason. */
            const char *rest = th->ev[i + 2].text + strlen(debug);
            char **ns = realloc(r->synth, (r->nsynth + 1) * sizeof(*ns));
            if (!ns)
                return -1;
            r->synth = ns;
            size_t len = strlen(window) + strlen(rest);
            char *t = malloc(len);
            if (!t)
                return -1;
            snprintf(t, len, "uexit reason=irq_window_open%s", rest);
            r->synth[r->nsynth++] = t;
            struct kevent e = th->ev[i + 2];
            e.text = t;
            th->ev[w++] = e;
            i += 2;
            continue;
        }
        if (is_ev(th, i, window) && is_ev(th, i + 1, "exit ")) {
            r->stepped_windows++;   /* the step ended in the instruction's exit */
            continue;
        }
        th->ev[w++] = th->ev[i];
    }
    th->n = w;
    return 0;
}

static int krec_load(struct krec *r, const char *path, struct cc_err *err)
{
    memset(r, 0, sizeof(*r));
    r->path = path;
    size_t sz;
    int rc = cc_file_read(path, "recording", (size_t)4 << 30, &r->data, &sz, err);
    if (rc < 0)
        return rc;
    r->size = sz;
    if (memchr(r->data, 0, sz))
        return cc_err_set(err, EINVAL, "%s: not a text file (a NUL byte)", path);

    uint64_t hdr_events = UINT64_MAX, hdr_lost = UINT64_MAX, hdr_threads = UINT64_MAX;
    bool in_header = true;
    size_t line = 0;
    char *p = r->data;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (!nl)
            return bad(r, line + 1, err, "the last line has no newline (a truncated file?)",
                       NULL);
        *nl = 0;
        line++;
        if (line == 1) {
            if (!strcmp(p, "# chaoscontrol kvm-trace 1"))
                return bad(r, 1, err, "a recording in format 1, whose userspace exits have "
                           "no rip: record it again with this chaoscontrol", NULL);
            if (strcmp(p, CC_KTRACE_MAGIC))
                return bad(r, 1, err, "not a chaoscontrol kvm trace (want '" CC_KTRACE_MAGIC
                           "' as the first line)", p);
        } else if (*p == '#') {
            if (!in_header)
                return bad(r, line, err, "a header line after the events", p);
            uint64_t v;
            char word[16];
            if (sscanf(p, "# events: %" SCNu64, &v) == 1)
                hdr_events = v;
            else if (sscanf(p, "# lost: %" SCNu64, &v) == 1)
                hdr_lost = v;
            else if (sscanf(p, "# threads: %" SCNu64, &v) == 1) {
                hdr_threads = v;
                if (alloc_threads(r, v, line, err) < 0)
                    return -EINVAL;
            } else if (!strncmp(p, "# counted ", 10)) {
                if (!r->th)
                    return bad(r, line, err, "'# counted' before '# threads'", NULL);
                if (add_counted(r, line, p, err) < 0)
                    return -EINVAL;
            } else if (sscanf(p, "# end: %15s", word) == 1)
                r->interrupted = strcmp(word, "exit") != 0;
        } else if (*p) {
            if (in_header) {
                in_header = false;
                if (hdr_events == UINT64_MAX || hdr_lost == UINT64_MAX ||
                    hdr_threads == UINT64_MAX)
                    return bad(r, line, err,
                               "the header lacks '# events: N', '# lost: N' or '# threads: N'",
                               NULL);
                if (hdr_lost)
                    return cc_err_set(err, EINVAL,
                                      "%s: an incomplete recording: %" PRIu64
                                      " events were lost while recording it (record again; "
                                      "see docs/trace.md)",
                                      path, hdr_lost);
            }
            char *end;
            errno = 0;
            unsigned long t = strtoul(p, &end, 10);
            if (end == p || *end != ' ' || errno)
                return bad(r, line, err, "an event line must start with its thread number", p);
            if (t >= r->nth)
                return bad(r, line, err, "thread number beyond the header's '# threads'", p);
            struct kevent e = {.text = end + 1, .line = line};
            if (parse_event(r, line, end + 1, &e.kind, err) < 0)
                return -EINVAL;
            struct kthread *th = &r->th[t];
            if (th->n == th->cap) {
                size_t cap = th->cap ? 2 * th->cap : 1024;
                struct kevent *ne = realloc(th->ev, cap * sizeof(*ne));
                if (!ne)
                    return cc_err_set(err, ENOMEM, "%s: out of memory", path);
                th->ev = ne;
                th->cap = cap;
            }
            th->ev[th->n++] = e;
            r->n_events++;
        }
        p = nl + 1;
    }
    if (line == 0)
        return cc_err_set(err, EINVAL, "%s: empty file, not a chaoscontrol kvm trace", path);
    if (in_header) {
        if (hdr_events == UINT64_MAX || hdr_lost == UINT64_MAX || hdr_threads == UINT64_MAX)
            return bad(r, line, err,
                       "the header lacks '# events: N', '# lost: N' or '# threads: N'", NULL);
        if (hdr_lost)
            return cc_err_set(err, EINVAL,
                              "%s: an incomplete recording: %" PRIu64 " events were lost", path,
                              hdr_lost);
    }
    if (hdr_events != r->n_events)
        return cc_err_set(err, EINVAL,
                          "%s: the header says %" PRIu64 " events but the file has %" PRIu64
                          " (truncated or edited?)",
                          path, hdr_events, r->n_events);
    for (unsigned t = 0; t < r->nth; t++)
        if (normalize_sti_windows(r, &r->th[t]) < 0)
            return cc_err_set(err, ENOMEM, "%s: out of memory", path);
    return 0;
}

/* ---- comparing ---- */

static void print_event(FILE *out, unsigned t, const struct kevent *e)
{
    fprintf(out, "  line %zu: %u %s\n", e->line, t, e->text);
}

static int counted_index(const struct krec *r, const char *name)
{
    for (unsigned i = 0; i < r->ncounted; i++)
        if (!strcmp(r->counted[i].name, name))
            return (int)i;
    return -1;
}

/* The counts of what is not compared event by event (host-induced events
 * and every exit by reason): "NAME N" when both have N, else "NAME A/B". */
static void print_counted(FILE *out, const struct krec *a, const struct krec *b)
{
    const char *sep = "";
    fprintf(out, "counted (host-induced events are not compared; docs/trace.md): ");
    for (int side = 0; side < 2; side++) {
        const struct krec *r = side ? b : a;
        for (unsigned i = 0; i < r->ncounted; i++) {
            const char *name = r->counted[i].name;
            if (side && counted_index(a, name) >= 0)
                continue;   /* printed with A's */
            int ia = counted_index(a, name), ib = counted_index(b, name);
            uint64_t na = ia < 0 ? 0 : a->counted[ia].n, nb = ib < 0 ? 0 : b->counted[ib].n;
            if (na == nb)
                fprintf(out, "%s%s %" PRIu64, sep, name, na);
            else
                fprintf(out, "%s%s %" PRIu64 "/%" PRIu64, sep, name, na, nb);
            sep = ", ";
        }
    }
    fprintf(out, "%s\n", *sep ? "" : "none");
}

int cc_ktrace_verify(const char *path_a, const char *path_b,
                     const struct cc_ktrace_verify_opts *o, FILE *out, struct cc_err *err)
{
    struct krec a, b;
    int rc = krec_load(&a, path_a, err);
    if (rc < 0) {
        krec_free(&a);
        return rc;
    }
    rc = krec_load(&b, path_b, err);
    if (rc < 0) {
        krec_free(&a);
        krec_free(&b);
        return rc;
    }
    for (int i = 0; i < 2; i++) {
        const struct krec *r = i ? &b : &a;
        if (r->interrupted)
            fprintf(out, "note: %s was stopped before its process exited: it ends early\n",
                    r->path);
    }

    rc = 0;
    uint64_t compared = 0, by_kind[N_EVENTS] = {0};
    unsigned nth = a.nth > b.nth ? a.nth : b.nth;
    for (unsigned t = 0; t < nth && !rc; t++) {
        static const struct kthread none;
        const struct kthread *ta = t < a.nth ? &a.th[t] : &none;
        const struct kthread *tb = t < b.nth ? &b.th[t] : &none;
        size_t n = ta->n < tb->n ? ta->n : tb->n, k;
        for (k = 0; k < n; k++) {
            const struct kevent *ea = &ta->ev[k], *eb = &tb->ev[k];
            if (strcmp(ea->text, eb->text))
                break;
            by_kind[ea->kind]++;
        }
        compared += k;
        if (k == n && ta->n == tb->n)
            continue;
        rc = 1;
        fprintf(out, "different: thread %u, event %zu of that thread", t, k);
        if (k < n)
            fprintf(out, " (A line %zu, B line %zu)\n", ta->ev[k].line, tb->ev[k].line);
        else
            fprintf(out, ": %s ends there (%zu events), the other goes on\n",
                    ta->n == k ? "A" : "B", k);
        size_t from = k > o->context ? k - o->context : 0;
        if (from < k)
            fprintf(out, "the %zu events before it (the same in both; A's lines):\n", k - from);
        for (size_t i = from; i < k; i++)
            print_event(out, t, &ta->ev[i]);
        fprintf(out, "A (%s):\n", path_a);
        if (k < ta->n)
            print_event(out, t, &ta->ev[k]);
        else
            fprintf(out, "  (no more events in thread %u)\n", t);
        fprintf(out, "B (%s):\n", path_b);
        if (k < tb->n)
            print_event(out, t, &tb->ev[k]);
        else
            fprintf(out, "  (no more events in thread %u)\n", t);
    }
    if (!rc) {
        fprintf(out, "same: %" PRIu64 " events (", compared);
        const char *sep = "";
        for (unsigned k = 0; k < N_EVENTS; k++) {
            if (!by_kind[k])
                continue;
            fprintf(out, "%s%" PRIu64 " %s", sep, by_kind[k], events[k].plural);
            sep = ", ";
        }
        fprintf(out, ") in %u thread%s\n", nth, nth == 1 ? "" : "s");
        print_counted(out, &a, &b);
        if (a.stepped_windows || b.stepped_windows)
            fprintf(out, "interrupt windows reported in an STI shadow and stepped out of "
                    "(counted where the VMM takes them; docs/trace.md): %" PRIu64 "/%" PRIu64 "\n",
                    a.stepped_windows, b.stepped_windows);
    }
    krec_free(&a);
    krec_free(&b);
    return rc;
}
