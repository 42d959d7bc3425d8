/* Tiny-guest test harness (see kvmtest.h): loads the test binary's own image
 * into a VM, installs an IDT, runs a guest function and turns port writes on
 * KT_UCALL_PORT into ucalls for the host. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvmtest.h"
#include "tap.h"

#define IDT_GPA        0x1000ull
#define STACK_TOP      0x200000ull

volatile uint64_t kt_irq_count[256];
void (*volatile kt_irq_hook)(uint64_t vector);

/* ---- guest side ---- */

GUEST_CODE void kt_guest_trap(uint64_t vector, uint64_t error, uint64_t rip)
{
    if (vector < 32) {
        struct kt_ucall_rec uc = {KT_EXCEPTION, 0, 0, 0, {vector, error, rip, 0}};
        for (;;) {
            kt_ucall(&uc);
            kt_cli();
            kt_hlt();
        }
    }
    kt_irq_count[vector]++;
    void (*hook)(uint64_t) = kt_irq_hook;
    if (hook)
        hook(vector);
}

/* ---- guest helpers for the legacy interrupt path ---- */

GUEST_CODE void kt_pic_init(uint8_t master_mask, uint8_t slave_mask)
{
    kt_outb(0x20, 0x11);            /* ICW1: edge, cascade, ICW4 */
    kt_outb(0x21, 0x20);            /* vectors 0x20.. */
    kt_outb(0x21, 0x04);            /* slave on IRQ2 */
    kt_outb(0x21, 0x01);            /* 8086 mode */
    kt_outb(0xa0, 0x11);
    kt_outb(0xa1, 0x28);            /* vectors 0x28.. */
    kt_outb(0xa1, 0x02);
    kt_outb(0xa1, 0x01);
    kt_outb(0x21, master_mask);
    kt_outb(0xa1, slave_mask);
}

GUEST_CODE void kt_eoi_hook(uint64_t vector)
{
    if (vector >= 0x28)
        kt_outb(0xa0, 0x20);
    kt_outb(0x20, 0x20);
}

GUEST_CODE void kt_pit_periodic(uint16_t count)
{
    kt_outb(0x43, 0x34);            /* channel 0, LSB then MSB, mode 2 */
    kt_outb(0x40, (uint8_t)count);
    kt_outb(0x40, (uint8_t)(count >> 8));
}

/* Where a guest function returns to: report DONE and stop. */
GUEST_CODE void kt_guest_return(void)
{
    for (;;) {
        GUEST_DONE();
        kt_cli();
        kt_hlt();
    }
}

/* 256 interrupt entry stubs, 16 bytes apart. Vectors with a CPU-pushed
 * error code (8, 10-14, 17, 21, 29, 30) skip the dummy push. */
__asm__(
    ".pushsection .text\n"
    ".globl kt_idt_stubs\n"
    ".align 16\n"
    "kt_idt_stubs:\n"
    "vector = 0\n"
    ".rept 256\n"
    ".align 16\n"
    ".if (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)\n"
    ".else\n"
    "  pushq $0\n"
    ".endif\n"
    "  pushq $vector\n"
    "  jmp kt_idt_common\n"
    "vector = vector + 1\n"
    ".endr\n"
    "kt_idt_common:\n"
    "  push %rax; push %rcx; push %rdx; push %rsi; push %rdi\n"
    "  push %r8; push %r9; push %r10; push %r11\n"
    "  mov 72(%rsp), %rdi\n"        /* vector */
    "  mov 80(%rsp), %rsi\n"        /* error code */
    "  mov 88(%rsp), %rdx\n"        /* rip */
    "  cld\n"
    "  call kt_guest_trap\n"
    "  pop %r11; pop %r10; pop %r9; pop %r8\n"
    "  pop %rdi; pop %rsi; pop %rdx; pop %rcx; pop %rax\n"
    "  add $16, %rsp\n"
    "  iretq\n"
    ".popsection\n");

extern char kt_idt_stubs[];

/* ---- host side ---- */

static void ucall_write(void *opaque, uint64_t offset, const void *data, unsigned size);

static const struct cc_io_ops ucall_ops = {
    .read = NULL,
    .write = ucall_write,
};

