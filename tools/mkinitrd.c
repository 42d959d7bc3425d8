/* mkinitrd: build a Linux initramfs (a newc cpio archive) from a spec file,
 * without root and without a staging directory. The output is deterministic:
 * the same spec and host files give a byte-identical archive.
 *
 *   mkinitrd [--gzip] [-D VAR=VALUE]... [--depfile FILE] SPEC OUTPUT
 *
 *   --gzip          compress the archive with gzip (the guest kernel then
 *                   needs CONFIG_RD_GZIP); the default is uncompressed
 *   -D VAR=VALUE    define ${VAR} for the spec (repeatable; the last wins)
 *   --depfile FILE  also write a Makefile/Ninja depfile listing the spec and
 *                   every host file read, for build systems
 *
 * Spec format: one entry per line, fields separated by spaces or tabs.
 *
 *   dir   PATH MODE                     directory
 *   file  PATH HOSTPATH MODE            regular file, copied from HOSTPATH
 *   slink PATH TARGET MODE              symbolic link to TARGET
 *   nod   PATH MODE c|b MAJOR MINOR     character or block device node
 *
 * - PATH is the path inside the archive; a leading '/' is optional, ".."
 *   components are rejected. Every path may appear only once.
 * - MODE is octal permission bits (0755, 644, 4755); at most 07777.
 * - HOSTPATH is relative to the directory holding the spec file, unless it
 *   is absolute.
 * - MAJOR and MINOR are decimal.
 * - Entries are written in spec order. Parent directories that are not
 *   declared are created automatically with mode 0755 just before the first
 *   entry under them; to give a directory another mode, declare it (with
 *   `dir`) before anything under it.
 * - ${VAR} in any field is replaced by the value given with -D VAR=VALUE; an
 *   undefined variable is an error (the environment is not consulted, so the
 *   output depends only on the command line). A '$' not followed by '{' is
 *   literal.
 * - A line whose first field starts with '#' is a comment, as is the rest of
 *   a line from a field starting with '#'. Blank lines are ignored. Fields
 *   cannot contain whitespace.
 *
 * Example (guests/hello/initrd.spec):
 *
 *   dir  /dev 0755
 *   nod  /dev/console 0600 c 5 1
 *   file /init ${BUILD}/guests/hello 0755
 *
 * Errors name the spec file and line ("spec.txt:3: host file 'x' not found:
 * No such file or directory"); on any error nothing is written to OUTPUT and
 * the exit status is 1 (2 for a usage error).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chaoscontrol/cpio.h"

#define MAX_FIELDS 8
#define SEP " \t\r\n\v\f"

struct var {
    char *name;
    const char *value;
};

struct ctx {
    const char *spec;
    const char *spec_dir;      /* NULL when the spec has no directory part */
    struct var *vars;
    size_t nvars;
    unsigned line;
    char **deps;
    size_t ndeps;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: mkinitrd [--gzip] [-D VAR=VALUE]... [--depfile FILE] SPEC OUTPUT\n"
               "Build a newc cpio initramfs from SPEC (see guests/README.md).\n");
}

/* "SPEC:LINE: message" on stderr; returns -1 for convenience. */
static int spec_error(const struct ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int spec_error(const struct ctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%u: ", c->spec, c->line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

static bool is_ident(const char *s, size_t n)
{
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!(ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9')))
            return false;
    }
    return true;
}

static const char *lookup_var(const struct ctx *c, const char *name, size_t n)
{
    for (size_t i = c->nvars; i-- > 0;)   /* the last -D wins */
        if (strlen(c->vars[i].name) == n && !memcmp(c->vars[i].name, name, n))
            return c->vars[i].value;
    return NULL;
}

/* Expand ${VAR} in field; returns a malloc'd string or NULL after an error. */
static char *expand(const struct ctx *c, const char *field)
{
    size_t cap = strlen(field) + 1, len = 0;
    char *out = malloc(cap);
    if (!out) {
        spec_error(c, "out of memory");
        return NULL;
    }
    for (const char *p = field; *p;) {
        const char *piece = p;
        size_t n = 1;
        if (p[0] == '$' && p[1] == '{') {
            const char *end = strchr(p + 2, '}');
            if (!end) {
                spec_error(c, "unterminated '${' in '%s'", field);
                free(out);
                return NULL;
            }
            size_t nlen = (size_t)(end - (p + 2));
            if (!is_ident(p + 2, nlen)) {
                spec_error(c, "bad variable name '%.*s' in '%s'", (int)nlen, p + 2, field);
                free(out);
                return NULL;
            }
            piece = lookup_var(c, p + 2, nlen);
            if (!piece) {
                spec_error(c, "undefined variable '${%.*s}' (define it with -D %.*s=VALUE)",
                           (int)nlen, p + 2, (int)nlen, p + 2);
                free(out);
                return NULL;
            }
            n = strlen(piece);
            p = end + 1;
        } else {
            p++;
        }
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *bigger = realloc(out, cap);
            if (!bigger) {
                spec_error(c, "out of memory");
                free(out);
                return NULL;
            }
            out = bigger;
        }
        memcpy(out + len, piece, n);
        len += n;
    }
    out[len] = '\0';
    return out;
}

static bool parse_mode(const struct ctx *c, const char *s, unsigned *mode)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 8);
    if (!*s || *end || errno || v > 07777 || s[0] == '-' || s[0] == '+') {
        spec_error(c, "bad mode '%s' (want octal permission bits such as 0755, at most 07777)",
                   s);
        return false;
    }
    *mode = (unsigned)v;
    return true;
}

