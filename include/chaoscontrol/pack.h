/* libchaoscontrol: packing host programs into a bootable initramfs
 * (`chaoscontrol pack`).
 *
 * An image made here runs unmodified, dynamically linked servers: every
 * ELF program added comes with its dynamic loader (PT_INTERP) and the
 * closure of its DT_NEEDED libraries, found the way the loader finds them
 * (DT_RPATH/DT_RUNPATH with $ORIGIN, then the system directories), read
 * from the ELF files themselves, never by running ldd. busybox (static)
 * gives a shell and the usual tools, and /init is cc-init
 * (guests/init/cc-init.c): it mounts /proc, /sys, /dev, /dev/shm, /tmp,
 * brings up lo and eth0 as 10.0.0.(id+1)/24, writes /etc/hosts naming every
 * VM nodeN, runs the command (with {id}, {peers}, ... substituted), copies
 * its output to the console with a per-process prefix, reaps children and
 * powers off with the command's exit status (cc_vm_exit_status); on request
 * (cc.tests=... on the kernel command line) it also runs test commands
 * found in /opt/chaoscontrol/test/v1/ (docs/test-commands.md). Every image
 * also holds /usr/bin/chaoscontrol-history.
 *
 *   struct cc_pack *p;
 *   cc_pack_new(&p, &err);
 *   cc_pack_add_program(p, "etcd", NULL, &err);         // found on PATH
 *   cc_pack_add_busybox(p, NULL, &err);                // /bin/busybox
 *   cc_pack_set_command(p, "etcd --name {name} ...", &err);
 *   cc_pack_write(p, "etcd.initrd", false, &err);
 *   cc_pack_free(p);
 *
 * Errors name the file and the problem: a missing file, a file that is not
 * an ELF program, a library no search directory holds (and which program
 * needs it). */
#ifndef CHAOSCONTROL_PACK_H
#define CHAOSCONTROL_PACK_H

#include <stdbool.h>
#include <stddef.h>

#include "chaoscontrol/err.h"

struct cc_pack;

int cc_pack_new(struct cc_pack **out, struct cc_err *err);
void cc_pack_free(struct cc_pack *p);

/* Look library names up under root (a directory holding a system tree)
 * instead of /; for tests. Before anything is added. */
int cc_pack_set_root(struct cc_pack *p, const char *root, struct cc_err *err);

/* A program: a path, or a name looked up on $PATH. It goes to guest_path
 * (NULL: the same absolute path as on the host, symbolic links resolved in
 * the directories, kept for the name), with its loader and libraries when
 * it is dynamically linked. */
int cc_pack_add_program(struct cc_pack *p, const char *program, const char *guest_path,
                        struct cc_err *err);
/* Any file (or a directory, recursively) at guest_path (NULL: the same
 * path); an ELF executable or library among them brings its closure too. */
int cc_pack_add_path(struct cc_pack *p, const char *host_path, const char *guest_path,
                     struct cc_err *err);
/* A file with the given contents. */
int cc_pack_add_data(struct cc_pack *p, const char *guest_path, const void *data, size_t len,
                     unsigned mode, struct cc_err *err);
/* busybox as /bin/busybox with a link for each of its applets (NULL: the
 * first static busybox among /bin/busybox, /usr/bin/busybox). */
int cc_pack_add_busybox(struct cc_pack *p, const char *busybox, struct cc_err *err);
/* The command cc-init runs (/etc/chaoscontrol/cmd); see above. */
int cc_pack_set_command(struct cc_pack *p, const char *cmd, struct cc_err *err);

/* Write the image: a newc cpio archive (gzip-compressed when gzip), with
 * /init, /dev/console and every added file, atomically. */
int cc_pack_write(struct cc_pack *p, const char *path, bool gzip, struct cc_err *err);

/* What is in the image so far, in the order written: guest paths, and the
 * host file each comes from (NULL for data and directories). */
size_t cc_pack_count(const struct cc_pack *p);
const char *cc_pack_entry(const struct cc_pack *p, size_t i, const char **host_path);

#endif
