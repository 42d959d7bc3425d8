/* Files that come with this program: in the build tree they sit beside the
 * binary (build/chaoscontrol, build/web/, build/kernel/bzImage); installed,
 * in LIBDIR/chaoscontrol (the kernel: architecture-dependent) or
 * DATADIR/chaoscontrol (the web front end). Both are found relative to the
 * binary (Meson's bindir, libdir and datadir: selfpath_config.h, made by
 * src/meson.build), so a DESTDIR copy or a moved prefix works. */
#ifndef CC_UTIL_SELFPATH_H
#define CC_UTIL_SELFPATH_H

#include <limits.h>
#include <stddef.h>

#define SELFPATH_MAX 3

/* The candidate paths of REL, best first: EXEDIR/REL, then
 * EXEDIR/<bindir to libdir>/chaoscontrol/REL and
 * EXEDIR/<bindir to datadir>/chaoscontrol/REL. Returns how many were
 * written (0 if /proc/self/exe cannot be read). */
int selfpath_candidates(const char *rel, char out[SELFPATH_MAX][PATH_MAX]);


#endif
