/* Linux x86_64 boot: load a bzImage or an ELF vmlinux, an initrd and a
 * command line into guest memory following the Linux boot protocol
 * (Documentation/arch/x86/boot.rst, 64-bit entry), fill in boot_params with
 * an e820 map, and hand the seed to the guest RNG through SETUP_RNG_SEED
 * setup_data.
 *
 * Guest physical layout (low memory as on a PC):
 *   0x00500  GDT                    0x09000  PML4, 0x0A000 PDPT, 0x0B000 PD
 *   0x06000  setup_data (RNG seed)  0x20000  kernel command line
 *   0x07000  boot_params            0x9FC00-0xFFFFF  reserved (EBDA, BIOS)
 *   0x08FF0  initial stack          0x1000000  kernel (pref_address)
 *   initrd: as high as allowed, below the top of RAM and initrd_addr_max.
 *
 * Every check on the input files produces an error naming the file and the
 * problem; nothing is written to guest memory outside RAM. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chaoscontrol/platform.h"
#include "mptable.h"
#include "vm_internal.h"

#define SETUP_DATA_GPA   0x6000ull
#define ZERO_PAGE_GPA    0x7000ull
#define BOOT_STACK_GPA   0x8ff0ull
#define CMDLINE_GPA      0x20000ull
#define CMDLINE_MAX      4096u
#define EBDA_START       0x9fc00ull
#define HIGH_MEM         0x100000ull

/* boot_params offsets */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_HDR               0x1f1
#define BP_E820_TABLE        0x2d0
#define BP_E820_MAX          128

/* setup_header offsets (from the start of boot_params / the bzImage) */
#define HDR_SETUP_SECTS      0x1f1
#define HDR_SYSSIZE          0x1f4
#define HDR_BOOT_FLAG        0x1fe
#define HDR_JUMP             0x200
#define HDR_MAGIC            0x202
#define HDR_VERSION          0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS        0x211
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_HEAP_END_PTR     0x224
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE      0x234
#define HDR_XLOADFLAGS       0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_SETUP_DATA       0x250
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE        0x260

#define LOADED_HIGH   0x01
#define CAN_USE_HEAP  0x80
#define XLF_KERNEL_64 0x01
#define SETUP_RNG_SEED 9

#define E820_RAM      1
#define E820_RESERVED 2

static const char default_cmdline[] =
    "console=ttyS0 8250.nr_uarts=1 noapic nolapic acpi=off nokaslr "
    "lpj=500000 io_delay=none reboot=k panic=-1 printk.time=1";

const char *cc_vm_default_cmdline(void)
{
    return default_cmdline;
}

const char *cc_vm_default_cmdline_for(unsigned vcpus)
{
    return vcpus > 1 ? smp_cmdline(NULL) : default_cmdline;
}

struct file_buf {
    uint8_t *data;
    size_t size;
};

