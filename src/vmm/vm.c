/* VM lifecycle and the run loop.
 *
 * One thread runs one vCPU. Each KVM_RUN returns at an exit; the loop then
 *  1. advances the virtual clock by the fixed cost of that exit kind,
 *  2. handles the exit (port I/O, MMIO, HLT, ...) and records it in the trace,
 *  3. lets the timers catch up with the clock (PIT edges into the PIC),
 *  4. before re-entering, injects a pending PIC interrupt if the vCPU can
 *     take one now, or asks KVM for an interrupt-window exit, and writes the
 *     guest TSC from virtual time.
 * Nothing here reads host time, except the optional watchdog thread, which
 * only reports (DESIGN.md §3.4). A signal that interrupts KVM_RUN (EINTR) is
 * not an exit: it changes no state and is not traced. */
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


void cc_vm_config_default(struct cc_vm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->mem_size = 256ull << 20;
    cfg->seed = 0;
    cfg->tsc_khz = 3000000;
    memcpy(cfg->cpu.vendor, "GenuineIntel", 13);
    cfg->cpu.family = 6;
    cfg->cpu.model = 0x55;
    cfg->cpu.stepping = 7;
    snprintf(cfg->cpu.brand, sizeof(cfg->cpu.brand), "ChaosControl deterministic vCPU");
    cfg->rtc_epoch = CC_CMOS_DEFAULT_EPOCH;
    cfg->costs.pio = 1000;
    cfg->costs.mmio = 1000;
    cfg->costs.hlt = 1000;
    cfg->costs.irq_window = 200;
    cfg->costs.other = 1000;
    cfg->serial_fd = -1;
}

void cc_vm_log(struct cc_vm *vm, const char *fmt, ...)
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
    }
    return "?";
}

/* ---- serial capture ---- */

static void serial_tx(void *opaque, uint8_t byte)
{
    struct cc_vm *vm = opaque;
    struct cc_serial *s = &vm->serial;
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 65536;
        uint8_t *n = realloc(s->buf, cap);
        if (!n)
            return;     /* capture lost, the guest is unaffected */
        s->buf = n;
        s->cap = cap;
    }
    s->buf[s->len++] = byte;
    if (s->fd >= 0) {
        ssize_t r;
        do {
            r = write(s->fd, &byte, 1);
        } while (r < 0 && errno == EINTR);
    }
    if (s->pattern && !s->matched && s->len >= s->search_from + s->pattern_len &&
        byte == (uint8_t)s->pattern[s->pattern_len - 1] &&
        !memcmp(s->buf + s->len - s->pattern_len, s->pattern, s->pattern_len))
        s->matched = true;
}

const uint8_t *cc_vm_serial(const struct cc_vm *vm, size_t *len)
{
    *len = vm->serial.len;
    return vm->serial.buf;
}

uint64_t cc_vm_serial_hash(const struct cc_vm *vm)
{
    return XXH3_64bits(vm->serial.buf, vm->serial.len);
}

/* Move queued host input into the UART as far as its receiver has room. */
static void serial_feed(struct cc_vm *vm)
{
    struct cc_serial *s = &vm->serial;
    if (!s->in_len)
        return;
    size_t n = cc_uart_rx_push(&vm->uart, s->in, s->in_len);
    if (n) {
        memmove(s->in, s->in + n, s->in_len - n);
        s->in_len -= n;
    }
}

size_t cc_vm_serial_input(struct cc_vm *vm, const void *data, size_t len)
{
    struct cc_serial *s = &vm->serial;
    if (s->in_len + len > s->in_cap) {
        size_t cap = s->in_cap ? s->in_cap : 256;
        while (cap < s->in_len + len)
            cap *= 2;
        uint8_t *n = realloc(s->in, cap);
        if (!n)
            return 0;
        s->in = n;
        s->in_cap = cap;
    }
    memcpy(s->in + s->in_len, data, len);
    s->in_len += len;
    serial_feed(vm);
    return len;
}

/* ---- I/O buses ---- */

static int bus_add(struct cc_io_bus *bus, uint64_t base, uint64_t len,
                   const struct cc_io_ops *ops, void *opaque, const char *what,
                   struct cc_err *err)
{
    if (len == 0 || base + len < base)
        return cc_err_set(err, EINVAL, "%s range 0x%lx+0x%lx is empty or wraps",
                          what, (unsigned long)base, (unsigned long)len);
    for (unsigned i = 0; i < bus->n; i++) {
        const struct cc_io_range *r = &bus->r[i];
        if (base < r->base + r->len && r->base < base + len)
            return cc_err_set(err, EBUSY, "%s range 0x%lx+0x%lx overlaps 0x%lx+0x%lx", what,
                              (unsigned long)base, (unsigned long)len,
                              (unsigned long)r->base, (unsigned long)r->len);
    }
    if (bus->n == CC_MAX_IO_RANGES)
        return cc_err_set(err, ENOSPC, "too many %s ranges", what);
    bus->r[bus->n++] = (struct cc_io_range){base, len, ops, opaque};
    return 0;
}

