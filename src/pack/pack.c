/* chaoscontrol pack (chaoscontrol/pack.h): host programs with their
 * loaders and library closures, busybox, cc-init and chaoscontrol-history
 * into an initramfs. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaoscontrol/cpio.h"
#include "chaoscontrol/pack.h"
#include "pack/pack_internal.h"

#define MAX_DIRS 64
#define MAX_DEPTH 32

struct entry {
    char *guest;            /* absolute path in the image */
    char *host;             /* file to copy, or NULL */
    char *link;             /* symbolic link target, or NULL */
    uint8_t *data;          /* contents when neither, or NULL for a directory */
    size_t len;
    unsigned mode;
    bool dir;
};

struct cc_pack {
    char root[PATH_MAX];    /* "" for / */
    struct entry *e;
    size_t n, cap;
    char *lib_dirs[MAX_DIRS];   /* default search directories, in order */
    unsigned n_lib_dirs;
    char *used_dirs[MAX_DIRS];  /* directories libraries went to */
    unsigned n_used_dirs;
    bool have_command;
};

/* snprintf that says whether everything fit (paths longer than PATH_MAX
 * fail the lookup they are for, with a message naming them). */
static bool fits(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fits(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, len, fmt, ap);
    va_end(ap);
    return n >= 0 && (size_t)n < len;
}

/* Lexically clean an absolute path in place: "//", "/./" and "dir/.."
 * go ($ORIGIN/../lib is a directory of the image, not a real path). */
static void clean_path(char *path)
{
    char out[PATH_MAX];
    size_t o = 0;
    const char *s = path;
    while (*s) {
        while (*s == '/')
            s++;
        size_t n = strcspn(s, "/");
        if (n == 0)
            break;
        if (n == 1 && s[0] == '.') {
            /* nothing */
        } else if (n == 2 && s[0] == '.' && s[1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;    /* the slash */
        } else if (o + 1 + n < sizeof(out)) {
            out[o++] = '/';
            memcpy(out + o, s, n);
            o += n;
        }
        s += n;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = 0;
    memcpy(path, out, o + 1);
}

/* ---- entries ---- */

static struct entry *find(struct cc_pack *p, const char *guest)
{
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->e[i].guest, guest))
            return &p->e[i];
    return NULL;
}

static int add(struct cc_pack *p, const struct entry *in, struct cc_err *err)
{
    if (in->guest[0] != '/' || strstr(in->guest, "/../") || strstr(in->guest, "//"))
        return cc_err_set(err, EINVAL, "'%s' is not a clean absolute path in the image",
                          in->guest);
    struct entry *old = find(p, in->guest);
    if (old) {
        bool same = (old->host && in->host && !strcmp(old->host, in->host)) ||
                    (old->dir && in->dir);
        if (same)
            return 0;
        if (!old->data && !in->data)
            return cc_err_set(err, EEXIST, "'%s' would be in the image twice: from '%s' and "
                              "from '%s'", in->guest, old->host ? old->host : "(directory)",
                              in->host ? in->host : "(directory)");
        /* data replaces data (a command set twice) */
        free(old->data);
        old->data = in->data;
        old->len = in->len;
        free(in->guest);
        return 0;
    }
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct entry *e = realloc(p->e, cap * sizeof(*e));
        if (!e)
            return cc_err_set(err, ENOMEM, "out of memory");
        p->e = e;
        p->cap = cap;
    }
    p->e[p->n++] = *in;
    return 0;
}