static bool parse_dev(const struct ctx *c, const char *what, const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-' || s[0] == '+' || v > UINT32_MAX) {
        spec_error(c, "bad %s number '%s' (want a decimal number)", what, s);
        return false;
    }
    *out = (uint32_t)v;
    return true;
}

static int add_dep(struct ctx *c, const char *path)
{
    char **v = realloc(c->deps, (c->ndeps + 1) * sizeof(*v));
    if (!v)
        return spec_error(c, "out of memory");
    c->deps = v;
    if (!(v[c->ndeps] = strdup(path)))
        return spec_error(c, "out of memory");
    c->ndeps++;
    return 0;
}

struct directive {
    const char *name;
    int nfields;              /* including the directive itself */
    const char *syntax;
};

static const struct directive directives[] = {
    { "dir", 3, "dir PATH MODE" },
    { "file", 4, "file PATH HOSTPATH MODE" },
    { "slink", 4, "slink PATH TARGET MODE" },
    { "nod", 6, "nod PATH MODE c|b MAJOR MINOR" },
};

/* One non-blank, non-comment line, split into fields (already expanded,
 * except f[0]). */
static int do_line(struct ctx *c, struct cc_cpio *w, char **f, int nf)
{
    const struct directive *d = NULL;
    for (size_t i = 0; i < sizeof(directives) / sizeof(directives[0]); i++)
        if (!strcmp(f[0], directives[i].name))
            d = &directives[i];
    if (!d)
        return spec_error(c, "unknown directive '%s' (want dir, file, slink or nod)", f[0]);
    if (nf != d->nfields)
        return spec_error(c, "'%s' takes %d fields, got %d (syntax: %s)", d->name,
                          d->nfields - 1, nf - 1, d->syntax);

    struct cc_err err = {0};
    unsigned mode;
    int r;
    if (!strcmp(d->name, "dir")) {
        if (!parse_mode(c, f[2], &mode))
            return -1;
        r = cc_cpio_add_dir(w, f[1], mode, &err);
    } else if (!strcmp(d->name, "file")) {
        if (!parse_mode(c, f[3], &mode))
            return -1;
        char *host = NULL;
        if (f[2][0] != '/' && c->spec_dir) {
            if (asprintf(&host, "%s/%s", c->spec_dir, f[2]) < 0)
                return spec_error(c, "out of memory");
        } else if (!(host = strdup(f[2]))) {
            return spec_error(c, "out of memory");
        }
        r = cc_cpio_add_file_from(w, f[1], mode, host, &err);
        if (r == 0 && add_dep(c, host) < 0) {
            free(host);
            return -1;
        }
        free(host);
    } else if (!strcmp(d->name, "slink")) {
        if (!parse_mode(c, f[3], &mode))
            return -1;
        r = cc_cpio_add_symlink(w, f[1], f[2], mode, &err);
    } else {
        uint32_t major, minor;
        enum cc_cpio_node_type type;
        if (!parse_mode(c, f[2], &mode))
            return -1;
        if (!strcmp(f[3], "c"))
            type = CC_CPIO_CHR;
        else if (!strcmp(f[3], "b"))
            type = CC_CPIO_BLK;
        else
            return spec_error(c, "bad device type '%s' (want c or b)", f[3]);
        if (!parse_dev(c, "major", f[4], &major) || !parse_dev(c, "minor", f[5], &minor))
            return -1;
        r = cc_cpio_add_node(w, f[1], mode, type, major, minor, &err);
    }
    if (r < 0)
        return spec_error(c, "%s", err.msg);
    return 0;
}