static struct cc_io_range *bus_find(struct cc_io_bus *bus, uint64_t addr, unsigned size)
{
    for (unsigned i = 0; i < bus->n; i++) {
        struct cc_io_range *r = &bus->r[i];
        if (addr >= r->base && addr - r->base + size <= r->len)
            return r;
    }
    return NULL;
}

int cc_vm_add_pio(struct cc_vm *vm, uint16_t base, uint16_t len,
                  const struct cc_io_ops *ops, void *opaque, struct cc_err *err)
{
    /* The built-in legacy ports are not on the bus; refuse to shadow them. */
    static const struct { uint16_t base, len; } builtin[] = {
        {0x20, 2}, {0xa0, 2}, {0x4d0, 2}, {0x40, 4}, {0x61, 1}, {0x3f8, 8},
        {0x70, 2}, {0x64, 1}, {0xcf9, 1}, {0x92, 1}, {0x80, 1},
        {CC_PORT_BASE, CC_PORT_LEN},
    };
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
        if (base < builtin[i].base + builtin[i].len && builtin[i].base < base + len)
            return cc_err_set(err, EBUSY, "port range 0x%x+0x%x overlaps a built-in device",
                              base, len);
    return bus_add(&vm->pio, base, len, ops, opaque, "port", err);
}

int cc_vm_add_mmio(struct cc_vm *vm, uint64_t base, uint64_t len,
                   const struct cc_io_ops *ops, void *opaque, struct cc_err *err)
{
    if (base < vm->mem_size)
        return cc_err_set(err, EINVAL, "MMIO range 0x%lx overlaps guest RAM", (unsigned long)base);
    return bus_add(&vm->mmio, base, len, ops, opaque, "MMIO", err);
}

int cc_vm_cmdline_add(struct cc_vm *vm, const char *frag, struct cc_err *err)
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

uint64_t cc_vm_vtime_ns(const struct cc_vm *vm) { return vm->vtime; }
uint64_t cc_vm_exit_count(const struct cc_vm *vm) { return vm->exits; }
uint64_t cc_vm_trace_hash(const struct cc_vm *vm) { return cc_trace_digest(&vm->trace); }
uint64_t cc_vm_unknown_io_count(const struct cc_vm *vm) { return vm->unknown_io; }
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

int cc_vm_set_regs(struct cc_vm *vm, const struct kvm_regs *regs, struct cc_err *err)
{
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, regs) < 0)
        return cc_err_set(err, errno, "KVM_SET_REGS: %s", strerror(errno));
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
    return cc_vcpu_set_sregs(vm, sregs, err);
}

/* ---- watchdog ---- */

static void *watchdog_main(void *arg)
{
    struct cc_vm *vm = arg;
    uint64_t last = UINT64_MAX;
    unsigned stalled = 0;
    pthread_mutex_lock(&vm->wd_lock);
    while (!atomic_load(&vm->wd_stop)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&vm->wd_cond, &vm->wd_lock, &ts);
        uint64_t now = atomic_load(&vm->wd_exits);
        if (!atomic_load(&vm->wd_in_run) || now != last) {
            last = now;
            stalled = 0;
            continue;
        }
        if (++stalled == vm->cfg.watchdog_s)
            cc_vm_log(vm, "watchdog: the vCPU has not exited for %u s (after exit #%llu); "
                          "the guest may be spinning without I/O",
                      vm->cfg.watchdog_s, (unsigned long long)now);
    }
    pthread_mutex_unlock(&vm->wd_lock);
    return NULL;
}

static int watchdog_start(struct cc_vm *vm, struct cc_err *err)
{
    pthread_mutex_init(&vm->wd_lock, NULL);
    pthread_cond_init(&vm->wd_cond, NULL);
    if (!vm->cfg.watchdog_s)
        return 0;
    int rc = pthread_create(&vm->watchdog, NULL, watchdog_main, vm);
    if (rc)
        return cc_err_set(err, rc, "cannot start the watchdog thread: %s", strerror(rc));
    vm->watchdog_running = true;
    return 0;
}