static int add_host_file(struct cc_pack *p, const char *host, const char *guest, unsigned mode,
                         struct cc_err *err)
{
    struct entry e = {.guest = strdup(guest), .host = strdup(host), .mode = mode};
    if (!e.guest || !e.host) {
        free(e.guest);
        free(e.host);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    int rc = add(p, &e, err);
    if (rc < 0 || find(p, guest)->host != e.host) {
        free(e.guest);
        free(e.host);
    }
    return rc;
}

int cc_pack_add_data(struct cc_pack *p, const char *guest, const void *data, size_t len,
                     unsigned mode, struct cc_err *err)
{
    struct entry e = {.guest = strdup(guest), .data = malloc(len ? len : 1), .len = len,
                      .mode = mode};
    if (!e.guest || !e.data) {
        free(e.guest);
        free(e.data);
        return cc_err_set(err, ENOMEM, "out of memory");
    }
    if (len)
        memcpy(e.data, data, len);
    int rc = add(p, &e, err);
    if (rc < 0) {
        free(e.guest);
        free(e.data);
    }
    return rc;
}

/* ---- library search ---- */

static int dir_add(char **dirs, unsigned *n, const char *d)
{
    for (unsigned i = 0; i < *n; i++)
        if (!strcmp(dirs[i], d))
            return 0;
    if (*n == MAX_DIRS)
        return -ENOSPC;
    dirs[*n] = strdup(d);
    if (!dirs[*n])
        return -ENOMEM;
    (*n)++;
    return 0;
}

/* /etc/ld.so.conf and its "include" files: the directories of the host's
 * loader cache, after the multiarch defaults. */
static void read_ld_conf(struct cc_pack *p, const char *file, int depth)
{
    char path[PATH_MAX];
    (void)fits(path, sizeof(path), "%s%s", p->root, file);
    FILE *f = fopen(path, "r");
    if (!f || depth > 4) {
        if (f)
            fclose(f);
        return;
    }
    char line[PATH_MAX];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "#\n")] = 0;
        char *s = line + strspn(line, " \t");
        size_t l = strlen(s);
        while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
            s[--l] = 0;
        if (!*s)
            continue;
        if (!strncmp(s, "include", 7) && (s[7] == ' ' || s[7] == '\t')) {
            const char *pat = s + 8 + strspn(s + 8, " \t");
            /* only "DIR/ *.conf" patterns (no space), the ones Debian uses */
            const char *star = strstr(pat, "/*.conf");
            if (!star || star[7])
                continue;
            char dir[PATH_MAX];
            (void)fits(dir, sizeof(dir), "%s%.*s", p->root, (int)(star - pat), pat);
            struct dirent **names;
            int n = scandir(dir, &names, NULL, alphasort);
            for (int i = 0; i < n; i++) {
                size_t nl = strlen(names[i]->d_name);
                if (nl > 5 && !strcmp(names[i]->d_name + nl - 5, ".conf")) {
                    char inc[PATH_MAX];
                    (void)fits(inc, sizeof(inc), "%.*s/%s", (int)(star - pat), pat,
                             names[i]->d_name);
                    read_ld_conf(p, inc, depth + 1);
                }
                free(names[i]);
            }
            if (n >= 0)
                free(names);
        } else if (s[0] == '/') {
            dir_add(p->lib_dirs, &p->n_lib_dirs, s);
        }
    }
    fclose(f);
}

static void default_dirs(struct cc_pack *p)
{
    static const char *const defs[] = {
        "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
        "/lib", "/usr/lib",
    };
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
        dir_add(p->lib_dirs, &p->n_lib_dirs, defs[i]);
    read_ld_conf(p, "/etc/ld.so.conf", 0);
}

/* A 64-bit x86 ELF shared object at host path hp? (The loader skips files
 * of another class or machine with the same name, and so do we.) */
static bool usable_lib(const char *hp)
{
    struct elf_info e;
    struct cc_err ignore = {0};
    if (elf_read_info(hp, &e, &ignore) < 0)
        return false;
    bool ok = e.is_elf && e.cls == 2 && e.machine == 62;
    elf_info_free(&e);
    return ok;
}

/* Look name up in a ':'-separated list with $ORIGIN = origin (a directory
 * in the image); found: *guest = the path in the image. */
