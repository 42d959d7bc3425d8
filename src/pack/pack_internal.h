/* Insides of src/pack/ (chaoscontrol pack). Not public. */
#ifndef CC_PACK_INTERNAL_H
#define CC_PACK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

/* elf.c: what the loader needs to load a file. */
struct elf_info {
    bool is_elf;            /* starts with \177ELF */
    bool dynamic;           /* has a PT_DYNAMIC segment */
    uint8_t cls;            /* 2: 64-bit */
    uint16_t machine;       /* 62: x86_64 */
    char *interp;           /* PT_INTERP, or NULL */
    char **needed;          /* DT_NEEDED names */
    size_t n_needed;
    char *rpath, *runpath;  /* DT_RPATH, DT_RUNPATH, or NULL */
};

/* 0 with *e filled (is_elf false for a file that is not ELF), or -errno
 * for an unreadable or malformed file (err names it). */
int elf_read_info(const char *path, struct elf_info *e, struct cc_err *err);
void elf_info_free(struct elf_info *e);

/* The cc-init binary (guests/init/cc-init.c), built with musl and linked
 * into the library (scripts/bin2c.py makes init_blob.c). */
extern const unsigned char init_blob[];
extern const unsigned char *const init_blob_end_ptr;

/* chaoscontrol-history (guests/init/chaoscontrol-history.c), the same way;
 * every image has it as /usr/bin/chaoscontrol-history. */
extern const unsigned char history_blob[];
extern const unsigned char *const history_blob_end_ptr;

#endif