static int read_file(const char *what, const char *path, struct file_buf *fb, struct cc_err *err)
{
    fb->data = NULL;
    fb->size = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cc_err_set(err, errno, "%s '%s': %s", what, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cc_err_set(err, EINVAL, "%s '%s': not a regular file", what, path);
    }
    fb->size = (size_t)st.st_size;
    fb->data = malloc(fb->size ? fb->size : 1);
    if (!fb->data) {
        close(fd);
        return cc_err_set(err, ENOMEM, "%s '%s': out of memory (%zu bytes)", what, path, fb->size);
    }
    size_t off = 0;
    while (off < fb->size) {
        ssize_t r = read(fd, fb->data + off, fb->size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            close(fd);
            free(fb->data);
            fb->data = NULL;
            return cc_err_set(err, e, "%s '%s': read failed: %s", what, path, strerror(e));
        }
        off += (size_t)r;
    }
    close(fd);
    return 0;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

struct kernel_info {
    uint64_t entry;         /* 64-bit entry point (physical) */
    uint64_t end;           /* first byte after the kernel's memory footprint */
    uint32_t cmdline_size;  /* max command line length the kernel accepts */
    uint32_t initrd_max;    /* highest initrd address */
};

/* The guest memory a kernel goes into; mem is NULL when only checking. */
struct boot_mem {
    uint8_t *mem;
    uint64_t size;
};

static int load_bzimage(const struct boot_mem *vm, const char *path, const struct file_buf *k,
                        uint8_t *bp, struct kernel_info *ki, struct cc_err *err)
{
    const uint8_t *d = k->data;
    if (k->size < 0x270)
        return cc_err_set(err, EINVAL, "kernel '%s': file too small (%zu bytes) to be a bzImage",
                          path, k->size);
    uint16_t version = get16(d + HDR_VERSION);
    if (version < 0x20c)
        return cc_err_set(err, EINVAL, "kernel '%s': boot protocol %u.%02u is too old "
                          "(need 2.12 or later for the 64-bit entry point)",
                          path, version >> 8, version & 0xff);
    if (!(d[HDR_XLOADFLAGS] & XLF_KERNEL_64))
        return cc_err_set(err, EINVAL, "kernel '%s': not a 64-bit kernel (XLF_KERNEL_64 unset)",
                          path);
    unsigned setup_sects = d[HDR_SETUP_SECTS] ? d[HDR_SETUP_SECTS] : 4;
    size_t setup_size = (size_t)(setup_sects + 1) * 512;
    if (setup_size >= k->size)
        return cc_err_set(err, EINVAL, "kernel '%s': truncated (setup code of %zu bytes but "
                          "file is %zu bytes)", path, setup_size, k->size);
    size_t payload = k->size - setup_size;
    uint64_t syssize = (uint64_t)get32(d + HDR_SYSSIZE) * 16;
    if (syssize > payload)
        return cc_err_set(err, EINVAL, "kernel '%s': truncated (header says %llu bytes of "
                          "protected-mode code, file has %zu)",
                          path, (unsigned long long)syssize, payload);
    uint64_t load = get64(d + HDR_PREF_ADDRESS);
    if (load < HIGH_MEM || (load & 0xfff))
        load = CC_KERNEL_LOAD_GPA;
    uint32_t init_size = get32(d + HDR_INIT_SIZE);
    if (init_size < payload)
        init_size = (uint32_t)payload;
    if (load + init_size > vm->size)
        return cc_err_set(err, ENOMEM, "memory too small for the kernel: '%s' needs %llu MiB "
                          "at %llu MiB, the VM has %llu MiB (use --mem)", path,
                          (unsigned long long)(init_size >> 20), (unsigned long long)(load >> 20),
                          (unsigned long long)(vm->size >> 20));
    if (vm->mem)
        memcpy(vm->mem + load, d + setup_size, payload);

    /* Copy the setup header into the zero page. */
    size_t hdr_end = 0x202 + d[0x201];
    if (hdr_end > k->size || hdr_end > 0x1000 || hdr_end < HDR_INIT_SIZE + 4)
        hdr_end = HDR_INIT_SIZE + 4;
    memcpy(bp + BP_HDR, d + BP_HDR, hdr_end - BP_HDR);

    ki->entry = load + 0x200;
    ki->end = load + init_size;
    ki->cmdline_size = get32(d + HDR_CMDLINE_SIZE);
    ki->initrd_max = get32(d + HDR_INITRD_ADDR_MAX);
    return 0;
}

static int load_elf(const struct boot_mem *vm, const char *path, const struct file_buf *k,
                    uint8_t *bp, struct kernel_info *ki, struct cc_err *err)
{
    const uint8_t *d = k->data;
    if (k->size < 64)
        return cc_err_set(err, EINVAL, "kernel '%s': truncated ELF header", path);
    if (d[4] != 2 || d[5] != 1)
        return cc_err_set(err, EINVAL, "kernel '%s': not a 64-bit little-endian ELF file", path);
    if (get16(d + 18) != 62)
        return cc_err_set(err, EINVAL, "kernel '%s': ELF file is not for x86_64 (machine %u)",
                          path, get16(d + 18));
    uint64_t phoff = get64(d + 32);
    uint16_t phentsize = get16(d + 54), phnum = get16(d + 56);
    if (phentsize < 56 || phnum == 0 || phoff > k->size ||
        (uint64_t)phentsize * phnum > k->size - phoff)
        return cc_err_set(err, EINVAL, "kernel '%s': bad or truncated ELF program headers", path);
    uint64_t end = 0;
    unsigned loads = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = d + phoff + (uint64_t)i * phentsize;
        if (get32(ph) != 1)     /* PT_LOAD */
            continue;
        uint64_t off = get64(ph + 8), paddr = get64(ph + 24);
        uint64_t filesz = get64(ph + 32), memsz = get64(ph + 40);
        if (filesz > memsz || off > k->size || filesz > k->size - off)
            return cc_err_set(err, EINVAL, "kernel '%s': ELF segment %u lies outside the file "
                              "(truncated?)", path, i);
        if (paddr < HIGH_MEM || paddr > vm->size || memsz > vm->size - paddr)
            return cc_err_set(err, ENOMEM, "memory too small for the kernel: '%s' segment %u "
                              "needs [0x%llx, 0x%llx), the VM has %llu MiB (use --mem)", path, i,
                              (unsigned long long)paddr, (unsigned long long)(paddr + memsz),
                              (unsigned long long)(vm->size >> 20));
        if (vm->mem) {
            memcpy(vm->mem + paddr, d + off, filesz);
            memset(vm->mem + paddr + filesz, 0, memsz - filesz);
        }
        if (paddr + memsz > end)
            end = paddr + memsz;
        loads++;
    }
    if (!loads)
        return cc_err_set(err, EINVAL, "kernel '%s': ELF file has no loadable segments", path);
    uint64_t entry = get64(d + 24);
    /* vmlinux's e_entry is physical (phys_startup_64); accept a virtual
     * __START_KERNEL_map address too. */
    if (entry >= 0xffffffff80000000ull)
        entry -= 0xffffffff80000000ull;
    if (entry >= vm->size)
        return cc_err_set(err, EINVAL, "kernel '%s': entry point 0x%llx outside guest memory",
                          path, (unsigned long long)entry);

    put16(bp + HDR_BOOT_FLAG, 0xaa55);
    memcpy(bp + HDR_MAGIC, "HdrS", 4);
    put16(bp + HDR_VERSION, 0x20f);
    put32(bp + HDR_KERNEL_ALIGNMENT, 0x1000000);
    ki->entry = entry;
    ki->end = (end + 0xfff) & ~0xfffull;
    ki->cmdline_size = 2048;
    ki->initrd_max = 0x7fffffff;
    return 0;
}