static bool search_list(struct cc_pack *p, const char *list, const char *origin,
                        const char *name, char *guest, size_t len)
{
    const char *s = list;
    while (s && *s) {
        size_t n = strcspn(s, ":");
        char dir[PATH_MAX];
        if (n >= sizeof(dir))
            n = sizeof(dir) - 1;
        memcpy(dir, s, n);
        dir[n] = 0;
        char exp[PATH_MAX];
        const char *o = strstr(dir, "$ORIGIN");
        const char *o2 = strstr(dir, "${ORIGIN}");
        if (o)
            (void)fits(exp, sizeof(exp), "%.*s%s%s", (int)(o - dir), dir, origin, o + 7);
        else if (o2)
            (void)fits(exp, sizeof(exp), "%.*s%s%s", (int)(o2 - dir), dir, origin, o2 + 9);
        else
            (void)fits(exp, sizeof(exp), "%s", dir);
        char hp[PATH_MAX];
        (void)fits(hp, sizeof(hp), "%s%s/%s", p->root, exp, name);
        if (exp[0] == '/' && access(hp, R_OK) == 0 && usable_lib(hp)) {
            (void)fits(guest, len, "%s/%s", exp, name);
            clean_path(guest);
            return true;
        }
        s += n;
        if (*s == ':')
            s++;
    }
    return false;
}

static int add_closure(struct cc_pack *p, const char *host, const char *guest, int depth,
                       struct cc_err *err);

static int add_needed(struct cc_pack *p, const struct elf_info *e, const char *guest,
                      const char *host, int depth, struct cc_err *err)
{
    char origin[PATH_MAX];
    (void)fits(origin, sizeof(origin), "%s", guest);
    char *slash = strrchr(origin, '/');
    if (slash)
        *(slash == origin ? slash + 1 : slash) = 0;
    for (size_t i = 0; i < e->n_needed; i++) {
        const char *name = e->needed[i];
        char lib[PATH_MAX];
        bool found;
        if (strchr(name, '/')) {
            (void)fits(lib, sizeof(lib), "%s", name);
            char hp[PATH_MAX];
            (void)fits(hp, sizeof(hp), "%s%s", p->root, name);
            found = name[0] == '/' && access(hp, R_OK) == 0;
        } else {
            found = (!e->runpath && e->rpath &&
                     search_list(p, e->rpath, origin, name, lib, sizeof(lib))) ||
                    (e->runpath && search_list(p, e->runpath, origin, name, lib, sizeof(lib)));
            for (unsigned d = 0; !found && d < p->n_lib_dirs; d++)
                found = search_list(p, p->lib_dirs[d], origin, name, lib, sizeof(lib));
        }
        if (!found)
            return cc_err_set(err, ENOENT, "'%s' needs the library %s, which is in none of the "
                              "loader's directories (its RPATH/RUNPATH, /etc/ld.so.conf, "
                              "/lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib, "
                              "/usr/lib)", host, name);
        char libdir[PATH_MAX];
        (void)fits(libdir, sizeof(libdir), "%s", lib);
        *strrchr(libdir, '/') = 0;
        dir_add(p->used_dirs, &p->n_used_dirs, libdir[0] ? libdir : "/");
        char hp[PATH_MAX];
        (void)fits(hp, sizeof(hp), "%s%s", p->root, lib);
        int rc = add_closure(p, hp, lib, depth + 1, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* host (a file) at guest, and, for a dynamic ELF file, its interpreter and
 * libraries, recursively. */
static int add_closure(struct cc_pack *p, const char *host, const char *guest, int depth,
                       struct cc_err *err)
{
    if (depth > MAX_DEPTH)
        return cc_err_set(err, ELOOP, "'%s': libraries nested more than %d deep", host,
                          MAX_DEPTH);
    struct entry *had = find(p, guest);
    if (had && had->host && !strcmp(had->host, host))
        return 0;       /* already there, with its closure */
    struct stat st;
    if (stat(host, &st) < 0)
        return cc_err_set(err, errno, "'%s': %s", host, strerror(errno));
    int rc = add_host_file(p, host, guest, st.st_mode & 0777, err);
    if (rc < 0)
        return rc;
    struct elf_info e;
    rc = elf_read_info(host, &e, err);
    if (rc < 0 || !e.is_elf || !e.dynamic) {
        elf_info_free(&e);
        return rc;
    }
    if (e.cls != 2 || e.machine != 62)
        rc = cc_err_set(err, EINVAL, "'%s' is an ELF file for another machine (class %u, "
                        "machine %u); the VMs run x86_64", host, e.cls, e.machine);
    if (rc == 0 && e.interp) {
        char hp[PATH_MAX];
        (void)fits(hp, sizeof(hp), "%s%s", p->root, e.interp);
        if (access(hp, R_OK) < 0)
            rc = cc_err_set(err, ENOENT, "'%s' needs the loader %s, which is not there (%s)",
                            host, e.interp, strerror(errno));
        else
            rc = add_closure(p, hp, e.interp, depth + 1, err);
    }
    if (rc == 0)
        rc = add_needed(p, &e, guest, host, depth, err);
    elf_info_free(&e);
    return rc;
}

/* ---- the API ---- */

int cc_pack_new(struct cc_pack **out, struct cc_err *err)
{
    struct cc_pack *p = calloc(1, sizeof(*p));
    if (!p)
        return cc_err_set(err, ENOMEM, "out of memory");
    default_dirs(p);
    *out = p;
    return 0;
}

void cc_pack_free(struct cc_pack *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].guest);
        free(p->e[i].host);
        free(p->e[i].link);
        free(p->e[i].data);
    }
    free(p->e);
    for (unsigned i = 0; i < p->n_lib_dirs; i++)
        free(p->lib_dirs[i]);
    for (unsigned i = 0; i < p->n_used_dirs; i++)
        free(p->used_dirs[i]);
    free(p);
}

