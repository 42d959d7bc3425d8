/* Looking inside a stopped VM (chaoscontrol/replay.h): its registers in
 * the dlog's order, the tail of a console, and the guest kernel's current
 * task found through the kernel's symbol table and the guest's page
 * tables. Only reads: nothing here changes the VM. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "chaoscontrol/replay.h"
#include "chaoscontrol/vm.h"

int cc_replay_regs(struct cc_vm *vm, uint64_t regs[CC_REPLAY_NREGS], struct cc_err *err)
{
    struct kvm_regs g;
    struct kvm_sregs s;
    int rc = cc_vm_get_regs(vm, &g, err);
    if (rc == 0)
        rc = cc_vm_get_sregs(vm, &s, err);
    if (rc < 0)
        return rc;
    const uint64_t v[CC_REPLAY_NREGS] = {
        g.rax, g.rbx, g.rcx, g.rdx, g.rsi, g.rdi, g.rsp, g.rbp,
        g.r8, g.r9, g.r10, g.r11, g.r12, g.r13, g.r14, g.r15,
        g.rip, g.rflags, s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.efer,
        s.cs.selector, s.ss.selector, s.ds.selector, s.es.selector,
        s.fs.selector, s.gs.selector, s.fs.base, s.gs.base,
    };
    memcpy(regs, v, sizeof(v));
    return 0;
}

size_t cc_text_tail(const uint8_t *s, size_t len, unsigned lines)
{
    if (!s || !len || !lines)
        return len;
    size_t i = len;
    if (s[i - 1] == '\n')
        i--;                    /* the final newline ends the last line */
    unsigned seen = 0;
    while (i > 0) {
        if (s[i - 1] == '\n' && ++seen == lines)
            return i;
        i--;
    }
    return 0;
}

char *cc_text_clean(const uint8_t *s, size_t len)
{
    char *o = malloc(len + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (c == '\r')
            continue;
        o[k++] = (c >= 32 && c < 127) || c == '\n' || c == '\t' ? (char)c : '.';
    }
    o[k] = 0;
    return o;
}

/* ---- guest memory through the guest's page tables ---- */

/* Read len bytes at guest virtual address va, all of them or false. */
static bool read_va(struct cc_vm *vm, uint64_t va, void *out, size_t len)
{
    return cc_vm_read_va(vm, va, out, len) == len;
}

/* ---- the kernel's symbol table ---- */

struct ksym {
    bool found;
    uint64_t value, size;
};

/* Look up names[i] in vmlinux's .symtab; false with why on a bad file. */
static bool elf_symbols(const char *path, const char *const *names, struct ksym *out, size_t n,
                        char *why, size_t whylen)
{
    memset(out, 0, n * sizeof(*out));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open the kernel's symbols '%s': %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
        close(fd);
        snprintf(why, whylen, "'%s' is not an ELF file", path);
        return false;
    }
    size_t size = (size_t)st.st_size;
    const uint8_t *d = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (d == MAP_FAILED) {
        snprintf(why, whylen, "cannot map '%s': %s", path, strerror(errno));
        return false;
    }
    bool ok = false;
    const Elf64_Ehdr *eh = (const void *)d;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > size ||
        (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum) {
        snprintf(why, whylen, "'%s' is not a 64-bit ELF file (a vmlinux, not a bzImage)", path);
        goto out;
    }
    const Elf64_Shdr *sh = (const void *)(d + eh->e_shoff);
    for (unsigned i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
            continue;
        const Elf64_Shdr *strs = &sh[sh[i].sh_link];
        if (sh[i].sh_offset > size || sh[i].sh_size > size - sh[i].sh_offset ||
            strs->sh_offset > size || strs->sh_size > size - strs->sh_offset)
            break;
        const Elf64_Sym *sym = (const void *)(d + sh[i].sh_offset);
        size_t nsym = sh[i].sh_size / sizeof(Elf64_Sym);
        const char *str = (const char *)(d + strs->sh_offset);
        for (size_t k = 0; k < nsym; k++) {
            if (sym[k].st_name >= strs->sh_size)
                continue;
            const char *nm = str + sym[k].st_name;
            size_t maxlen = strs->sh_size - sym[k].st_name;
            for (size_t j = 0; j < n; j++)
                if (!out[j].found && strnlen(nm, maxlen) < maxlen && !strcmp(nm, names[j]))
                    out[j] = (struct ksym){true, sym[k].st_value, sym[k].st_size};
        }
        ok = true;
        break;
    }
    if (!ok)
        snprintf(why, whylen, "'%s' has no symbol table (stripped?)", path);
out:
    munmap((void *)d, size);
    return ok;
}

/* The offsets of comm and pid in task_struct, found in init_task (see
 * replay.h). */