static void watchdog_stop(struct cc_vm *vm)
{
    if (vm->watchdog_running) {
        pthread_mutex_lock(&vm->wd_lock);
        atomic_store(&vm->wd_stop, true);
        pthread_cond_signal(&vm->wd_cond);
        pthread_mutex_unlock(&vm->wd_lock);
        pthread_join(vm->watchdog, NULL);
        vm->watchdog_running = false;
    }
    pthread_cond_destroy(&vm->wd_cond);
    pthread_mutex_destroy(&vm->wd_lock);
}

/* ---- create / destroy ---- */

static int check_cap(int fd, long cap)
{
    int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);
    return r > 0 ? r : 0;
}

int cc_vm_create(const struct cc_vm_config *cfg, struct cc_vm **out, struct cc_err *err)
{
    int rc;
    *out = NULL;
    if (cfg->mem_size < CC_VM_MIN_MEM || cfg->mem_size > CC_VM_MAX_MEM || (cfg->mem_size & 0xfff))
        return cc_err_set(err, EINVAL, "memory size %llu bytes is invalid: it must be a multiple "
                          "of 4 KiB between 2 MiB and 3 GiB", (unsigned long long)cfg->mem_size);
    if (cfg->tsc_khz == 0)
        return cc_err_set(err, EINVAL, "TSC frequency must not be 0");
    if (sodium_init() < 0)
        return cc_err_set(err, EIO, "libsodium failed to initialise");

    struct cc_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return cc_err_set(err, ENOMEM, "out of memory");
    vm->cfg = *cfg;
    /* Strings in the config are the caller's; keep our own copies. */
    if (cfg->cmdline_extra) {
        vm->cmdline_extra = strdup(cfg->cmdline_extra);
        if (!vm->cmdline_extra) {
            free(vm);
            return cc_err_set(err, ENOMEM, "out of memory");
        }
    }
    vm->cfg.cmdline_extra = vm->cmdline_extra;
    vm->cfg.trace_path = NULL;
    vm->kvm_fd = vm->vm_fd = vm->vcpu_fd = -1;
    vm->serial.fd = cfg->serial_fd;
    vm->mem = MAP_FAILED;
    vm->run = MAP_FAILED;
    vm->mem_size = cfg->mem_size;
    cc_rng_init(&vm->rng, cfg->seed, "vm");
    rc = cc_mem_init(vm, err);
    if (rc < 0) {
        cc_mem_free(vm);
        free(vm->cmdline_extra);
        free(vm);
        return rc;
    }

    rc = cc_trace_open(&vm->trace, cfg->trace_keep, cfg->trace_path, err);
    if (rc < 0) {
        cc_mem_free(vm);
        free(vm->cmdline_extra);
        free(vm);
        return rc;
    }
    rc = watchdog_start(vm, err);
    if (rc < 0)
        goto fail;

    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        int e = errno;
        rc = cc_err_set(err, e, "cannot open /dev/kvm: %s%s", strerror(e),
                        e == ENOENT ? " (is the kvm module loaded? is this a VM without "
                                      "nested virtualization?)" :
                        e == EACCES ? " (add yourself to the kvm group or run as root)" : "");
        goto fail;
    }
    if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        rc = cc_err_set(err, ENOTSUP, "/dev/kvm has an unexpected API version");
        goto fail;
    }
    vm->caps.tsc_control = check_cap(vm->kvm_fd, KVM_CAP_TSC_CONTROL);
    vm->caps.immediate_exit = check_cap(vm->kvm_fd, KVM_CAP_IMMEDIATE_EXIT);
    vm->caps.exit_hypercall = check_cap(vm->kvm_fd, KVM_CAP_EXIT_HYPERCALL);
    vm->caps.sync_regs = (check_cap(vm->kvm_fd, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS) != 0;
    vm->host_svm = cc_host_is_svm();

    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        rc = cc_err_set(err, errno, "KVM_CREATE_VM: %s", strerror(errno));
        goto fail;
    }
    /* Needed on Intel hosts for real-mode emulation; harmless elsewhere. */
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0 && errno != EINVAL) {
        rc = cc_err_set(err, errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
        goto fail;
    }

    vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (vm->mem == MAP_FAILED) {
        rc = cc_err_set(err, errno, "cannot allocate %llu MiB of guest memory: %s",
                        (unsigned long long)(vm->mem_size >> 20), strerror(errno));
        goto fail;
    }
    struct kvm_userspace_memory_region region = {
        .slot = 0,
        .guest_phys_addr = 0,
        .memory_size = vm->mem_size,
        .userspace_addr = (uintptr_t)vm->mem,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        rc = cc_err_set(err, errno, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
        goto fail;
    }

    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0) {
        rc = cc_err_set(err, errno, "KVM_CREATE_VCPU: %s", strerror(errno));
        goto fail;
    }
    int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run)) {
        rc = cc_err_set(err, errno ? errno : EINVAL, "KVM_GET_VCPU_MMAP_SIZE failed");
        goto fail;
    }
    vm->run_size = (size_t)run_size;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        rc = cc_err_set(err, errno, "mmap of kvm_run: %s", strerror(errno));
        goto fail;
    }
    if (vm->caps.sync_regs)
        vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS;

    /* Legacy devices, wired to the PIC. */
    cc_pic_init(&vm->pic);
    struct cc_irq_sink sink = {cc_pic_sink_set_irq, &vm->pic};
    cc_pit_init(&vm->pit, sink, 0);
    cc_uart_init(&vm->uart, sink, 4, serial_tx, vm);
    cc_cmos_init(&vm->cmos, cfg->rtc_epoch, vm->mem_size);

    rc = cc_cpu_init(vm, err);
    if (rc < 0)
        goto fail;
    /* The guest SDK's header page and doorbells (KVM_CAP_EXIT_HYPERCALL). */
    rc = cc_sdk_attach(vm, err);
    if (rc < 0)
        goto fail;

    *out = vm;
    return 0;

