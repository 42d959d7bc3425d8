/* Unit tests for the newc cpio writer (include/chaoscontrol/cpio.h).
 *
 * Archives are checked against the system's GNU cpio: `cpio -itv` must list
 * every entry with the right type, mode, size, device numbers and symlink
 * target, and `cpio -id` must reproduce file contents byte for byte (device
 * nodes are left out of extraction, which would need root; the listing
 * covers them). Also: a golden byte layout, gzip round trip, byte-identical
 * repeated writes, path and argument rejection, and atomic output.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaoscontrol/cpio.h"
#include "../tap.h"

static char tmpdir[256];

/* ---- helpers ---- */

static char *path_in(const char *name)
{
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, name);
    return b;
}

static bool write_host_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0) && ok;
}

/* Whole file into a malloc'd buffer; NULL when it cannot be read. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t k;
    while (buf && (k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b)
                free(buf);
            buf = b;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Run a shell command, return its stdout (malloc'd) and exit status. */
static char *run(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        tap_bail("popen(%s): %s", cmd, strerror(errno));
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    size_t k;
    while ((k = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += k;
        if (n + 1 == cap)
            out = realloc(out, cap *= 2);
        if (!out)
            tap_bail("out of memory");
    }
    out[n] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    return out;
}

static bool files_equal(const char *a, const char *b)
{
    size_t la, lb;
    uint8_t *da = slurp(a, &la), *db = slurp(b, &lb);
    bool eq = da && db && la == lb && !memcmp(da, db, la);
    free(da);
    free(db);
    return eq;
}

static bool dir_has_tmp_files(void)
{
    DIR *d = opendir(tmpdir);
    bool found = false;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp-"))
            found = true;
    if (d)
        closedir(d);
    return found;
}

/* ---- the reference archive ---- */

#define BIG_SIZE (200 * 1024 + 3)   /* > the writer's 64 KiB buffer, odd size */
static uint8_t big[BIG_SIZE];
static const char hosttext[] = "a host file of 26 bytes..\n";

struct expect {
    const char *name;      /* as listed by cpio -t */
    const char *perms;     /* ls-style */
    long size;             /* -1 for device nodes */
    int major, minor;
    const char *target;    /* symlink target or NULL */
    const char *host;      /* file whose contents the entry must have, or NULL */
    const void *data;      /* or these bytes */
    size_t len;
};

static const struct expect expected[] = {
    { "etc", "drwxr-xr-x", 0, 0, 0, NULL, NULL, NULL, 0 },
    { "etc/hello.txt", "-rw-r--r--", 6, 0, 0, NULL, NULL, "hello\n", 6 },
    { "etc/empty", "-rw-------", 0, 0, 0, NULL, NULL, "", 0 },
    { "etc/four", "-rw-r--r--", 4, 0, 0, NULL, NULL, "abcd", 4 },
    { "bin", "drwxr-xr-x", 0, 0, 0, NULL, NULL, NULL, 0 },
    { "bin/prog", "-rwxr-xr-x", 26, 0, 0, NULL, "host.txt", NULL, 0 },
    { "bin/big", "-rw-r--r--", BIG_SIZE, 0, 0, NULL, "big.bin", NULL, 0 },
    { "bin/sh", "lrwxrwxrwx", 4, 0, 0, "prog", NULL, NULL, 0 },
    { "dev", "drwxr-xr-x", 0, 0, 0, NULL, NULL, NULL, 0 },
    { "dev/console", "crw-------", -1, 5, 1, NULL, NULL, NULL, 0 },
    { "dev/sda1", "brw-rw----", -1, 8, 1, NULL, NULL, NULL, 0 },
    { "tmp", "drwxrwxrwt", 0, 0, 0, NULL, NULL, NULL, 0 },
    { "a/b/c", "drwx------", 0, 0, 0, NULL, NULL, NULL, 0 },
};
#define NEXPECTED (sizeof(expected) / sizeof(expected[0]))

/* Writes the entries of `expected` (with a, a/b added first, since this
 * writer has no auto_parents). Returns 0 or the first error. */
static int write_reference(const char *out, bool gzip, struct cc_err *err)
{
    struct cc_cpio_opts opts = { .gzip = gzip };
    struct cc_cpio *w;
    int r = cc_cpio_open(&w, out, &opts, err);
    if (r < 0)
        return r;
    if ((r = cc_cpio_add_dir(w, "/etc", 0755, err)) < 0 ||
        (r = cc_cpio_add_file(w, "/etc/hello.txt", 0644, "hello\n", 6, err)) < 0 ||
        (r = cc_cpio_add_file(w, "etc//empty", 0600, NULL, 0, err)) < 0 ||
        (r = cc_cpio_add_file(w, "/etc/./four", 0644, "abcd", 4, err)) < 0 ||
        (r = cc_cpio_add_dir(w, "bin/", 0755, err)) < 0 ||
        (r = cc_cpio_add_file_from(w, "/bin/prog", 0755, path_in("host.txt"), err)) < 0 ||
        (r = cc_cpio_add_file_from(w, "/bin/big", 0644, path_in("big.bin"), err)) < 0 ||
        (r = cc_cpio_add_symlink(w, "/bin/sh", "prog", 0777, err)) < 0 ||
        (r = cc_cpio_add_dir(w, "/dev", 0755, err)) < 0 ||
        (r = cc_cpio_add_node(w, "/dev/console", 0600, CC_CPIO_CHR, 5, 1, err)) < 0 ||
        (r = cc_cpio_add_node(w, "/dev/sda1", 0660, CC_CPIO_BLK, 8, 1, err)) < 0 ||
        (r = cc_cpio_add_dir(w, "/tmp", 01777, err)) < 0 ||
        (r = cc_cpio_add_dir(w, "/a", 0755, err)) < 0 ||
        (r = cc_cpio_add_dir(w, "/a/b", 0755, err)) < 0 ||
        (r = cc_cpio_add_dir(w, "/a/b/c", 0700, err)) < 0) {
        cc_cpio_abort(w);
        return r;
    }
    return cc_cpio_finish(w, err);
}

static const struct expect *find_expected(const char *name)
{
    for (size_t i = 0; i < NEXPECTED; i++)
        if (!strcmp(expected[i].name, name))
            return &expected[i];
    return NULL;
}

/* Check one `cpio -tv` line (LC_ALL=C): PERMS NLINK USER GROUP SIZE|MAJ, MIN
 * MON DAY YEAR NAME [-> TARGET], and count the entry in seen. */
static void check_listing_line(char *line, int *seen)
{
    char *tok[16];
    int n = 0;
    for (char *save, *t = strtok_r(line, " ", &save); t && n < 16; t = strtok_r(NULL, " ", &save))
        tok[n++] = t;
    if (n < 9) {
        ok(0, "listing line has enough fields: '%s'", line);
        return;
    }
    bool dev = tok[0][0] == 'c' || tok[0][0] == 'b';
    int name_at = dev ? 9 : 8;
    if (n <= name_at) {
        ok(0, "listing line has a name");
        return;
    }
    const char *name = tok[name_at];
    const struct expect *e = find_expected(name);
    if (!e) {
        if (strcmp(name, "a") && strcmp(name, "a/b"))
            ok(0, "unexpected entry '%s' in listing", name);
        return;
    }
    seen[e - expected]++;
    is_str(tok[0], e->perms, "%s: type and mode", name);
    is_str(tok[2], "root", "%s: owner root", name);
    is_str(tok[3], "root", "%s: group root", name);
    if (dev) {
        is_int(atoi(tok[4]), e->major, "%s: major %d", name, e->major);
        is_int(atoi(tok[5]), e->minor, "%s: minor %d", name, e->minor);
    } else {
        is_int(atol(tok[4]), e->size, "%s: size %ld", name, e->size);
    }
    ok(!strcmp(tok[name_at - 1], "1970"), "%s: mtime 0 (1970)", name);
    if (e->target) {
        ok(n == name_at + 3 && !strcmp(tok[name_at + 1], "->") &&
               !strcmp(tok[name_at + 2], e->target),
           "%s: symlink target %s", name, e->target);
    }
}

static void test_listing(const char *archive, const char *decompress)
{
    char cmd[1024];
    int st;
    snprintf(cmd, sizeof(cmd), "%s < '%s' | LC_ALL=C TZ=UTC cpio -itv --quiet 2>&1",
             decompress, archive);
    char *out = run(cmd, &st);
    is_int(st, 0, "cpio -itv (%s) accepts the archive", decompress);
    int seen[NEXPECTED] = {0};
    char *save;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        check_listing_line(line, seen);
    int missing = 0;
    for (size_t i = 0; i < NEXPECTED; i++) {
        if (seen[i] != 1) {
            tap_diag("entry %s listed %d times", expected[i].name, seen[i]);
            missing++;
        }
    }
    is_int(missing, 0, "every entry listed exactly once (%s)", decompress);
    free(out);
}

static void test_extract(const char *archive, const char *decompress, const char *subdir)
{
    char cmd[1024];
    int st;
    char *dir = path_in(subdir);
    /* Device nodes need root to create: leave them out (-f: all but these). */
    snprintf(cmd, sizeof(cmd),
             "mkdir '%s' && cd '%s' && %s < '%s' | cpio -idm --quiet "
             "--no-absolute-filenames -f 'dev/console' 'dev/sda1' 2>&1",
             dir, dir, decompress, archive);
    char *out = run(cmd, &st);
    is_int(st, 0, "cpio -idm (%s) extracts the archive", decompress);
    if (*out)
        tap_diag("cpio said: %s", out);
    free(out);

    for (size_t i = 0; i < NEXPECTED; i++) {
        const struct expect *e = &expected[i];
        char got_path[768];
        snprintf(got_path, sizeof(got_path), "%s/%s", dir, e->name);
        struct stat sb;
        int sr = lstat(got_path, &sb);
        if (e->perms[0] == 'c' || e->perms[0] == 'b') {
            ok(sr < 0 && errno == ENOENT, "%s: device node not extracted (needs root)", e->name);
            continue;
        }
        if (!ok(sr == 0, "%s: extracted", e->name))
            continue;
        if (e->perms[0] == 'd') {
            ok(S_ISDIR(sb.st_mode), "%s: is a directory", e->name);
        } else if (e->target) {
            char buf[256];
            ssize_t n = readlink(got_path, buf, sizeof(buf) - 1);
            buf[n > 0 ? n : 0] = '\0';
            ok(S_ISLNK(sb.st_mode) && !strcmp(buf, e->target), "%s: symlink to %s",
               e->name, e->target);
        } else {
            size_t len;
            uint8_t *got = slurp(got_path, &len);
            bool same;
            if (e->host) {
                size_t hl;
                uint8_t *want = slurp(path_in(e->host), &hl);
                same = got && want && len == hl && !memcmp(got, want, len);
                free(want);
            } else {
                same = got && len == e->len && !memcmp(got, e->data, len);
            }
            ok(S_ISREG(sb.st_mode) && same, "%s: contents byte-exact (%zu bytes)", e->name, len);
            free(got);
            unsigned want_mode = 0;
            for (int b = 0; b < 9; b++)
                if (e->perms[1 + b] != '-')
                    want_mode |= 0400u >> b;
            is_int(sb.st_mode & 0777, want_mode, "%s: mode 0%o", e->name, want_mode);
        }
    }
}

/* ---- golden layout ---- */

static void test_golden(void)
{
    struct cc_err err = {0};
    struct cc_cpio *w;
    const char *out = path_in("golden.cpio");
    int r = cc_cpio_open(&w, out, NULL, &err);
    if (r == 0)
        r = cc_cpio_add_dir(w, "/a", 0755, &err);
    if (r == 0)
        r = cc_cpio_add_file(w, "/a/x", 0644, "xyz", 3, &err);
    if (r == 0)
        r = cc_cpio_finish(w, &err);
    else
        cc_cpio_abort(w);
    is_int(r, 0, "golden archive written (%s)", err.msg);

    /* header: magic ino mode uid gid nlink mtime size devmaj devmin rmaj rmin namesize check */
    static const char want[] =
        "070701" "00000001" "000041ED" "00000000" "00000000" "00000002" "00000000"
        "00000000" "00000000" "00000000" "00000000" "00000000" "00000002" "00000000"
        "a\0"                                          /* 110 + 2 = 112: aligned */
        "070701" "00000002" "000081A4" "00000000" "00000000" "00000001" "00000000"
        "00000003" "00000000" "00000000" "00000000" "00000000" "00000004" "00000000"
        "a/x\0" "\0\0"                                 /* 110 + 4 -> 116 */
        "xyz\0"                                        /* data 3 -> 4 */
        "070701" "00000000" "00000000" "00000000" "00000000" "00000001" "00000000"
        "00000000" "00000000" "00000000" "00000000" "00000000" "0000000B" "00000000"
        "TRAILER!!!\0" "\0\0\0";                       /* 110 + 11 -> 124 */
    size_t want_len = 112 + 116 + 4 + 124;
    is_int(sizeof(want) - 1, want_len, "golden layout is %zu bytes", want_len);
    size_t len;
    uint8_t *got = slurp(out, &len);
    is_int(len, want_len, "golden archive size");
    ok(got && len == want_len && !memcmp(got, want, want_len), "golden archive bytes");
    free(got);
}

/* ---- rejection ---- */

static void expect_reject(int r, int want_errno, const struct cc_err *err, const char *needle,
                          const char *what)
{
    ok(r == -want_errno && strstr(err->msg, needle), "rejects %s (%d: %s)", what, r, err->msg);
}

static void test_rejects(void)
{
    struct cc_err err = {0};
    struct cc_cpio *w;
    const char *out = path_in("rejects.cpio");
    int r = cc_cpio_open(&w, out, NULL, &err);
    if (!ok(r == 0, "open writer for rejection tests"))
        return;

    char longpath[5000];
    memset(longpath, 'a', sizeof(longpath) - 1);
    for (size_t i = 100; i < sizeof(longpath) - 1; i += 101)
        longpath[i] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    char longname[300];
    memset(longname, 'n', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';

    memset(&err, 0, sizeof(err));
    r = cc_cpio_add_dir(w, "/../etc", 0755, &err);
    expect_reject(r, EINVAL, &err, "'..'", "leading ..");
    r = cc_cpio_add_dir(w, "a/../../b", 0755, &err);
    expect_reject(r, EINVAL, &err, "'..'", "embedded ..");
    r = cc_cpio_add_file(w, "..", 0644, "", 0, &err);
    expect_reject(r, EINVAL, &err, "'..'", "bare ..");
    r = cc_cpio_add_dir(w, "", 0755, &err);
    expect_reject(r, EINVAL, &err, "empty", "empty path");
    r = cc_cpio_add_dir(w, "//./", 0755, &err);
    expect_reject(r, EINVAL, &err, "archive root", "the root itself");
    r = cc_cpio_add_dir(w, longpath, 0755, &err);
    expect_reject(r, ENAMETOOLONG, &err, "too long", "path over 4095 bytes");
    r = cc_cpio_add_dir(w, longname, 0755, &err);
    expect_reject(r, ENAMETOOLONG, &err, "component", "component over 255 bytes");
    r = cc_cpio_add_dir(w, "/d", 040755, &err);
    expect_reject(r, EINVAL, &err, "07777", "mode with type bits");
    r = cc_cpio_add_file(w, "/missing/parent", 0644, "x", 1, &err);
    expect_reject(r, ENOENT, &err, "parent directory '/missing'", "missing parent");
    r = cc_cpio_add_file_from(w, "/f", 0644, path_in("no-such-file"), &err);
    expect_reject(r, ENOENT, &err, "not found", "missing host file");
    r = cc_cpio_add_file_from(w, "/f", 0644, tmpdir, &err);
    expect_reject(r, EINVAL, &err, "not a regular file", "host directory as file");
    r = cc_cpio_add_node(w, "/n", 0600, CC_CPIO_CHR, 4096, 0, &err);
    expect_reject(r, ERANGE, &err, "out of range", "major 4096");
    r = cc_cpio_add_node(w, "/n", 0600, CC_CPIO_BLK, 1, 1u << 20, &err);
    expect_reject(r, ERANGE, &err, "out of range", "minor 2^20");
    r = cc_cpio_add_symlink(w, "/l", "", 0777, &err);
    expect_reject(r, EINVAL, &err, "empty target", "empty symlink target");

    /* Rejections wrote nothing, so the writer still works. */
    is_int(cc_cpio_add_file(w, "/f", 0644, "x", 1, &err), 0, "writer usable after rejections");
    r = cc_cpio_add_file(w, "f", 0600, "y", 1, &err);
    expect_reject(r, EEXIST, &err, "already in the archive", "duplicate path");
    r = cc_cpio_add_dir(w, "/f/sub", 0755, &err);
    expect_reject(r, ENOTDIR, &err, "not a directory", "entry under a file");
    is_int(cc_cpio_finish(w, &err), 0, "finish after rejections");

    int st;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cpio -it --quiet < '%s'", out);
    char *list = run(cmd, &st);
    is_str(list, "f\n", "only the accepted entry is in the archive");
    free(list);
}

static void test_auto_parents(void)
{
    struct cc_err err = {0};
    struct cc_cpio *w;
    struct cc_cpio_opts opts = { .auto_parents = true };
    const char *out = path_in("parents.cpio");
    int r = cc_cpio_open(&w, out, &opts, &err);
    if (r == 0)
        r = cc_cpio_add_dir(w, "/x", 0700, &err);
    if (r == 0)
        r = cc_cpio_add_file(w, "/x/y/z/file", 0644, "1", 1, &err);
    if (r == 0)
        r = cc_cpio_add_symlink(w, "/x/y/w/link", "../z/file", 0777, &err);
    int dup = r == 0 ? cc_cpio_add_dir(w, "/x/y", 0700, &err) : 0;
    ok(dup == -EEXIST && strstr(err.msg, "as the parent of an earlier entry"),
       "declaring an auto-created parent afterwards is an error (%s)", err.msg);
    if (r == 0)
        r = cc_cpio_finish(w, &err);
    else
        cc_cpio_abort(w);
    is_int(r, 0, "auto_parents archive written (%s)", r ? err.msg : "ok");

    int st;
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "LC_ALL=C cpio -itv --quiet < '%s' | awk '{print $1, $NF}'", out);
    char *list = run(cmd, &st);
    is_str(list,
           "drwx------ x\n"
           "drwxr-xr-x x/y\n"
           "drwxr-xr-x x/y/z\n"
           "-rw-r--r-- x/y/z/file\n"
           "drwxr-xr-x x/y/w\n"
           "lrwxrwxrwx ../z/file\n",
           "missing parents are added (0755) just before the first entry under them");
    free(list);
}

static void test_atomic(void)
{
    struct cc_err err = {0};
    struct cc_cpio *w;
    const char *out = path_in("atomic.cpio");
    ok(write_host_file(out, "old", 3), "create an existing destination");
    int r = cc_cpio_open(&w, out, NULL, &err);
    if (r == 0) {
        cc_cpio_add_file(w, "/f", 0644, "new", 3, &err);
        cc_cpio_abort(w);
    }
    size_t len;
    uint8_t *got = slurp(out, &len);
    ok(got && len == 3 && !memcmp(got, "old", 3), "abort leaves the destination untouched");
    free(got);
    ok(!dir_has_tmp_files(), "abort removes the temporary file");

    r = cc_cpio_open(&w, path_in("no-such-dir/x.cpio"), NULL, &err);
    ok(r == -ENOENT && strstr(err.msg, "no-such-dir"), "open in a missing directory fails (%s)",
       err.msg);

    struct stat sb;
    ok(stat(path_in("ref.cpio"), &sb) == 0 && (sb.st_mode & 0777) == 0644,
       "finished archive has mode 0644");
}

int main(void)
{
    tap_plan(0);
    int st;
    free(run("cpio --version >/dev/null 2>&1 && gzip --version >/dev/null 2>&1", &st));
    if (st != 0)
        tap_bail("these tests need GNU cpio and gzip in PATH (Debian packages cpio, gzip)");

    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/cc-test-cpio-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        tap_bail("mkdtemp: %s", strerror(errno));

    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(big); i++) {
        x = x * 1103515245u + 12345u;
        big[i] = (uint8_t)(x >> 16);
    }
    if (!write_host_file(path_in("host.txt"), hosttext, strlen(hosttext)) ||
        !write_host_file(path_in("big.bin"), big, sizeof(big)))
        tap_bail("cannot write host files in %s", tmpdir);
    is_int(strlen(hosttext), 26, "host file is 26 bytes (not a multiple of 4)");

    struct cc_err err = {0};
    int r = write_reference(path_in("ref.cpio"), false, &err);
    is_int(r, 0, "reference archive written (%s)", r ? err.msg : "ok");
    r = write_reference(path_in("ref2.cpio"), false, &err);
    is_int(r, 0, "reference archive written again");
    ok(files_equal(path_in("ref.cpio"), path_in("ref2.cpio")), "two writes are byte-identical");
    size_t len;
    free(slurp(path_in("ref.cpio"), &len));
    is_int(len % 4, 0, "archive length is a multiple of 4");

    r = write_reference(path_in("ref.cpio.gz"), true, &err);
    is_int(r, 0, "gzip archive written (%s)", r ? err.msg : "ok");
    r = write_reference(path_in("ref2.cpio.gz"), true, &err);
    ok(r == 0 && files_equal(path_in("ref.cpio.gz"), path_in("ref2.cpio.gz")),
       "two gzip writes are byte-identical");
    uint8_t *gz = slurp(path_in("ref.cpio.gz"), &len);
    ok(gz && len > 10 && gz[0] == 0x1f && gz[1] == 0x8b && gz[3] == 0 &&
           !gz[4] && !gz[5] && !gz[6] && !gz[7],
       "gzip header has no name and mtime 0");
    free(gz);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "gzip -dc < '%s' | cmp -s - '%s'", path_in("ref.cpio.gz"),
             path_in("ref.cpio"));
    free(run(cmd, &st));
    is_int(st, 0, "gzip -dc of the gzip archive equals the plain archive");

    test_listing(path_in("ref.cpio"), "cat");
    test_extract(path_in("ref.cpio"), "cat", "x-plain");
    test_listing(path_in("ref.cpio.gz"), "gzip -dc");
    test_extract(path_in("ref.cpio.gz"), "gzip -dc", "x-gzip");

    test_golden();
    test_rejects();
    test_auto_parents();
    test_atomic();

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", tmpdir);
    return tap_exit();
}