int cc_pack_set_root(struct cc_pack *p, const char *root, struct cc_err *err)
{
    if (p->n)
        return cc_err_set(err, EINVAL, "set the root before adding files");
    if (strlen(root) >= sizeof(p->root))
        return cc_err_set(err, ENAMETOOLONG, "root '%s' is too long", root);
    (void)fits(p->root, sizeof(p->root), "%s", strcmp(root, "/") ? root : "");
    for (unsigned i = 0; i < p->n_lib_dirs; i++)
        free(p->lib_dirs[i]);
    p->n_lib_dirs = 0;
    default_dirs(p);
    return 0;
}

/* The image path of a host file: its absolute path, with the directories'
 * symbolic links resolved (so /bin/x on a merged-/usr host is /usr/bin/x),
 * but the file's own name kept. */
static int image_path(const char *host, char *out, size_t len, struct cc_err *err)
{
    char dir[PATH_MAX], real[PATH_MAX];
    (void)fits(dir, sizeof(dir), "%s", host);
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : host;
    if (slash)
        *slash = 0;
    if (!realpath(slash ? (dir[0] ? dir : "/") : ".", real))
        return cc_err_set(err, errno, "'%s': %s", host, strerror(errno));
    (void)fits(out, len, "%s/%s", strcmp(real, "/") ? real : "", base);
    return 0;
}

