/* Writer for "newc" cpio archives, the format of a Linux initramfs.
 *
 * Entries are written straight into the archive, so no staging directory and
 * no root privileges are needed, even for device nodes. The output is
 * deterministic: mtime 0, uid/gid 0 (unless changed with cc_cpio_set_owner),
 * inode numbers 1, 2, 3, ... in the order entries are added, and (with gzip)
 * a gzip header without a name or time stamp. The same calls in the same order
 * give a byte-identical archive.
 *
 * Archive paths may be written with or without a leading '/'; they are stored
 * relative to the archive root ("/dev/console" is stored as "dev/console"),
 * with "." components and repeated slashes removed. A ".." component, an
 * empty path, a path naming the root itself, or a path longer than
 * CC_CPIO_PATH_MAX is rejected. Adding the same path twice is an error, and
 * so is adding an entry under a path that is not a directory in the archive.
 *
 * The archive is written to a temporary file next to the destination and
 * renamed over it by cc_cpio_finish(), so readers never see a partial file.
 * A rejected entry (bad path or mode, duplicate, missing host file) writes
 * nothing and the writer stays usable. After a write or read error part of an
 * entry may be out, so the writer refuses everything else; cc_cpio_finish()
 * then removes the temporary file and reports that first error again.
 *
 *   struct cc_err err = {0};
 *   struct cc_cpio *w;
 *   struct cc_cpio_opts opts = { .gzip = false, .auto_parents = true };
 *   int r = cc_cpio_open(&w, "out.initrd", &opts, &err);
 *   if (r == 0) {
 *       cc_cpio_add_node(w, "/dev/console", 0600, CC_CPIO_CHR, 5, 1, &err);
 *       cc_cpio_add_file_from(w, "/init", 0755, "build/guests/hello", &err);
 *       r = cc_cpio_finish(w, &err);   // frees w, even on error
 *   }
 *   if (r < 0)
 *       fprintf(stderr, "mkinitrd: %s\n", err.msg);
 */
#ifndef CHAOSCONTROL_CPIO_H
#define CHAOSCONTROL_CPIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaoscontrol/err.h"

/* Longest stored path in bytes, without the terminating NUL. The kernel's
 * initramfs unpacker refuses names of PATH_MAX (4096) bytes or more. */
#define CC_CPIO_PATH_MAX 4095
/* Longest single path component (NAME_MAX). */
#define CC_CPIO_NAME_MAX 255

struct cc_cpio;

struct cc_cpio_opts {
    /* Compress the archive with gzip (as "cpio | gzip -n" would). */
    bool gzip;
    /* Before an entry whose parent directories are not yet in the archive,
     * add them with mode 0755 (like "mkdir -p"). Without it, such an entry
     * is an error, since the kernel cannot create it when unpacking. */
    bool auto_parents;
};

enum cc_cpio_node_type {
    CC_CPIO_CHR,   /* character device */
    CC_CPIO_BLK,   /* block device */
};

/* Start an archive that cc_cpio_finish() will write to path. opts may be
 * NULL (uncompressed, no automatic parents). */
int cc_cpio_open(struct cc_cpio **out, const char *path,
                 const struct cc_cpio_opts *opts, struct cc_err *err);

/* Owner of the entries added from now on (default 0:0). */
void cc_cpio_set_owner(struct cc_cpio *w, uint32_t uid, uint32_t gid);

/* Permission bits (mode & 07777) for every entry; other bits are an error. */
int cc_cpio_add_dir(struct cc_cpio *w, const char *path, unsigned mode,
                    struct cc_err *err);

/* A regular file with the given contents (data may be NULL when len is 0). */
int cc_cpio_add_file(struct cc_cpio *w, const char *path, unsigned mode,
                     const void *data, size_t len, struct cc_err *err);

/* A regular file copied from host_path (which must be a regular file). A
 * missing host file fails with -ENOENT and "host file 'X' not found: ...". */
int cc_cpio_add_file_from(struct cc_cpio *w, const char *path, unsigned mode,
                          const char *host_path, struct cc_err *err);

/* A symbolic link to target, stored verbatim (it may be relative or
 * absolute; it is not checked). */
int cc_cpio_add_symlink(struct cc_cpio *w, const char *path,
                        const char *target, unsigned mode, struct cc_err *err);

/* A device node. major < 4096 and minor < 2^20 (Linux's dev_t). */
int cc_cpio_add_node(struct cc_cpio *w, const char *path, unsigned mode,
                     enum cc_cpio_node_type type, uint32_t major,
                     uint32_t minor, struct cc_err *err);

/* Write the trailer, flush, fsync and rename the archive into place. Always
 * frees w. On failure (here or in any earlier call) the temporary file is
 * removed, the destination is left untouched, and the first error is
 * returned. */
int cc_cpio_finish(struct cc_cpio *w, struct cc_err *err);

/* Give up: remove the temporary file and free w. w may be NULL. */
void cc_cpio_abort(struct cc_cpio *w);

/* Normalize an archive path as the writer does ("/a//b/./c" -> "a/b/c") into
 * out (size CC_CPIO_PATH_MAX + 1). Returns 0 or a negative errno with a
 * message saying what is wrong with the path. */
int cc_cpio_norm_path(const char *path, char *out, struct cc_err *err);

#endif