fail:
    cc_vm_destroy(vm);
    return rc;
}

void cc_vm_destroy(struct cc_vm *vm)
{
    if (!vm)
        return;
    watchdog_stop(vm);
    cc_vm_virtio_destroy(vm);
    cc_sdk_detach(vm);
    if (vm->run != MAP_FAILED)
        munmap(vm->run, vm->run_size);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    if (vm->mem != MAP_FAILED)
        munmap(vm->mem, vm->mem_size);
    cc_snapshot_put(vm->mem_base);
    cc_mem_free(vm);
    cc_trace_close(&vm->trace);
    free(vm->serial.buf);
    free(vm->serial.in);
    free(vm->cmdline_extra);
    free(vm);
}

/* ---- port I/O ---- */

static void request_stop(struct cc_vm *vm, enum cc_stop s)
{
    if (vm->pending_stop == CC_STOP_NONE)
        vm->pending_stop = s;
}

/* One port access of size 1, 2 or 4 bytes. Returns the value for reads. */
static uint32_t pio_access(struct cc_vm *vm, uint16_t port, unsigned size, bool write, uint32_t val)
{
    uint64_t now = vm->vtime;

    if (size == 1) {
        switch (port) {
        case 0x20: case 0x21: case 0xa0: case 0xa1: case 0x4d0: case 0x4d1:
            if (write) {
                cc_pic_write(&vm->pic, port, (uint8_t)val);
                return 0;
            }
            return cc_pic_read(&vm->pic, port);
        case 0x40: case 0x41: case 0x42: case 0x43: case 0x61:
            if (write) {
                cc_pit_write(&vm->pit, now, port, (uint8_t)val);
                return 0;
            }
            return cc_pit_read(&vm->pit, now, port);
        case 0x70: case 0x71:
            if (write) {
                cc_cmos_write(&vm->cmos, now, port, (uint8_t)val);
                return 0;
            }
            return cc_cmos_read(&vm->cmos, now, port);
        case 0x64:
            /* No i8042; the only thing we honour is the pulse-reset command. */
            if (write) {
                if ((val & 0xff) == 0xfe)
                    request_stop(vm, CC_STOP_RESET);
                return 0;
            }
            return 0;   /* status: output buffer empty, input buffer empty */
        case 0xcf9:
            if (write) {
                if (val & 0x4)
                    request_stop(vm, CC_STOP_RESET);
                return 0;
            }
            return 0;
        case 0x92:
            if (write) {
                if ((val & 1) && !(vm->port92 & 1))
                    request_stop(vm, CC_STOP_RESET);
                vm->port92 = (uint8_t)(val & ~1u);
                return 0;
            }
            return vm->port92 | 0x2;    /* A20 enabled */
        case 0x80:
            return write ? 0 : 0xff;    /* POST/delay port */
        default:
            if (port >= 0x3f8 && port < 0x400) {
                uint32_t v = 0;
                if (write)
                    cc_uart_write(&vm->uart, port - 0x3f8, (uint8_t)val);
                else
                    v = cc_uart_read(&vm->uart, port - 0x3f8);
                serial_feed(vm);
                return v;
            }
        }
    }
    if (port >= CC_PORT_BASE && port < CC_PORT_BASE + CC_PORT_LEN) {
        if (write && port == CC_PORT_SDK && size == 4) {
            cc_sdk_port_write(vm, val);
            return 0;
        }
        if (write && port == CC_PORT_POWEROFF) {
            request_stop(vm, CC_STOP_POWEROFF);
            return 0;
        }
        return write ? 0 : 0xffffffffu;
    }
    struct cc_io_range *r = bus_find(&vm->pio, port, size);
    if (r) {
        if (write) {
            if (r->ops->write)
                r->ops->write(r->opaque, port - r->base, &val, size);
            return 0;
        }
        uint32_t v = 0xffffffffu;
        if (r->ops->read)
            r->ops->read(r->opaque, port - r->base, &v, size);
        return v;
    }
    vm->unknown_io++;
    return write ? 0 : 0xffffffffu;
}