static int do_spec(struct ctx *c, FILE *in, struct cc_cpio *w)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int r = 0;
    c->line = 0;
    while (r == 0 && (n = getline(&line, &cap, in)) >= 0) {
        c->line++;
        if ((size_t)n != strlen(line)) {
            r = spec_error(c, "line contains a NUL byte");
            break;
        }
        char *f[MAX_FIELDS + 1];
        int nf = 0;
        bool too_many = false;
        char *save = NULL;
        for (char *tok = strtok_r(line, SEP, &save); tok; tok = strtok_r(NULL, SEP, &save)) {
            if (tok[0] == '#')
                break;
            if (nf == MAX_FIELDS) {
                too_many = true;
                break;
            }
            f[nf++] = tok;
        }
        if (nf == 0)
            continue;
        if (too_many) {
            r = spec_error(c, "too many fields");
            break;
        }
        char *x[MAX_FIELDS] = { f[0] };
        int nx = 1;
        for (; nx < nf; nx++)
            if (!(x[nx] = expand(c, f[nx])))
                break;
        r = nx == nf ? do_line(c, w, x, nf) : -1;
        for (int i = 1; i < nx; i++)
            free(x[i]);
    }
    if (r == 0 && ferror(in))
        r = spec_error(c, "read error: %s", strerror(errno));
    free(line);
    return r;
}

/* Write "target: dep dep ...", escaping what Make and Ninja treat specially. */
static void put_dep_path(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == ' ' || *s == '#')
            fputc('\\', f);
        if (*s == '$')
            fputc('$', f);
        fputc(*s, f);
    }
}

static int write_depfile(const struct ctx *c, const char *depfile, const char *output)
{
    char *tmp;
    if (asprintf(&tmp, "%s.tmp-XXXXXX", depfile) < 0) {
        fprintf(stderr, "mkinitrd: out of memory\n");
        return -1;
    }
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "mkinitrd: cannot create '%s': %s\n", tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return -1;
    }
    put_dep_path(f, output);
    fputs(":", f);
    fputs(" ", f);
    put_dep_path(f, c->spec);
    for (size_t i = 0; i < c->ndeps; i++) {
        fputs(" \\\n ", f);
        put_dep_path(f, c->deps[i]);
    }
    fputc('\n', f);
    bool ok = fflush(f) == 0 && fchmod(fileno(f), 0644) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, depfile) < 0) {
        fprintf(stderr, "mkinitrd: cannot write depfile '%s': %s\n", depfile, strerror(errno));
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "gzip", no_argument, NULL, 'z' },
        { "define", required_argument, NULL, 'D' },
        { "depfile", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct ctx c = {0};
    struct cc_cpio_opts opts = { .auto_parents = true };
    const char *depfile = NULL;
    int ret = 1, opt;

    while ((opt = getopt_long(argc, argv, "D:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'z':
            opts.gzip = true;
            break;
        case 'd':
            depfile = optarg;
            break;
        case 'D': {
            const char *eq = strchr(optarg, '=');
            if (!eq || !is_ident(optarg, (size_t)(eq - optarg))) {
                fprintf(stderr, "mkinitrd: bad -D '%s' (want VAR=VALUE, VAR made of "
                                "letters, digits and '_')\n", optarg);
                return 2;
            }
            struct var *v = realloc(c.vars, (c.nvars + 1) * sizeof(*v));
            if (!v || !(v[c.nvars].name = strndup(optarg, (size_t)(eq - optarg)))) {
                fprintf(stderr, "mkinitrd: out of memory\n");
                return 1;
            }
            v[c.nvars].value = eq + 1;
            c.vars = v;
            c.nvars++;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind != 2) {
        usage(stderr);
        return 2;
    }
    c.spec = argv[optind];
    const char *output = argv[optind + 1];

    char *spec_dir = NULL;
    const char *slash = strrchr(c.spec, '/');
    if (slash) {
        spec_dir = slash == c.spec ? strdup("/") : strndup(c.spec, (size_t)(slash - c.spec));
        if (!spec_dir) {
            fprintf(stderr, "mkinitrd: out of memory\n");
            return 1;
        }
    }
    c.spec_dir = spec_dir;

    FILE *in = fopen(c.spec, "r");
    if (!in) {
        fprintf(stderr, "mkinitrd: cannot open spec '%s': %s\n", c.spec, strerror(errno));
        goto out;
    }
    struct cc_err err = {0};
    struct cc_cpio *w;
    if (cc_cpio_open(&w, output, &opts, &err) < 0) {
        fprintf(stderr, "mkinitrd: %s\n", err.msg);
        fclose(in);
        goto out;
    }
    if (do_spec(&c, in, w) < 0) {
        cc_cpio_abort(w);
        fclose(in);
        goto out;
    }
    fclose(in);
    if (cc_cpio_finish(w, &err) < 0) {
        fprintf(stderr, "mkinitrd: %s\n", err.msg);
        goto out;
    }
    if (depfile && write_depfile(&c, depfile, output) < 0)
        goto out;
    ret = 0;
out:
    for (size_t i = 0; i < c.ndeps; i++)
        free(c.deps[i]);
    free(c.deps);
    for (size_t i = 0; i < c.nvars; i++)
        free(c.vars[i].name);
    free(c.vars);
    free(spec_dir);
    return ret;
}