static void e820_add(uint8_t *bp, uint64_t addr, uint64_t size, uint32_t type)
{
    uint8_t n = bp[BP_E820_ENTRIES];
    if (n >= BP_E820_MAX || size == 0)
        return;
    uint8_t *e = bp + BP_E820_TABLE + n * 20u;
    put64(e, addr);
    put64(e + 8, size);
    put32(e + 16, type);
    bp[BP_E820_ENTRIES] = (uint8_t)(n + 1);
}

/* Read and check the kernel and initrd files against a guest of bm->size
 * bytes; with bm->mem, also place them and fill in the zero page at bp. On
 * success *ki describes the kernel and *rd holds the initrd (caller frees). */
static int load_images(const struct boot_mem *bm, const char *kernel, const char *initrd,
                       uint8_t *bp, struct kernel_info *ki, struct file_buf *rd,
                       uint64_t *initrd_gpa, struct cc_err *err)
{
    struct file_buf k = {0};
    rd->data = NULL;
    rd->size = 0;
    int rc = read_file("kernel", kernel, &k, err);
    if (rc < 0)
        return rc;
    memset(bp, 0, 4096);
    if (k.size >= 4 && !memcmp(k.data, "\177ELF", 4)) {
        rc = load_elf(bm, kernel, &k, bp, ki, err);
    } else if (k.size >= HDR_MAGIC + 4 && !memcmp(k.data + HDR_MAGIC, "HdrS", 4)) {
        rc = load_bzimage(bm, kernel, &k, bp, ki, err);
    } else {
        rc = cc_err_set(err, EINVAL, "kernel '%s' is not a Linux kernel: neither a bzImage "
                        "(no 'HdrS' boot header at offset 0x202) nor an ELF vmlinux", kernel);
    }
    free(k.data);
    if (rc < 0 || !initrd)
        return rc;

    /* Initrd, as high as allowed. */
    rc = read_file("initrd", initrd, rd, err);
    if (rc < 0)
        return rc;
    if (rd->size == 0)
        rc = cc_err_set(err, EINVAL, "initrd '%s' is empty", initrd);
    uint64_t top = bm->size;
    if (ki->initrd_max && (uint64_t)ki->initrd_max + 1 < top)
        top = (uint64_t)ki->initrd_max + 1;
    if (rc == 0 && (rd->size > top || ((top - rd->size) & ~0xfffull) < ki->end))
        rc = cc_err_set(err, ENOMEM, "memory too small for the kernel and initrd: the "
                        "kernel needs up to %llu MiB and initrd '%s' %zu KiB more, the VM "
                        "has %llu MiB (use --mem)", (unsigned long long)(ki->end >> 20),
                        initrd, rd->size >> 10, (unsigned long long)(bm->size >> 20));
    if (rc < 0) {
        free(rd->data);
        rd->data = NULL;
        return rc;
    }
    *initrd_gpa = (top - rd->size) & ~0xfffull;
    return 0;
}