static void handle_io(struct cc_vm *vm, struct cc_trace_rec *tr)
{
    struct kvm_run *run = vm->run;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    unsigned size = run->io.size;
    bool write = run->io.direction == KVM_EXIT_IO_OUT;
    uint64_t first = 0;

    tr->kind = write ? CC_TR_PIO_OUT : CC_TR_PIO_IN;
    tr->addr = run->io.port;
    tr->size = size * run->io.count;
    if ((size != 1 && size != 2 && size != 4) ||
        run->io.data_offset + (uint64_t)size * run->io.count > vm->run_size) {
        vm->unknown_io++;
        return;
    }
    for (uint32_t i = 0; i < run->io.count; i++, data += size) {
        uint32_t v = 0;
        if (write) {
            memcpy(&v, data, size);
            pio_access(vm, run->io.port, size, true, v);
        } else {
            v = pio_access(vm, run->io.port, size, false, 0);
            memcpy(data, &v, size);
        }
        if (i == 0)
            first = v & (size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
    }
    tr->data = first;
}

static void handle_mmio(struct cc_vm *vm, struct cc_trace_rec *tr)
{
    struct kvm_run *run = vm->run;
    uint64_t addr = run->mmio.phys_addr;
    unsigned len = run->mmio.len;
    bool write = run->mmio.is_write;

    tr->kind = write ? CC_TR_MMIO_WRITE : CC_TR_MMIO_READ;
    tr->addr = addr;
    tr->size = len;
    if (len == 0 || len > 8) {
        vm->unknown_io++;
        return;
    }
    struct cc_io_range *r = bus_find(&vm->mmio, addr, len);
    if (write) {
        uint64_t v = 0;
        memcpy(&v, run->mmio.data, len);
        tr->data = v;
        if (r && r->ops->write)
            r->ops->write(r->opaque, addr - r->base, run->mmio.data, len);
        else if (!r)
            vm->unknown_io++;
    } else {
        memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
        if (r && r->ops->read)
            r->ops->read(r->opaque, addr - r->base, run->mmio.data, len);
        else if (!r)
            vm->unknown_io++;
        uint64_t v = 0;
        memcpy(&v, run->mmio.data, len);
        tr->data = v;
    }
}

/* ---- timers and interrupts ---- */

static void timers_catch_up(struct cc_vm *vm)
{
    cc_pit_advance(&vm->pit, vm->vtime);
}

static uint64_t next_deadline(const struct cc_vm *vm)
{
    return cc_pit_next_deadline(&vm->pit);
}

/* Owed PIT ticks (cc_vm_clock_jump): raise the next one when the previous
 * one has been taken and handled (IRQ0 neither requested nor in service)
 * and the vCPU can take it at once. Waiting for an exit with interrupts on
 * (rather than asking for an interrupt-window exit) keeps the burst off the
 * window mechanism, whose exit point some hosts (the kvm_pvm software
 * hypervisor) do not report at a deterministic instruction. */
static void deliver_missed_tick(struct cc_vm *vm)
{
    const struct cc_pic_chip *m = &vm->pic.chip[0];
    if (!vm->missed_ticks || (m->irr & 1) || (m->isr & 1) ||
        !vm->run->ready_for_interrupt_injection)
        return;
    cc_pic_set_irq(&vm->pic, 0, 1);
    cc_pic_set_irq(&vm->pic, 0, 0);
    vm->missed_ticks--;
}

/* Would a halted vCPU (interrupts on) be woken now? */
static bool wake_pending(struct cc_vm *vm)
{
    deliver_missed_tick(vm);
    return cc_pic_intr(&vm->pic);
}

static uint64_t current_rip(struct cc_vm *vm)
{
    if (vm->caps.sync_regs)
        return vm->run->s.regs.regs.rip;
    struct kvm_regs regs;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &regs) < 0)
        return 0;
    return regs.rip;
}

/* An interrupt-window exit right after an STI, i.e. inside the one-instruction
 * interrupt shadow where hardware keeps the window closed. QEMU's emulated
 * SVM (our KVM test host) sometimes reports the window there, depending on
 * host timing (1 boot in 5 at worst), and re-entering with the window
 * requested exits again at the same place; injecting there delivers the
 * interrupt one instruction early and the run diverges. The test is a pure
 * function of the RIP and guest memory, so it gives the same answer in
 * every run. */