int cc_pack_add_program(struct cc_pack *p, const char *program, const char *guest,
                        struct cc_err *err)
{
    char host[PATH_MAX];
    if (strchr(program, '/')) {
        (void)fits(host, sizeof(host), "%s", program);
    } else {
        const char *path = getenv("PATH");
        bool found = false;
        for (const char *s = path ? path : "/usr/bin:/bin"; s && *s && !found;) {
            size_t n = strcspn(s, ":");
            (void)fits(host, sizeof(host), "%.*s/%s", (int)n, s, program);
            found = n && access(host, X_OK) == 0;
            s += n + (s[n] == ':');
        }
        if (!found)
            return cc_err_set(err, ENOENT, "program '%s' is not on $PATH", program);
    }
    struct stat st;
    if (stat(host, &st) < 0)
        return cc_err_set(err, errno, "program '%s': %s", host, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return cc_err_set(err, EINVAL, "program '%s' is not a regular file", host);
    struct elf_info e;
    int rc = elf_read_info(host, &e, err);
    if (rc < 0)
        return rc;
    bool script = !e.is_elf;
    elf_info_free(&e);
    if (script) {
        char head[2] = {0};
        FILE *f = fopen(host, "r");
        size_t got = f ? fread(head, 1, 2, f) : 0;
        if (f)
            fclose(f);
        if (got != 2 || head[0] != '#' || head[1] != '!')
            return cc_err_set(err, EINVAL, "program '%s' is not an ELF executable (nor a "
                              "#! script)", host);
    }
    char gp[PATH_MAX];
    if (guest)
        (void)fits(gp, sizeof(gp), "%s", guest);
    else if ((rc = image_path(host, gp, sizeof(gp), err)) < 0)
        return rc;
    return add_closure(p, host, gp, 0, err);
}

int cc_pack_add_path(struct cc_pack *p, const char *host, const char *guest, struct cc_err *err)
{
    struct stat st;
    if (lstat(host, &st) < 0)
        return cc_err_set(err, errno, "'%s': %s", host, strerror(errno));
    char gp[PATH_MAX];
    int rc = 0;
    if (guest)
        (void)fits(gp, sizeof(gp), "%s", guest);
    else if ((rc = image_path(host, gp, sizeof(gp), err)) < 0)
        return rc;
    if (S_ISLNK(st.st_mode) || S_ISREG(st.st_mode)) {
        if (stat(host, &st) < 0)
            return cc_err_set(err, errno, "'%s': %s", host, strerror(errno));
        if (S_ISREG(st.st_mode))
            return add_closure(p, host, gp, 0, err);
    }
    if (!S_ISDIR(st.st_mode))
        return cc_err_set(err, EINVAL, "'%s' is neither a file nor a directory", host);
    struct entry d = {.guest = strdup(gp), .mode = st.st_mode & 0777, .dir = true};
    if (!d.guest)
        return cc_err_set(err, ENOMEM, "out of memory");
    rc = add(p, &d, err);
    if (rc < 0 || find(p, gp)->guest != d.guest)
        free(d.guest);
    struct dirent **names;
    int n = rc < 0 ? 0 : scandir(host, &names, NULL, alphasort);
    if (n < 0)
        return cc_err_set(err, errno, "'%s': %s", host, strerror(errno));
    for (int i = 0; i < n; i++) {
        const char *nm = names[i]->d_name;
        if (rc == 0 && strcmp(nm, ".") && strcmp(nm, "..")) {
            char h[PATH_MAX], g[PATH_MAX];
            (void)fits(h, sizeof(h), "%s/%s", host, nm);
            (void)fits(g, sizeof(g), "%s/%s", strcmp(gp, "/") ? gp : "", nm);
            rc = cc_pack_add_path(p, h, g, err);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int cc_pack_add_busybox(struct cc_pack *p, const char *busybox, struct cc_err *err)
{
    static const char *const cands[] = {"/bin/busybox", "/usr/bin/busybox"};
    const char *bb = busybox;
    for (size_t i = 0; !bb && i < sizeof(cands) / sizeof(cands[0]); i++)
        if (access(cands[i], X_OK) == 0)
            bb = cands[i];
    if (!bb)
        return cc_err_set(err, ENOENT, "no busybox (apt-get install busybox-static)");
    struct elf_info e;
    int rc = elf_read_info(bb, &e, err);
    if (rc < 0)
        return rc;
    bool ok = e.is_elf && !e.interp;
    elf_info_free(&e);
    if (!ok)
        return cc_err_set(err, EINVAL, "'%s' is not a static busybox (install busybox-static)",
                          bb);
    rc = add_host_file(p, bb, "/bin/busybox", 0755, err);
    if (rc < 0)
        return rc;
    /* its applets, as busybox itself lists them */
    char cmd[PATH_MAX + 32];
    (void)fits(cmd, sizeof(cmd), "'%s' --list-full", bb);
    FILE *f = popen(cmd, "r");
    if (!f)
        return cc_err_set(err, errno, "cannot run '%s --list-full': %s", bb, strerror(errno));
    char line[256];
    unsigned applets = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0] || strstr(line, "..") || !strcmp(line, "bin/busybox"))
            continue;
        char g[300];
        (void)fits(g, sizeof(g), "/%s", line);
        if (find(p, g))
            continue;   /* a real program was added there */
        struct entry l = {.guest = strdup(g), .link = strdup("/bin/busybox"), .mode = 0777};
        if (!l.guest || !l.link) {
            free(l.guest);
            free(l.link);
            rc = cc_err_set(err, ENOMEM, "out of memory");
            break;
        }
        rc = add(p, &l, err);
        applets++;
    }
    int st = pclose(f);
    if (rc == 0 && (st != 0 || applets == 0))
        rc = cc_err_set(err, EIO, "'%s --list-full' listed no applets", bb);
    return rc;
}

int cc_pack_set_command(struct cc_pack *p, const char *cmd, struct cc_err *err)
{
    if (!*cmd || strchr(cmd, '\n'))
        return cc_err_set(err, EINVAL, "the command must be one non-empty line");
    char line[8192];
    if (snprintf(line, sizeof(line), "%s\n", cmd) >= (int)sizeof(line))
        return cc_err_set(err, E2BIG, "the command is longer than %zu bytes", sizeof(line) - 2);
    int rc = cc_pack_add_data(p, "/etc/chaoscontrol/cmd", line, strlen(line), 0644, err);
    if (rc == 0)
        p->have_command = true;
    return rc;
}

size_t cc_pack_count(const struct cc_pack *p)
{
    return p->n;
}

const char *cc_pack_entry(const struct cc_pack *p, size_t i, const char **host)
{
    if (i >= p->n)
        return NULL;
    if (host)
        *host = p->e[i].host;
    return p->e[i].guest;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->guest, ((const struct entry *)b)->guest);
}

