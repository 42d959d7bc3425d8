/* Files that come with this program, found from /proc/self/exe
 * (selfpath.h). */
#include "util/selfpath.h"

#include "chaoscontrol/file.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selfpath_config.h"  /* generated: src/meson.build */

const char *cc_program_path(char *buf, size_t len)
{
    ssize_t l = len ? readlink("/proc/self/exe", buf, len - 1) : -1;
    if (l <= 0)
        return NULL;
    buf[l] = 0;
    return buf;
}

int selfpath_candidates(const char *rel, char out[SELFPATH_MAX][PATH_MAX])
{
    char exe[PATH_MAX];
    if (!cc_program_path(exe, sizeof(exe)))
        return 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return 0;
    *slash = 0;
    int n = 0;
    if (snprintf(out[n], PATH_MAX, "%s/%s", exe, rel) < PATH_MAX)
        n++;
    if (snprintf(out[n], PATH_MAX, "%s/%s/%s", exe, CC_BIN_TO_LIB, rel) < PATH_MAX)
        n++;
    if (snprintf(out[n], PATH_MAX, "%s/%s/%s", exe, CC_BIN_TO_DATA, rel) < PATH_MAX)
        n++;
    return n;
}

const char *cc_file_beside_program(const char *rel, char *buf, size_t len)
{
    char cand[SELFPATH_MAX][PATH_MAX];
    int n = selfpath_candidates(rel, cand);
    for (int i = 0; i < n; i++) {
        struct stat sb;
        if (stat(cand[i], &sb) == 0 && S_ISREG(sb.st_mode) &&
            strlen(cand[i]) < len) {
            memcpy(buf, cand[i], strlen(cand[i]) + 1);
            return buf;
        }
    }
    return NULL;
}
