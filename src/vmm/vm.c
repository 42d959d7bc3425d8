/* The VM object: configuration, creation and destruction, and accessors.
 * What a VM does lives elsewhere in src/vmm/: the run loop and exit
 * handlers (run.c), the legacy devices on the I/O bus (board.c, iobus.c),
 * serial capture (serial.c), the watchdog (watchdog.c), clock faults
 * (clock.c), extensions (ext.c), CPU set-up (cpu.c), memory (mem.c),
 * snapshots (snapshot.c, their files in snapshot_file.c) and Linux boot
 * (boot.c). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "chaoscontrol/platform.h"
#include "chaoscontrol/snapshot.h"
#include "vm_internal.h"
#include "vm_virtio.h"


void cc_cpu_model_default(struct cc_cpu_model *m)
{
    memset(m, 0, sizeof(*m));
    m->tsc_khz = 3000000;
    memcpy(m->id.vendor, "GenuineIntel", 13);
    m->id.family = 6;
    m->id.model = 0x55;
    m->id.stepping = 7;
    snprintf(m->id.brand, sizeof(m->id.brand), "ChaosControl deterministic vCPU");
}

bool cc_cpu_model_is_default(const struct cc_cpu_model *m)
{
    struct cc_cpu_model d;
    cc_cpu_model_default(&d);
    return !strcmp(m->id.vendor, d.id.vendor) && m->id.family == d.id.family &&
           m->id.model == d.id.model && m->id.stepping == d.id.stepping &&
           !strcmp(m->id.brand, d.id.brand) && m->tsc_khz == d.tsc_khz &&
           m->avx2 == d.avx2 && m->avx512 == d.avx512;
}

void cc_cpu_model_apply(struct cc_vm_config *cfg, const struct cc_cpu_model *m)
{
    cfg->cpu = m->id;
    cfg->tsc_khz = m->tsc_khz;
    cfg->avx2 = m->avx2;
    cfg->avx512 = m->avx512;
}

void cc_cpu_model_of(const struct cc_vm_config *cfg, struct cc_cpu_model *m)
{
    memset(m, 0, sizeof(*m));
    m->id = cfg->cpu;
    m->tsc_khz = cfg->tsc_khz;
    m->avx2 = cfg->avx2;
    m->avx512 = cfg->avx512;
}

/* Printable ASCII only: what CPUID strings hold and /proc/cpuinfo shows. */
static bool printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

int cc_cpu_model_check(const struct cc_cpu_model *m, struct cc_err *err)
{
    const struct cc_cpu_identity *id = &m->id;
    size_t vl = strnlen(id->vendor, sizeof(id->vendor));
    if (vl != 12 || !printable(id->vendor, vl))
        return cc_err_set(err, EINVAL, "CPU vendor '%.*s' must be exactly 12 printable ASCII "
                          "characters (e.g. GenuineIntel, AuthenticAMD)", (int)vl, id->vendor);
    size_t bl = strnlen(id->brand, sizeof(id->brand));
    if (bl == sizeof(id->brand) || !printable(id->brand, bl))
        return cc_err_set(err, EINVAL, "CPU brand string must be at most 48 printable ASCII "
                          "characters");
    if (id->family < 1 || id->family > CC_CPU_MAX_FAMILY)
        return cc_err_set(err, EINVAL, "CPU family %u is not in 1-%u", id->family,
                          CC_CPU_MAX_FAMILY);
    uint32_t max_model = id->family == 6 || id->family >= 0xf ? 255 : 15;
    if (id->model > max_model)
        return cc_err_set(err, EINVAL, "CPU model %u is not in 0-%u (models above 15 need "
                          "family 6 or 15 and above: CPUID's extended model field)", id->model,
                          max_model);
    if (id->stepping > 15)
        return cc_err_set(err, EINVAL, "CPU stepping %u is not in 0-15", id->stepping);
    if (m->tsc_khz < CC_CPU_MIN_TSC_KHZ || m->tsc_khz > CC_CPU_MAX_TSC_KHZ)
        return cc_err_set(err, EINVAL, "TSC frequency %u kHz is not in %u-%u kHz (1 MHz to "
                          "10 GHz)", m->tsc_khz, CC_CPU_MIN_TSC_KHZ, CC_CPU_MAX_TSC_KHZ);
    return 0;
}