static bool sti_shadow_suspect(struct cc_vm *vm)
{
    uint64_t rip = current_rip(vm);
    struct kvm_translation tr = {.linear_address = rip - 1};
    if (ioctl(vm->vcpu_fd, KVM_TRANSLATE, &tr) < 0 || !tr.valid)
        return false;
    const uint8_t *b = cc_vm_gpa(vm, tr.physical_address, 1);
    return b && *b == 0xfb;
}

/* Run the one instruction in the shadow with KVM's single-step (no window
 * requested, nothing injected), so that the window exit is taken where
 * hardware takes it: after that instruction. Returns with vm->run holding
 * the exit to process: the step's debug exit is turned into the
 * interrupt-window exit it stands for; any other exit (the instruction was
 * HLT, port I/O, ...) is the one the guest makes in every run, window or
 * not. Not visible to the guest (except through PUSHF as the stepped
 * instruction, which would see TF: never seen after an STI). */
static int step_out_of_sti_shadow(struct cc_vm *vm, struct cc_err *err)
{
    struct kvm_guest_debug dbg = {.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP};
    if (ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
        return cc_err_set(err, errno, "KVM_SET_GUEST_DEBUG (single-step): %s", strerror(errno));
    vm->run->request_interrupt_window = 0;
    int r, e;
    do {
        atomic_store(&vm->wd_in_run, true);
        r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
        e = errno;
        atomic_store(&vm->wd_in_run, false);
    } while (r < 0 && (e == EINTR || e == EAGAIN));
    struct kvm_guest_debug off = {0};
    if (ioctl(vm->vcpu_fd, KVM_SET_GUEST_DEBUG, &off) < 0)
        return cc_err_set(err, errno, "KVM_SET_GUEST_DEBUG (off): %s", strerror(errno));
    if (r < 0)
        return cc_err_set(err, e, "KVM_RUN (single-step): %s", strerror(e));
    if (vm->run->exit_reason == KVM_EXIT_DEBUG)
        vm->run->exit_reason = KVM_EXIT_IRQ_WINDOW_OPEN;
    return 0;
}

/* Before entry: inject if the vCPU can take an interrupt now, otherwise ask
 * for an exit as soon as it can. */
static int prepare_entry(struct cc_vm *vm, struct cc_err *err)
{
    struct kvm_run *run = vm->run;
    run->request_interrupt_window = 0;
    deliver_missed_tick(vm);
    if (cc_pic_intr(&vm->pic)) {
        if (run->ready_for_interrupt_injection) {
            uint8_t vec = cc_pic_ack(&vm->pic);
            struct kvm_interrupt irq = {.irq = vec};
            if (ioctl(vm->vcpu_fd, KVM_INTERRUPT, &irq) < 0)
                return cc_err_set(err, errno, "KVM_INTERRUPT: %s", strerror(errno));
            struct cc_trace_rec tr = {
                .seq = vm->exits, .vtime = vm->vtime, .rip = 0, .addr = vec,
                .kind = CC_TR_INJECT,
            };
            cc_trace_add(&vm->trace, &tr);
            /* Another request may already be waiting behind this one. */
            if (cc_pic_intr(&vm->pic))
                run->request_interrupt_window = 1;
        } else {
            run->request_interrupt_window = 1;
        }
    }
    return cc_cpu_set_tsc(vm, err);
}

/* ---- run loop ---- */

int cc_vm_run(struct cc_vm *vm, const struct cc_run_limits *lim,
              struct cc_run_result *res, struct cc_err *err)
{
    struct cc_run_limits none = {0};
    if (!lim)
        lim = &none;
    memset(res, 0, sizeof(*res));
    vm->pending_stop = CC_STOP_NONE;
    vm->pending_stop_code = 0;
    if (lim->until_serial && *lim->until_serial) {
        vm->serial.pattern = lim->until_serial;
        vm->serial.pattern_len = strlen(lim->until_serial);
        vm->serial.search_from = vm->serial.len;
        vm->serial.matched = false;
    } else {
        vm->serial.pattern = NULL;
    }

    int rc = 0;
    for (;;) {
        if (lim->max_exits && res->exits >= lim->max_exits) {
            res->stop = CC_STOP_MAX_EXITS;
            break;
        }
        if (vm->halted) {
            /* Still in the HLT of an earlier run: wake on an interrupt,
             * else at the timer, else stay halted up to the limit. */
            if (!wake_pending(vm)) {
                uint64_t dl = next_deadline(vm);
                if (lim->until_vtime_ns && dl > lim->until_vtime_ns) {
                    if (vm->vtime < lim->until_vtime_ns)
                        vm->vtime = lim->until_vtime_ns;
                    res->stop = CC_STOP_VTIME;
                    break;
                }
                if (dl == UINT64_MAX) {
                    res->stop = CC_STOP_IDLE;
                    break;
                }
                if (dl > vm->vtime)
                    vm->vtime = dl;
                timers_catch_up(vm);
            }
            vm->halted = false;
        }
        if (lim->until_vtime_ns && vm->vtime >= lim->until_vtime_ns) {
            res->stop = CC_STOP_VTIME;
            break;
        }
        rc = prepare_entry(vm, err);
        if (rc < 0)
            break;

        atomic_store(&vm->wd_in_run, true);
        int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
        int e = errno;
        atomic_store(&vm->wd_in_run, false);
        if (r < 0) {
            if (e == EINTR || e == EAGAIN)
                continue;       /* a host signal: not an exit */
            rc = cc_err_set(err, e, "KVM_RUN: %s", strerror(e));
            break;
        }

        if (vm->run->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN && sti_shadow_suspect(vm)) {
            /* Not an exit the guest can tell from staying in: no time, no
             * trace; step past the shadow (see sti_shadow_suspect). */
            vm->sti_deferrals++;
            rc = step_out_of_sti_shadow(vm, err);
            if (rc < 0)
                break;
        }
        vm->exits++;
        res->exits++;
        atomic_store(&vm->wd_exits, vm->exits);
        struct kvm_run *run = vm->run;
        struct cc_trace_rec tr = {.seq = vm->exits, .rip = current_rip(vm)};

        switch (run->exit_reason) {
        case KVM_EXIT_IO:
            vm->vtime += vm->cfg.costs.pio;
            tr.vtime = vm->vtime;
            handle_io(vm, &tr);
            break;
        case KVM_EXIT_MMIO:
            vm->vtime += vm->cfg.costs.mmio;
            tr.vtime = vm->vtime;
            handle_mmio(vm, &tr);
            break;
        case KVM_EXIT_IRQ_WINDOW_OPEN:
            vm->vtime += vm->cfg.costs.irq_window;
            tr.vtime = vm->vtime;
            tr.kind = CC_TR_IRQ_WINDOW;
            break;
        case KVM_EXIT_HLT:
            vm->vtime += vm->cfg.costs.hlt;
            timers_catch_up(vm);
            tr.kind = CC_TR_HLT;
            /* Recorded before any fast-forward, so the trace does not depend
             * on where a run's limit falls (halted at the limit or not). */
            tr.vtime = vm->vtime;
            if (!(run->if_flag ? wake_pending(vm) : cc_pic_intr(&vm->pic))) {
                if (!run->if_flag) {
                    request_stop(vm, CC_STOP_HALTED);
                } else {
                    uint64_t dl = next_deadline(vm);
                    if (lim->until_vtime_ns && dl > lim->until_vtime_ns) {
                        /* Lockstep (sim.h): do not fast-forward past the
                         * caller's limit; stay halted until it and let the
                         * next run continue the halt. */
                        if (vm->vtime < lim->until_vtime_ns)
                            vm->vtime = lim->until_vtime_ns;
                        vm->halted = true;
                    } else if (dl == UINT64_MAX) {
                        request_stop(vm, CC_STOP_IDLE);
                    } else if (dl > vm->vtime) {
                        vm->vtime = dl;     /* fast-forward to the next timer */
                    }
                }
            }
            break;
        case KVM_EXIT_HYPERCALL:
            /* The guest SDK's doorbell (KVM_HC_MAP_GPA_RANGE, enabled by
             * cc_sdk_attach); KVM puts ret in rax at the next entry. */
            vm->vtime += vm->cfg.costs.other;
            tr.vtime = vm->vtime;
            tr.kind = CC_TR_HYPERCALL;
            tr.addr = run->hypercall.args[0];
            tr.data = run->hypercall.args[2];
            run->hypercall.ret = cc_sdk_hypercall(vm, run->hypercall.nr, run->hypercall.args[0],
                                                  run->hypercall.args[1], run->hypercall.args[2]);
            break;
        case KVM_EXIT_SHUTDOWN:
            vm->vtime += vm->cfg.costs.other;
            tr.vtime = vm->vtime;
            tr.kind = CC_TR_SHUTDOWN;
            request_stop(vm, CC_STOP_TRIPLE_FAULT);
            break;
        case KVM_EXIT_FAIL_ENTRY:
            cc_trace_add(&vm->trace, &tr);
            rc = cc_err_set(err, EIO, "KVM entry failed: hardware reason 0x%llx at rip 0x%llx",
                            (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
                            (unsigned long long)tr.rip);
            res->stop = CC_STOP_ERROR;
            goto out;
        case KVM_EXIT_INTERNAL_ERROR:
            cc_trace_add(&vm->trace, &tr);
            rc = cc_err_set(err, EIO, "KVM internal error: suberror %u at rip 0x%llx",
                            run->internal.suberror, (unsigned long long)tr.rip);
            res->stop = CC_STOP_ERROR;
            goto out;
        default:
            vm->vtime += vm->cfg.costs.other;
            tr.vtime = vm->vtime;
            tr.kind = CC_TR_OTHER;
            tr.addr = run->exit_reason;
            vm->unknown_io++;
            break;
        }
        cc_trace_add(&vm->trace, &tr);
        timers_catch_up(vm);

        if (vm->pending_stop != CC_STOP_NONE) {
            res->stop = vm->pending_stop;
            res->stop_code = vm->pending_stop_code;
            break;
        }
        if (vm->serial.pattern && vm->serial.matched) {
            res->stop = CC_STOP_SERIAL_MATCH;
            break;
        }
    }
out:
    vm->serial.pattern = NULL;
    if (vm->trace.file)
        fflush(vm->trace.file);
    return rc;
}

int cc_vm_run_until(struct cc_vm *vm, const char *serial_pattern,
                    struct cc_run_result *res, struct cc_err *err)
{
    struct cc_run_limits lim = {.until_serial = serial_pattern};
    return cc_vm_run(vm, &lim, res, err);
}

int cc_vm_run_bounded(struct cc_vm *vm, uint64_t max_exits,
                      struct cc_run_result *res, struct cc_err *err)
{
    struct cc_run_limits lim = {.max_exits = max_exits};
    return cc_vm_run(vm, &lim, res, err);
}

/* ---- clock faults and interrupt injection (fault engine, issue 7) ---- */

/* Beyond this many owed ticks, the rest of a jump is coalesced. */
#define MAX_MISSED_TICKS 1000000u

uint64_t cc_vm_clock_jump(struct cc_vm *vm, uint64_t delta_ns)
{
    uint64_t target = vm->vtime + delta_ns;
    if (target < vm->vtime)
        target = UINT64_MAX - 1;
    bool had_irq0 = vm->pic.chip[0].irr & 1;
    uint64_t edges = 0;
    for (;;) {
        uint64_t dl = next_deadline(vm);
        if (dl > target || edges >= MAX_MISSED_TICKS)
            break;
        cc_pit_advance(&vm->pit, dl);
        edges++;
    }
    vm->vtime = target;
    timers_catch_up(vm);        /* anything left over is coalesced */
    /* One edge is latched in the PIC's IRR; the others are owed. */
    uint64_t owed = edges ? edges - (had_irq0 ? 0 : 1) : 0;
    vm->missed_ticks += owed;
    if (vm->missed_ticks > MAX_MISSED_TICKS)
        vm->missed_ticks = MAX_MISSED_TICKS;
    return owed;
}

uint64_t cc_vm_missed_ticks(const struct cc_vm *vm)
{
    return vm->missed_ticks;
}

bool cc_vm_halted(const struct cc_vm *vm)
{
    return vm->halted;
}

uint64_t cc_vm_wake_time(struct cc_vm *vm)
{
    if (!vm->halted || wake_pending(vm))
        return vm->vtime;
    uint64_t dl = next_deadline(vm);
    return dl > vm->vtime ? dl : vm->vtime;
}

void cc_vm_rtc_shift(struct cc_vm *vm, int64_t delta_s)
{
    cc_cmos_shift(&vm->cmos, delta_s);
}

int cc_vm_irq_pulse(struct cc_vm *vm, unsigned line, struct cc_err *err)
{
    if (line > 15 || line == 2)
        return cc_err_set(err, EINVAL, "IRQ line %u is not an ISA line (0-15, but not the "
                          "cascade line 2; use 9)", line);
    cc_pic_set_irq(&vm->pic, line, 1);
    cc_pic_set_irq(&vm->pic, line, 0);
    return 0;
}

int cc_vm_nmi(struct cc_vm *vm, struct cc_err *err)
{
    if (ioctl(vm->vcpu_fd, KVM_NMI) < 0)
        return cc_err_set(err, errno, "KVM_NMI: %s", strerror(errno));
    struct cc_trace_rec tr = {
        .seq = vm->exits, .vtime = vm->vtime, .addr = 2, .kind = CC_TR_INJECT,
    };
    cc_trace_add(&vm->trace, &tr);
    vm->halted = false;         /* KVM delivers it at the next entry */
    return 0;
}