static void copy_guest_str(struct kt_vm *t, uint64_t gva, char *out, size_t len)
{
    out[0] = 0;
    if (!gva)
        return;
    for (size_t i = 0; i + 1 < len; i++) {
        const char *c = cc_vm_gpa(t->vm, gva + i, 1);
        if (!c) {
            out[i] = 0;
            return;
        }
        out[i] = *c;
        out[i + 1] = 0;
        if (!*c)
            return;
    }
}

static void ucall_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
    struct kt_vm *t = opaque;
    (void)offset;
    uint32_t gpa = 0;
    memcpy(&gpa, data, size < 4 ? size : 4);
    const struct kt_ucall_rec *rec = cc_vm_gpa(t->vm, gpa, sizeof(*rec));
    memset(&t->last, 0, sizeof(t->last));
    if (!rec) {
        t->last.type = KT_ASSERT;
        snprintf(t->last.expr, sizeof(t->last.expr), "ucall record 0x%x outside guest memory", gpa);
    } else {
        t->last.type = (enum kt_ucall_type)rec->type;
        t->last.line = rec->line;
        memcpy(t->last.args, rec->args, sizeof(rec->args));
        copy_guest_str(t, rec->file, t->last.file, sizeof(t->last.file));
        copy_guest_str(t, rec->expr, t->last.expr, sizeof(t->last.expr));
    }
    t->have_ucall = true;
    cc_vm_request_stop(t->vm, 1);
}

static void load_self(struct kt_vm *t)
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        tap_bail("cannot open /proc/self/exe: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0)
        tap_bail("fstat /proc/self/exe: %s", strerror(errno));
    uint8_t *img = malloc((size_t)st.st_size);
    if (!img || pread(fd, img, (size_t)st.st_size, 0) != st.st_size)
        tap_bail("cannot read /proc/self/exe");
    close(fd);

    Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
    if (eh->e_type != ET_EXEC)
        tap_bail("tiny-guest test binaries must be linked with -no-pie (ELF type %u)", eh->e_type);
    uint64_t mem_size;
    uint8_t *mem = cc_vm_mem(t->vm, &mem_size);
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr *ph = (Elf64_Phdr *)(img + eh->e_phoff + (uint64_t)i * eh->e_phentsize);
        if (ph->p_type != PT_LOAD)
            continue;
        if (ph->p_vaddr + ph->p_memsz > mem_size)
            tap_bail("test image segment at 0x%lx+0x%lx does not fit in %lu MiB of guest memory",
                     (unsigned long)ph->p_vaddr, (unsigned long)ph->p_memsz,
                     (unsigned long)(mem_size >> 20));
        memcpy(mem + ph->p_vaddr, img + ph->p_offset, ph->p_filesz);
    }
    free(img);
}

static void setup_idt(struct kt_vm *t)
{
    uint8_t *idt = cc_vm_gpa(t->vm, IDT_GPA, 256 * 16);
    for (unsigned v = 0; v < 256; v++) {
        uint64_t h = (uint64_t)(uintptr_t)kt_idt_stubs + v * 16;
        uint8_t *e = idt + v * 16;
        memset(e, 0, 16);
        e[0] = (uint8_t)h;
        e[1] = (uint8_t)(h >> 8);
        e[2] = 0x10;                /* selector: __BOOT_CS */
        e[5] = 0x8e;                /* present, DPL 0, 64-bit interrupt gate */
        e[6] = (uint8_t)(h >> 16);
        e[7] = (uint8_t)(h >> 24);
        e[8] = (uint8_t)(h >> 32);
        e[9] = (uint8_t)(h >> 40);
        e[10] = (uint8_t)(h >> 48);
        e[11] = (uint8_t)(h >> 56);
    }
    struct kvm_sregs sregs;
    struct cc_err err = {0};
    if (cc_vm_get_sregs(t->vm, &sregs, &err) < 0)
        tap_bail("%s", err.msg);
    sregs.idt.base = IDT_GPA;
    sregs.idt.limit = 256 * 16 - 1;
    /* SSE for compiler-generated code: CR4.OSFXSR | OSXMMEXCPT, CR0.MP. */
    sregs.cr4 |= (1u << 9) | (1u << 10);
    sregs.cr0 = (sregs.cr0 & ~(1ull << 2)) | (1ull << 1);
    if (cc_vm_set_sregs(t->vm, &sregs, &err) < 0)
        tap_bail("%s", err.msg);
}