void cc_vm_config_default(struct cc_vm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mem_size = 256ull << 20;
    cfg->seed = 0;
    struct cc_cpu_model m;
    cc_cpu_model_default(&m);
    cc_cpu_model_apply(cfg, &m);
    cfg->rtc_epoch = CC_CMOS_DEFAULT_EPOCH;
    cfg->costs.pio = 1000;
    cfg->costs.mmio = 1000;
    cfg->costs.hlt = 1000;
    cfg->costs.irq_window = 200;
    cfg->costs.other = 1000;
    cfg->serial_fd = -1;
}

void vm_log(struct cc_vm *vm, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (vm->cfg.log)
        vm->cfg.log(vm->cfg.log_opaque, msg);
    else
        fprintf(stderr, "chaoscontrol: %s\n", msg);
}

const char *cc_stop_name(enum cc_stop s)
{
    switch (s) {
    case CC_STOP_NONE: return "none";
    case CC_STOP_POWEROFF: return "poweroff";
    case CC_STOP_HALTED: return "halted";
    case CC_STOP_RESET: return "reset";
    case CC_STOP_TRIPLE_FAULT: return "triple-fault";
    case CC_STOP_IDLE: return "idle";
    case CC_STOP_SERIAL_MATCH: return "serial-match";
    case CC_STOP_MAX_EXITS: return "max-exits";
    case CC_STOP_VTIME: return "vtime-limit";
    case CC_STOP_REQUESTED: return "requested";
    case CC_STOP_ERROR: return "error";
    case CC_STOP_ASSERTION: return "assertion-failed";
    case CC_STOP_SETUP_COMPLETE: return "setup-complete";
    case CC_STOP_DEBUG: return "debug";
    }
    return "?";
}

int vm_cmdline_add(struct cc_vm *vm, const char *frag, struct cc_err *err)
{
    size_t have = strlen(vm->cmdline_dev), add = strlen(frag);
    if (have + 1 + add >= sizeof(vm->cmdline_dev))
        return cc_err_set(err, E2BIG, "too many device command-line fragments");
    if (have)
        vm->cmdline_dev[have++] = ' ';
    memcpy(vm->cmdline_dev + have, frag, add + 1);
    return 0;
}

void cc_vm_request_stop(struct cc_vm *vm, int code)
{
    vm->pending_stop = CC_STOP_REQUESTED;
    vm->pending_stop_code = code;
}

void cc_vm_stop(struct cc_vm *vm, enum cc_stop why)
{
    if (vm->pending_stop == CC_STOP_NONE)
        vm->pending_stop = why;
}

/* ---- memory ---- */

uint8_t *cc_vm_mem(struct cc_vm *vm, uint64_t *size)
{
    if (size)
        *size = vm->mem_size;
    return vm->mem;
}

void *cc_vm_gpa(struct cc_vm *vm, uint64_t gpa, uint64_t len)
{
    if (gpa > vm->mem_size || len > vm->mem_size - gpa)
        return NULL;
    return vm->mem + gpa;
}

/* The RAM hash is the hash of the per-page hashes, the same definition
 * snapshots use, so a VM and a snapshot of it compare directly. */
uint64_t cc_vm_ram_hash(struct cc_vm *vm)
{
    uint64_t n = vm->mem_size / 4096;
    uint64_t *h = malloc(n * sizeof(uint64_t));
    if (!h)
        return 0;
    for (uint64_t p = 0; p < n; p++)
        h[p] = XXH3_64bits(vm->mem + p * 4096, 4096);
    uint64_t r = XXH3_64bits(h, n * sizeof(uint64_t));
    free(h);
    return r;
}

uint64_t cc_vm_seed(const struct cc_vm *vm) { return vm->cfg.seed; }

bool cc_vm_exit_status(const struct cc_vm *vm, int *status)
{
    if (vm->has_exit_status)
        *status = (int)vm->exit_status;
    return vm->has_exit_status;
}
uint64_t cc_vm_vtime_ns(const struct cc_vm *vm) { return vm->vtime; }
uint64_t cc_vm_exit_count(const struct cc_vm *vm) { return vm->exits; }
uint64_t cc_vm_trace_hash(const struct cc_vm *vm) { return trace_digest(&vm->trace); }
uint64_t cc_vm_unknown_io_count(const struct cc_vm *vm) { return vm->unknown_io; }
uint64_t cc_vm_clock_reads(const struct cc_vm *vm) { return vm->clock_reads; }
uint64_t cc_vm_sti_deferrals(const struct cc_vm *vm) { return vm->sti_deferrals; }