static bool task_offsets(const uint8_t *it, size_t n, uint64_t addr, size_t *comm, size_t *pid,
                         char *why, size_t whylen)
{
    *comm = *pid = SIZE_MAX;
    for (size_t i = 0; i + 7 <= n; i++)
        if (!memcmp(it + i, "swapper", 7)) {
            *comm = i;
            break;
        }
    for (size_t p = 16; p + 56 <= n; p += 8) {
        uint64_t w[7];
        memcpy(w, it + p, sizeof(w));
        /* children (w[2], w[3]) hold kthreadd and init by now */
        if (w[0] == addr && w[1] == addr && w[4] == addr + p + 32 && w[5] == addr + p + 32 &&
            w[6] == addr) {
            uint64_t before;
            memcpy(&before, it + p - 8, 8);
            /* pid, tgid just before real_parent; or the stack canary
             * between them (CONFIG_STACKPROTECTOR): init_task's pid and
             * tgid are 0, its canary is not */
            *pid = before == 0 ? p - 8 : p - 16;
            break;
        }
    }
    if (*comm == SIZE_MAX || *pid == SIZE_MAX) {
        snprintf(why, whylen, "init_task does not look like Linux's (%s): the symbols may "
                 "belong to another kernel", *comm == SIZE_MAX ? "no \"swapper\" comm" :
                 "no parent links to itself");
        return false;
    }
    return true;
}

void cc_guest_task(struct cc_vm *vm, const char *vmlinux, struct cc_guest_task *out)
{
    memset(out, 0, sizeof(*out));
    out->pid = -1;
    struct kvm_sregs s;
    struct cc_err err = {0};
    if (cc_vm_get_sregs(vm, &s, &err) < 0) {
        snprintf(out->why, sizeof(out->why), "%.200s", err.msg);
        return;
    }
    out->user_mode = (s.cs.selector & 3) == 3;
    if (!vmlinux) {
        snprintf(out->why, sizeof(out->why), "no kernel symbols (no vmlinux beside the kernel; "
                 "--vmlinux F)");
        return;
    }
    static const char *const names[] = {"current_task", "pcpu_hot", "init_task"};
    struct ksym sy[3];
    if (!elf_symbols(vmlinux, names, sy, 3, out->why, sizeof(out->why)))
        return;
    struct ksym cur = sy[0].found ? sy[0] : sy[1];     /* 6.2+: pcpu_hot.current_task */
    if (!cur.found || !sy[2].found) {
        snprintf(out->why, sizeof(out->why), "'%s' has no %s symbol", vmlinux,
                 cur.found ? "init_task" : "current_task");
        return;
    }
    uint64_t cur_va = cur.value;
    if (cur_va < (1ull << 32)) {
        /* a per-CPU offset (CONFIG_SMP): relative to the kernel's GS base,
         * which in user mode (after SWAPGS) is in MSR_KERNEL_GS_BASE */
        uint64_t gs = s.gs.base;
        if (out->user_mode && cc_vm_get_msr(vm, 0xc0000102 /* MSR_KERNEL_GS_BASE */, &gs) < 0) {
            snprintf(out->why, sizeof(out->why), "the vCPU is in user mode and KVM does not "
                     "give the kernel GS base (MSR 0xc0000102) behind which this SMP kernel "
                     "keeps current_task");
            return;
        }
        cur_va += gs;
    }
    size_t isz = sy[2].size && sy[2].size < (1u << 16) ? sy[2].size : 8192;
    uint8_t *it = malloc(isz);
    uint64_t task = 0;
    if (!it) {
        snprintf(out->why, sizeof(out->why), "out of memory");
        return;
    }
    size_t comm_off, pid_off;
    if (!read_va(vm, sy[2].value, it, isz)) {
        snprintf(out->why, sizeof(out->why), "init_task (0x%" PRIx64 ") is not mapped by the "
                 "guest's page tables now (cr3 0x%llx)", sy[2].value, (unsigned long long)s.cr3);
        goto out;
    }
    if (!task_offsets(it, isz, sy[2].value, &comm_off, &pid_off, out->why, sizeof(out->why)))
        goto out;
    if (!read_va(vm, cur_va, &task, 8) || !task) {
        snprintf(out->why, sizeof(out->why), "current_task (0x%" PRIx64 ") is %s", cur_va,
                 task ? "not mapped now" : "not set yet (early boot)");
        goto out;
    }
    out->task = task;
    char comm[16];
    int32_t pid;
    if (!read_va(vm, task + comm_off, comm, sizeof(comm)) ||
        !read_va(vm, task + pid_off, &pid, sizeof(pid))) {
        snprintf(out->why, sizeof(out->why), "the current task_struct (0x%" PRIx64 ") is not "
                 "mapped now", task);
        goto out;
    }
    for (size_t i = 0; i < sizeof(comm) && comm[i]; i++)
        out->comm[i] = comm[i] >= 32 && comm[i] < 127 ? comm[i] : '?';
    out->pid = pid;
    out->ok = true;
out:
    free(it);
}