/* Host notes from the library (e.g. TSC frequency not pinned): show each
 * distinct message once as a TAP comment. */
static void kt_log(void *opaque, const char *msg)
{
    static char seen[8][256];
    (void)opaque;
    for (int i = 0; i < 8; i++) {
        if (!strncmp(seen[i], msg, sizeof(seen[i]) - 1))
            return;
        if (!seen[i][0]) {
            snprintf(seen[i], sizeof(seen[i]), "%s", msg);
            break;
        }
    }
    tap_diag("vm: %s", msg);
}

struct kt_vm *kt_create(void (*guest)(uint64_t), uint64_t arg, const struct cc_vm_config *cfg)
{
    struct kt_vm *t = calloc(1, sizeof(*t));
    if (!t)
        tap_bail("out of memory");
    struct cc_vm_config c;
    if (cfg) {
        c = *cfg;
    } else {
        cc_vm_config_default(&c);
        c.mem_size = KT_MEM_SIZE;
    }
    if (!c.log)
        c.log = kt_log;
    struct cc_err err = {0};
    if (cc_vm_create(&c, &t->vm, &err) < 0)
        tap_bail("cannot create VM: %s", err.msg);
    load_self(t);
    if (cc_vm_add_pio(t->vm, KT_UCALL_PORT, 4, &ucall_ops, t, &err) < 0)
        tap_bail("%s", err.msg);

    /* Return address on the stack: kt_guest_return. rsp % 16 == 8 at entry. */
    uint64_t rsp = STACK_TOP - 8;
    uint64_t ret = (uint64_t)(uintptr_t)kt_guest_return;
    memcpy(cc_vm_gpa(t->vm, rsp, 8), &ret, 8);
    if (cc_vm_setup_long_mode(t->vm, (uint64_t)(uintptr_t)guest, rsp, arg, 0, &err) < 0)
        tap_bail("%s", err.msg);
    setup_idt(t);
    return t;
}

void kt_attach(struct kt_vm *t)
{
    struct cc_err err = {0};
    if (cc_vm_add_pio(t->vm, KT_UCALL_PORT, 4, &ucall_ops, t, &err) < 0)
        tap_bail("%s", err.msg);
}

enum kt_ucall_type kt_run(struct kt_vm *t, struct kt_ucall *uc)
{
    struct cc_run_result res;
    struct cc_err err = {0};
    t->have_ucall = false;
    /* A generous exit budget keeps a broken test from spinning forever. */
    if (cc_vm_run_bounded(t->vm, 10000000, &res, &err) < 0)
        tap_bail("run failed: %s", err.msg);
    if (t->have_ucall && res.stop == CC_STOP_REQUESTED) {
        *uc = t->last;
        uc->stop = res.stop;
        return uc->type;
    }
    memset(uc, 0, sizeof(*uc));
    uc->type = KT_NONE;
    uc->stop = res.stop;
    return KT_NONE;
}

void *kt_guest_ptr(struct kt_vm *t, const volatile void *host_addr, uint64_t len)
{
    void *p = cc_vm_gpa(t->vm, (uint64_t)(uintptr_t)host_addr, len);
    if (!p)
        tap_bail("guest address %p+%lu outside guest memory", (const void *)host_addr,
                 (unsigned long)len);
    return p;
}

void kt_destroy(struct kt_vm *t)
{
    if (!t)
        return;
    cc_vm_destroy(t->vm);
    free(t);
}

void kt_diag_ucall(const struct kt_ucall *uc)
{
    switch (uc->type) {
    case KT_ASSERT:
        tap_diag("guest assertion failed at %s:%llu: %s (args 0x%llx, 0x%llx)", uc->file,
                 (unsigned long long)uc->line, uc->expr, (unsigned long long)uc->args[0],
                 (unsigned long long)uc->args[1]);
        break;
    case KT_EXCEPTION:
        tap_diag("guest exception %llu (error 0x%llx) at rip 0x%llx",
                 (unsigned long long)uc->args[0], (unsigned long long)uc->args[1],
                 (unsigned long long)uc->args[2]);
        break;
    case KT_NONE:
        tap_diag("guest stopped without a ucall: %s", cc_stop_name(uc->stop));
        break;
    default:
        tap_diag("ucall %d at %s:%llu", uc->type, uc->file, (unsigned long long)uc->line);
    }
}