const struct cc_trace_rec *cc_vm_trace(const struct cc_vm *vm, size_t *n)
{
    *n = vm->trace.n;
    return vm->trace.recs;
}

void cc_vm_host_caps(const struct cc_vm *vm, struct cc_host_caps *caps)
{
    *caps = vm->caps;
}

int cc_vm_get_regs(struct cc_vm *vm, struct kvm_regs *regs, struct cc_err *err)
{
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, regs) < 0)
        return cc_err_set(err, errno, "KVM_GET_REGS: %s", strerror(errno));
    return 0;
}

int cc_vm_get_sregs(struct cc_vm *vm, struct kvm_sregs *sregs, struct cc_err *err)
{
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, sregs) < 0)
        return cc_err_set(err, errno, "KVM_GET_SREGS: %s", strerror(errno));
    return 0;
}

int cc_vm_set_sregs(struct cc_vm *vm, const struct kvm_sregs *sregs, struct cc_err *err)
{
    return vcpu_set_sregs(vm, sregs, err);
}

/* ---- create / destroy ---- */

static int check_cap(int fd, long cap)
{
    int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
    return r > 0 ? r : 0;
}

/* /dev/kvm, the VM and its capabilities. */
static int kvm_open(struct cc_vm *vm, struct cc_err *err)
{
    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        int e = errno;
        return cc_err_set(err, e, "cannot open /dev/kvm: %s%s", strerror(e),
                          e == ENOENT ? " (is the kvm module loaded? is this a VM without "
                                        "nested virtualization?)" :
                          e == EACCES ? " (add yourself to the kvm group or run as root)" : "");
    }
    if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
        return cc_err_set(err, ENOTSUP, "/dev/kvm has an unexpected API version");
    vm->caps.tsc_control = check_cap(vm->kvm_fd, KVM_CAP_TSC_CONTROL);
    vm->caps.immediate_exit = check_cap(vm->kvm_fd, KVM_CAP_IMMEDIATE_EXIT);
    vm->caps.exit_hypercall = check_cap(vm->kvm_fd, KVM_CAP_EXIT_HYPERCALL);
    vm->caps.sync_regs = (check_cap(vm->kvm_fd, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS) != 0;
    vm->host_svm = host_is_svm();
    vm->caps.amd = vm->host_svm;

    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0)
        return cc_err_set(err, errno, "KVM_CREATE_VM: %s", strerror(errno));
    /* Needed on Intel hosts for real-mode emulation; harmless elsewhere. */
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0 && errno != EINVAL)
        return cc_err_set(err, errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
    return 0;
}

static int mem_map(struct cc_vm *vm, struct cc_err *err)
{
    vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->mem == MAP_FAILED)
        return cc_err_set(err, errno, "cannot allocate %llu MiB of guest memory: %s",
                          (unsigned long long)(vm->mem_size >> 20), strerror(errno));
    /* The clock's shared page (platform.h): written before every entry,
     * never saved (its content is the virtual time). */
    vm->clock_page = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (vm->clock_page == MAP_FAILED)
        return cc_err_set(err, errno, "cannot allocate the clock page: %s", strerror(errno));
    vm->clock_page[1] = CC_CLOCK_SHARED_MAGIC;
    if (vm->vm_fd < 0)
        return 0;       /* no KVM (cfg.no_kvm) */
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = vm->mem_size,
        .userspace_addr = (uintptr_t)vm->mem,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return cc_err_set(err, errno, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
    struct kvm_userspace_memory_region clock = {
        .slot = 1,
        .guest_phys_addr = CC_CLOCK_SHARED_GPA,
        .memory_size = 0x1000,
        .userspace_addr = (uintptr_t)vm->clock_page,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &clock) < 0)
        return cc_err_set(err, errno, "KVM_SET_USER_MEMORY_REGION (clock page): %s",
                          strerror(errno));
    return 0;
}