int cc_linux_check(const char *kernel, const char *initrd, uint64_t mem_size,
                   struct cc_err *err)
{
    if (mem_size < CC_VM_MIN_MEM || mem_size > CC_VM_MAX_MEM || (mem_size & 0xfff))
        return cc_err_set(err, EINVAL, "memory size %llu bytes is invalid: it must be a multiple "
                          "of 4 KiB between 2 MiB and 3 GiB", (unsigned long long)mem_size);
    struct boot_mem bm = {NULL, mem_size};
    uint8_t bp[4096];
    struct kernel_info ki = {0};
    struct file_buf rd;
    uint64_t gpa;
    int rc = load_images(&bm, kernel, initrd, bp, &ki, &rd, &gpa, err);
    free(rd.data);
    return rc;
}

int cc_vm_load_linux(struct cc_vm *vm, const char *kernel, const char *initrd,
                     const char *cmdline, struct cc_err *err)
{
    struct boot_mem bm = {vm->mem, vm->mem_size};
    uint8_t *bp = vm->mem + ZERO_PAGE_GPA;
    struct kernel_info ki = {0};
    struct file_buf rd;
    uint64_t initrd_gpa = 0;
    int rc = load_images(&bm, kernel, initrd, bp, &ki, &rd, &initrd_gpa, err);
    if (rc < 0)
        return rc;

    /* Command line: base (or the default), device fragments, extra. */
    char *cl = (char *)(vm->mem + CMDLINE_GPA);
    const char *parts[3] = {cmdline ? cmdline : vm->smp ? smp_cmdline(vm) : default_cmdline,
                            vm->cmdline_dev, vm->cfg.cmdline_extra};
    size_t need = 0;
    for (int i = 0; i < 3; i++)
        if (parts[i] && *parts[i])
            need += (need ? 1 : 0) + strlen(parts[i]);
    uint32_t limit = ki.cmdline_size ? ki.cmdline_size : 255;
    if (limit > CMDLINE_MAX - 1)
        limit = CMDLINE_MAX - 1;
    if (need > limit) {
        free(rd.data);
        return cc_err_set(err, E2BIG, "kernel command line is %zu bytes; the kernel accepts %u",
                          need, limit);
    }
    cl[0] = 0;
    for (int i = 0; i < 3; i++) {
        if (!parts[i] || !*parts[i])
            continue;
        if (cl[0])
            strcat(cl, " ");
        strcat(cl, parts[i]);
    }
    put32(bp + HDR_CMD_LINE_PTR, (uint32_t)CMDLINE_GPA);
    put32(bp + BP_EXT_CMD_LINE_PTR, 0);

    bp[HDR_TYPE_OF_LOADER] = 0xff;
    bp[HDR_LOADFLAGS] |= LOADED_HIGH | CAN_USE_HEAP;
    put16(bp + HDR_HEAP_END_PTR, 0xfe00);

    if (rd.data) {
        memcpy(vm->mem + initrd_gpa, rd.data, rd.size);
        put32(bp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
        put32(bp + HDR_RAMDISK_SIZE, (uint32_t)rd.size);
        put32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd_gpa >> 32));
        put32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)rd.size >> 32));
        free(rd.data);
    }

    /* The seed reaches the guest RNG as SETUP_RNG_SEED setup_data. */
    uint8_t *sd = vm->mem + SETUP_DATA_GPA;
    memset(sd, 0, 64);
    put64(sd, 0);                       /* next */
    put32(sd + 8, SETUP_RNG_SEED);
    put32(sd + 12, 32);
    struct cc_rng seed_rng;
    rng_init(&seed_rng, vm->cfg.seed, "kernel-rng-seed");
    rng_bytes(&seed_rng, sd + 16, 32);
    put64(bp + HDR_SETUP_DATA, SETUP_DATA_GPA);

    /* SMP: the MP table in the first KiB of the EBDA, where Linux looks. */
    if (vm->smp) {
        uint32_t sig = (vm->cfg.cpu.family > 0xf ? 0xf : vm->cfg.cpu.family) << 8 |
                       (vm->cfg.cpu.model & 0xf) << 4 | (vm->cfg.cpu.stepping & 0xf);
        rc = mptable_write(vm->mem, vm->mem_size, EBDA_START, vm->ncpu, sig,
                           1u << 0 | 1u << 9 /* FPU, APIC */, err);
        if (rc < 0)
            return rc;
    }
    e820_add(bp, 0, EBDA_START, E820_RAM);
    e820_add(bp, EBDA_START, HIGH_MEM - EBDA_START, E820_RESERVED);
    e820_add(bp, HIGH_MEM, vm->mem_size - HIGH_MEM, E820_RAM);

    return cc_vm_setup_long_mode(vm, ki.entry, BOOT_STACK_GPA, 0, ZERO_PAGE_GPA, err);
}
