/* Files that come with this program: in the build tree they sit beside the
 * binary (build/chaoscontrol, build/web/, build/kernel/bzImage); installed,
 * under the data directory (PREFIX/bin/chaoscontrol,
 * PREFIX/share/chaoscontrol/web/, .../kernel/bzImage). The installed data
 * directory is found relative to the binary (Meson's bindir and datadir,
 * src/util/selfpath_config.h), so a DESTDIR copy or a moved prefix works. */
#ifndef CC_UTIL_SELFPATH_H
#define CC_UTIL_SELFPATH_H

#include <limits.h>
#include <stddef.h>

#define SELFPATH_MAX 2

/* The candidate paths of REL, best first: EXEDIR/REL, then
 * EXEDIR/<bindir-to-datadir>/chaoscontrol/REL. Returns how many were
 * written (0 if /proc/self/exe cannot be read). */
int selfpath_candidates(const char *rel, char out[SELFPATH_MAX][PATH_MAX]);

/* The first candidate of REL that is a regular file (want_dir false) or a
 * directory (want_dir true), copied to buf; NULL if none. */
const char *selfpath_find(const char *rel, int want_dir, char *buf, size_t len);

#endif