int cc_vm_create(const struct cc_vm_config *cfg, struct cc_vm **out, struct cc_err *err)
{
    *out = NULL;
    if (cfg->mem_size < CC_VM_MIN_MEM || cfg->mem_size > CC_VM_MAX_MEM || (cfg->mem_size & 0xfff))
        return cc_err_set(err, EINVAL, "memory size %llu bytes is invalid: it must be a multiple "
                          "of 4 KiB between 2 MiB and 3 GiB", (unsigned long long)cfg->mem_size);
    struct cc_cpu_model model;
    cc_cpu_model_of(cfg, &model);
    if (cc_cpu_model_check(&model, err) < 0)
        return -EINVAL;
    if (cfg->rtc_epoch > CC_CMOS_MAX_EPOCH)
        return cc_err_set(err, EINVAL, "RTC epoch %llu s is past the year 9999",
                          (unsigned long long)cfg->rtc_epoch);
    if (cfg->vcpus > CC_VM_MAX_VCPUS)
        return cc_err_set(err, EINVAL, "%u vCPUs asked for: at most %d are supported",
                          cfg->vcpus, CC_VM_MAX_VCPUS);
    if (sodium_init() < 0)
        return cc_err_set(err, EIO, "libsodium failed to initialise");

    struct cc_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return cc_err_set(err, ENOMEM, "out of memory");
    vm->cfg = *cfg;
    vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
    for (unsigned i = 0; i < CC_VM_MAX_VCPUS; i++)
        vm->vcpu[i].fd = -1;
    vm->ncpu = cfg->vcpus ? cfg->vcpus : 1;
    vm->cfg.vcpus = vm->ncpu;
    vm->smp = vm->ncpu > 1;
    vm->mem = MAP_FAILED;
    vm->clock_page = MAP_FAILED;
    vm->run = MAP_FAILED;
    vm->mem_size = cfg->mem_size;
    vm->serial.fd = cfg->serial_fd;
    /* Strings in the config are the caller's; keep our own copies. */
    vm->cmdline_extra = cfg->cmdline_extra ? strdup(cfg->cmdline_extra) : NULL;
    vm->cfg.cmdline_extra = vm->cmdline_extra;
    vm->cfg.trace_path = NULL;
    vm->dlog = cfg->dlog;
    vm->dlog_vm = cfg->dlog_vm;
    rng_init(&vm->rng, cfg->seed, "vm");
    int rc = cfg->cmdline_extra && !vm->cmdline_extra ? cc_err_set(err, ENOMEM, "out of memory")
                                                       : 0;
    if (rc == 0)
        rc = mem_init(vm, err);
    if (rc == 0)
        rc = trace_open(&vm->trace, cfg->trace_keep, cfg->trace_path, err);
    if (rc == 0)
        rc = watchdog_start(vm, err);
    if (rc == 0 && !cfg->no_kvm)
        rc = kvm_open(vm, err);
    if (rc == 0)
        rc = mem_map(vm, err);
    if (rc == 0 && !cfg->no_kvm)
        rc = smp_create_vcpus(vm, err);
    if (rc == 0)
        rc = board_init(vm, err);
    if (rc == 0)
        rc = smp_board_init(vm, err);
    if (rc == 0)
        rc = ext_attach_all(vm, cfg->exts ? cfg->exts : cc_vm_default_exts, err);
    if (rc < 0) {
        cc_vm_destroy(vm);
        return rc;
    }
    *out = vm;
    return 0;
}

void cc_vm_destroy(struct cc_vm *vm)
{
    if (!vm)
        return;
    watchdog_stop(vm);      /* safe when it never started */
    ext_detach_all(vm);
    vm_virtio_destroy(vm);
    smp_destroy_vcpus(vm);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    if (vm->mem != MAP_FAILED)
        munmap(vm->mem, vm->mem_size);
    if (vm->clock_page != MAP_FAILED)
        munmap((void *)vm->clock_page, 0x1000);
    cc_snapshot_put(vm->mem_base);
    mem_free(vm);
    trace_close(&vm->trace);
    free(vm->serial.buf);
    free(vm->serial.in);
    free(vm->cmdline_extra);
    free(vm);
}