/* Libraries outside the loader's built-in directories (found through
 * /etc/ld.so.conf or an RPATH) would not be found in the image, which has
 * no loader cache: cc-init puts their directories in LD_LIBRARY_PATH. */
static int library_path(struct cc_pack *p, struct cc_err *err)
{
    static const char *const builtin[] = {
        "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib", "/lib64",
        "/usr/lib64",
    };
    char text[4096] = "";
    size_t o = 0;
    for (unsigned i = 0; i < p->n_used_dirs; i++) {
        bool b = false;
        for (size_t k = 0; k < sizeof(builtin) / sizeof(builtin[0]); k++)
            b |= !strcmp(p->used_dirs[i], builtin[k]);
        if (!b && o < sizeof(text))
            o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%s", o ? ":" : "",
                                  p->used_dirs[i]);
    }
    if (!o)
        return 0;
    if (o + 1 >= sizeof(text))
        return cc_err_set(err, E2BIG, "too many library directories");
    text[o++] = '\n';
    return cc_pack_add_data(p, "/etc/chaoscontrol/ld_library_path", text, o, 0644, err);
}

int cc_pack_write(struct cc_pack *p, const char *path, bool gzip, struct cc_err *err)
{
    if (!p->have_command)
        return cc_err_set(err, EINVAL, "no command: the image's init needs one (--cmd)");
    int rc = library_path(p, err);
    if (rc == 0)
        rc = cc_pack_add_data(p, "/init", init_blob,
                              (size_t)(init_blob_end_ptr - init_blob),
                              0755, err);
    if (rc == 0)
        rc = cc_pack_add_data(p, "/usr/bin/chaoscontrol-history", history_blob,
                              (size_t)(history_blob_end_ptr - history_blob), 0755, err);
    if (rc < 0)
        return rc;
    qsort(p->e, p->n, sizeof(*p->e), cmp_entry);
    struct cc_cpio_opts o = {.gzip = gzip, .auto_parents = true};
    struct cc_cpio *w;
    rc = cc_cpio_open(&w, path, &o, err);
    if (rc < 0)
        return rc;
    rc = cc_cpio_add_dir(w, "dev", 0755, err);
    if (rc == 0)
        rc = cc_cpio_add_node(w, "dev/console", 0600, CC_CPIO_CHR, 5, 1, err);
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        const struct entry *e = &p->e[i];
        const char *g = e->guest + 1;
        if (e->dir)
            rc = cc_cpio_add_dir(w, g, e->mode, err);
        else if (e->link)
            rc = cc_cpio_add_symlink(w, g, e->link, 0777, err);
        else if (e->host)
            rc = cc_cpio_add_file_from(w, g, e->mode, e->host, err);
        else
            rc = cc_cpio_add_file(w, g, e->mode, e->data, e->len, err);
    }
    if (rc < 0) {
        cc_cpio_abort(w);
        return rc;
    }
    return cc_cpio_finish(w, err);
}
