/* What the dynamic loader needs to load an ELF file, read from the file:
 * its interpreter (PT_INTERP), the libraries it needs (DT_NEEDED) and where
 * to look for them (DT_RPATH, DT_RUNPATH). Every offset and size from the
 * file is checked against the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pack/pack_internal.h"

#define PT_LOAD_ 1
#define PT_DYNAMIC_ 2
#define PT_INTERP_ 3
#define DT_NULL_ 0
#define DT_NEEDED_ 1
#define DT_STRTAB_ 5
#define DT_STRSZ_ 10
#define DT_RPATH_ 15
#define DT_RUNPATH_ 29

static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t g32(const uint8_t *p) { return (uint32_t)g16(p) | (uint32_t)g16(p + 2) << 16; }
static uint64_t g64(const uint8_t *p) { return g32(p) | (uint64_t)g32(p + 4) << 32; }

void elf_info_free(struct elf_info *e)
{
    free(e->interp);
    for (size_t i = 0; i < e->n_needed; i++)
        free(e->needed[i]);
    free(e->needed);
    free(e->rpath);
    free(e->runpath);
    memset(e, 0, sizeof(*e));
}

/* The file offset of virtual address a (inside a PT_LOAD's file bytes). */
static bool vaddr_to_off(const uint8_t *d, size_t size, uint64_t phoff, unsigned phnum,
                         uint64_t a, uint64_t *off)
{
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = d + phoff + (uint64_t)i * 56;
        if (g32(ph) != PT_LOAD_)
            continue;
        uint64_t o = g64(ph + 8), va = g64(ph + 16), fsz = g64(ph + 32);
        if (a >= va && a - va < fsz && o + (a - va) < size) {
            *off = o + (a - va);
            return true;
        }
    }
    return false;
}

static char *str_at(const uint8_t *d, size_t size, uint64_t strtab, uint64_t strsz, uint64_t i)
{
    if (i >= strsz || strtab + i >= size)
        return NULL;
    uint64_t max = strsz - i;
    if (max > size - (strtab + i))
        max = size - (strtab + i);
    const char *s = (const char *)d + strtab + i;
    size_t n = strnlen(s, (size_t)max);
    return n < max ? strndup(s, n) : NULL;
}

static int parse_dynamic(const char *path, const uint8_t *d, size_t size, uint64_t phoff,
                         unsigned phnum, uint64_t dyn, uint64_t dynsz, struct elf_info *e,
                         struct cc_err *err)
{
    uint64_t strtab_va = 0, strsz = 0;
    bool have_strtab = false;
    for (uint64_t o = 0; o + 16 <= dynsz; o += 16) {
        uint64_t tag = g64(d + dyn + o), val = g64(d + dyn + o + 8);
        if (tag == DT_NULL_)
            break;
        if (tag == DT_STRTAB_) {
            strtab_va = val;
            have_strtab = true;
        } else if (tag == DT_STRSZ_) {
            strsz = val;
        }
    }
    uint64_t strtab = 0;
    if (!have_strtab || !vaddr_to_off(d, size, phoff, phnum, strtab_va, &strtab))
        return cc_err_set(err, EINVAL, "'%s': its dynamic section has no string table in the "
                          "file (corrupt?)", path);
    for (uint64_t o = 0; o + 16 <= dynsz; o += 16) {
        uint64_t tag = g64(d + dyn + o), val = g64(d + dyn + o + 8);
        if (tag == DT_NULL_)
            break;
        if (tag != DT_NEEDED_ && tag != DT_RPATH_ && tag != DT_RUNPATH_)
            continue;
        char *s = str_at(d, size, strtab, strsz, val);
        if (!s)
            return cc_err_set(err, EINVAL, "'%s': a dynamic entry points outside its string "
                              "table (corrupt?)", path);
        if (tag == DT_NEEDED_) {
            char **n = realloc(e->needed, (e->n_needed + 1) * sizeof(*n));
            if (!n) {
                free(s);
                return cc_err_set(err, ENOMEM, "out of memory");
            }
            e->needed = n;
            e->needed[e->n_needed++] = s;
        } else if (tag == DT_RPATH_ && !e->rpath) {
            e->rpath = s;
        } else if (tag == DT_RUNPATH_ && !e->runpath) {
            e->runpath = s;
        } else {
            free(s);
        }
    }
    return 0;
}

static int parse(const char *path, const uint8_t *d, size_t size, struct elf_info *e,
                 struct cc_err *err)
{
    if (size < 64 || memcmp(d, "\177ELF", 4))
        return 0;       /* not ELF: a plain file */
    e->is_elf = true;
    e->cls = d[4];
    e->machine = g16(d + 18);
    if (d[4] != 2 || d[5] != 1)
        return 0;       /* not 64-bit little-endian: the caller decides */
    uint64_t phoff = g64(d + 32);
    unsigned phent = g16(d + 54), phnum = g16(d + 56);
    if (phnum && (phent != 56 || phoff > size || (uint64_t)phnum * 56 > size - phoff))
        return cc_err_set(err, EINVAL, "'%s': ELF program headers lie outside the file "
                          "(truncated?)", path);
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = d + phoff + (uint64_t)i * 56;
        uint32_t type = g32(ph);
        uint64_t off = g64(ph + 8), fsz = g64(ph + 32);
        if (type != PT_INTERP_ && type != PT_DYNAMIC_)
            continue;
        if (off > size || fsz > size - off)
            return cc_err_set(err, EINVAL, "'%s': ELF segment %u lies outside the file "
                              "(truncated?)", path, i);
        if (type == PT_INTERP_) {
            size_t n = strnlen((const char *)d + off, (size_t)fsz);
            if (n == 0 || n == fsz)
                return cc_err_set(err, EINVAL, "'%s': bad interpreter path", path);
            e->interp = strndup((const char *)d + off, n);
        } else {
            e->dynamic = true;
            int rc = parse_dynamic(path, d, size, phoff, phnum, off, fsz, e, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

int elf_read_info(const char *path, struct elf_info *e, struct cc_err *err)
{
    memset(e, 0, sizeof(*e));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cc_err_set(err, errno, "'%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return cc_err_set(err, EINVAL, "'%s': not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return 0;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return cc_err_set(err, errno, "'%s': cannot map it: %s", path, strerror(errno));
    int rc = parse(path, m, (size_t)st.st_size, e, err);
    munmap(m, (size_t)st.st_size);
    if (rc < 0)
        elf_info_free(e);
    return rc;
}
