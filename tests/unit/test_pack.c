/* chaoscontrol pack (src/pack): the closure of a dynamic program read from
 * ELF headers (loader, DT_NEEDED, RUNPATH with $ORIGIN, RPATH, the system
 * directories, libraries of another class skipped), errors that name the
 * file, and an image that holds what was added plus /init. Hand-made ELF
 * files in a temporary root, and the host's own /bin/ls. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../tap.h"
#include "chaoscontrol/pack.h"

static char root[256];

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

static void mkdirs(const char *path)
{
    char tmp[512];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(tmp, 0755);
            *s = '/';
        }
}

/* An ELF64 file at root+path: optionally PT_INTERP, a PT_DYNAMIC with the
 * DT_NEEDED names (NULL-terminated) and a runpath/rpath, all in one
 * PT_LOAD. cls 1 writes a 32-bit ident (the loader must skip it). */
static void elf(const char *path, int cls, const char *interp, const char *const *needed,
                const char *runpath, const char *rpath)
{
    uint8_t f[4096] = {0};
    memcpy(f, "\177ELF", 4);
    f[4] = (uint8_t)cls;
    f[5] = 1;
    f[6] = 1;
    put16(f + 16, 3);               /* ET_DYN */
    put16(f + 18, 62);              /* x86_64 */
    put64(f + 32, 64);              /* phoff */
    put16(f + 52, 64);
    put16(f + 54, 56);
    /* strings at 1024, dynamic at 2048, interp at 3072 */
    char *str = (char *)f + 1024;
    size_t so = 1;
    uint64_t ent[32][2];
    unsigned ne = 0;
    for (const char *const *n = needed; n && *n; n++) {
        strcpy(str + so, *n);
        ent[ne][0] = 1, ent[ne][1] = so, ne++;
        so += strlen(*n) + 1;
    }
    if (runpath) {
        strcpy(str + so, runpath);
        ent[ne][0] = 29, ent[ne][1] = so, ne++;
        so += strlen(runpath) + 1;
    }
    if (rpath) {
        strcpy(str + so, rpath);
        ent[ne][0] = 15, ent[ne][1] = so, ne++;
        so += strlen(rpath) + 1;
    }
    ent[ne][0] = 5, ent[ne][1] = 0x10000 + 1024, ne++;     /* DT_STRTAB (vaddr) */
    ent[ne][0] = 10, ent[ne][1] = so, ne++;                 /* DT_STRSZ */
    ent[ne][0] = 0, ent[ne][1] = 0, ne++;
    for (unsigned i = 0; i < ne; i++) {
        put64(f + 2048 + 16 * i, ent[i][0]);
        put64(f + 2048 + 16 * i + 8, ent[i][1]);
    }
    unsigned ph = 0;
    uint8_t *p = f + 64;
    put32(p, 1), put64(p + 8, 0), put64(p + 16, 0x10000), put64(p + 32, 4096),
        put64(p + 40, 4096), p += 56, ph++;                  /* PT_LOAD */
    put32(p, 2), put64(p + 8, 2048), put64(p + 16, 0x10000 + 2048),
        put64(p + 32, 16 * ne), p += 56, ph++;               /* PT_DYNAMIC */
    if (interp) {
        strcpy((char *)f + 3072, interp);
        put32(p, 3), put64(p + 8, 3072), put64(p + 32, strlen(interp) + 1), ph++;
    }
    put16(f + 56, (uint16_t)ph);
    char full[512];
    snprintf(full, sizeof(full), "%s%s", root, path);
    mkdirs(full);
    FILE *o = fopen(full, "wb");
    fwrite(f, 1, sizeof(f), o);
    fclose(o);
    chmod(full, 0755);
}

static bool has(struct cc_pack *p, const char *guest)
{
    for (size_t i = 0; i < cc_pack_count(p); i++)
        if (!strcmp(cc_pack_entry(p, i, NULL), guest))
            return true;
    return false;
}

static struct cc_pack *fresh(void)
{
    struct cc_pack *p;
    struct cc_err err = {0};
    if (cc_pack_new(&p, &err) < 0 || cc_pack_set_root(p, root, &err) < 0)
        tap_bail("%s", err.msg);
    return p;
}

int main(void)
{
    tap_plan(0);
    snprintf(root, sizeof(root), "/tmp/cc-pack-test-XXXXXX");
    if (!mkdtemp(root))
        tap_bail("mkdtemp: %s", strerror(errno));
    struct cc_err err = {0};

    /* a program with a loader, a RUNPATH $ORIGIN library that needs a
     * system library, and a 32-bit library of the same name earlier on the
     * path (skipped, as the loader skips it) */
    elf("/lib64/ld-test.so.2", 2, NULL, NULL, NULL, NULL);
    const char *prog_needs[] = {"liba.so.1", "libc.so.6", NULL};
    elf("/opt/app/bin/app", 2, "/lib64/ld-test.so.2", prog_needs, "$ORIGIN/../lib", NULL);
    const char *a_needs[] = {"libb.so.2", NULL};
    elf("/opt/app/lib/liba.so.1", 2, NULL, a_needs, NULL, NULL);
    elf("/lib/x86_64-linux-gnu/libb.so.2", 1, NULL, NULL, NULL, NULL);     /* 32-bit */
    elf("/usr/lib/libb.so.2", 2, NULL, NULL, NULL, NULL);
    elf("/lib/x86_64-linux-gnu/libc.so.6", 2, NULL, NULL, NULL, NULL);
    char prog[512];
    snprintf(prog, sizeof(prog), "%s/opt/app/bin/app", root);

    struct cc_pack *p = fresh();
    ok(cc_pack_add_program(p, prog, "/opt/app/bin/app", &err) == 0, "a dynamic program packs (%s)",
       err.msg);
    ok(has(p, "/opt/app/bin/app") && has(p, "/lib64/ld-test.so.2"), "with its loader (PT_INTERP)");
    ok(has(p, "/opt/app/lib/liba.so.1"), "a DT_NEEDED library found through RUNPATH $ORIGIN");
    ok(has(p, "/usr/lib/libb.so.2") && !has(p, "/lib/x86_64-linux-gnu/libb.so.2"),
       "its own DT_NEEDED library, the 32-bit one of that name skipped");
    ok(has(p, "/lib/x86_64-linux-gnu/libc.so.6"), "a system library from the multiarch directory");
    is_int(cc_pack_count(p), 5, "nothing else");
    ok(cc_pack_set_command(p, "app --id {id}", &err) == 0, "a command");
    char img[512];
    snprintf(img, sizeof(img), "%s/app.initrd", root);
    ok(cc_pack_write(p, img, false, &err) == 0, "the image is written (%s)", err.msg);
    ok(has(p, "/init") && has(p, "/etc/chaoscontrol/cmd") &&
       has(p, "/etc/chaoscontrol/ld_library_path"),
       "with /init, the command, and LD_LIBRARY_PATH for /opt/app/lib");
    ok(has(p, "/usr/bin/chaoscontrol-history"), "and always /usr/bin/chaoscontrol-history");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "cpio -it < '%s' 2>/dev/null | sort | tr '\\n' ' '", img);
    FILE *f = popen(cmd, "r");
    char listing[4096] = "";
    size_t got = f ? fread(listing, 1, sizeof(listing) - 1, f) : 0;
    if (f)
        pclose(f);
    listing[got] = 0;
    ok(strstr(listing, "dev/console") && strstr(listing, " init ") &&
       strstr(listing, "opt/app/bin/app") && strstr(listing, "usr/lib/libb.so.2") &&
       strstr(listing, "usr/bin/chaoscontrol-history"),
       "GNU cpio lists it: %.200s...", listing);
    cc_pack_free(p);

    /* errors name the file and the problem */
    const char *miss[] = {"libmissing.so.7", NULL};
    elf("/opt/app/bin/broken", 2, "/lib64/ld-test.so.2", miss, NULL, NULL);
    p = fresh();
    snprintf(prog, sizeof(prog), "%s/opt/app/bin/broken", root);
    ok(cc_pack_add_program(p, prog, NULL, &err) < 0 && strstr(err.msg, "libmissing.so.7") &&
       strstr(err.msg, "broken"), "a missing library names it and who needs it: %s", err.msg);
    cc_pack_free(p);
    elf("/opt/app/bin/noloader", 2, "/lib64/ld-gone.so.2", NULL, NULL, NULL);
    p = fresh();
    snprintf(prog, sizeof(prog), "%s/opt/app/bin/noloader", root);
    ok(cc_pack_add_program(p, prog, NULL, &err) < 0 && strstr(err.msg, "ld-gone.so.2"),
       "a missing loader: %s", err.msg);
    cc_pack_free(p);
    char text[512];
    snprintf(text, sizeof(text), "%s/notelf", root);
    f = fopen(text, "w");
    fputs("hello\n", f);
    fclose(f);
    p = fresh();
    ok(cc_pack_add_program(p, text, NULL, &err) < 0 && strstr(err.msg, "not an ELF executable") &&
       strstr(err.msg, "notelf"), "not a program: %s", err.msg);
    ok(cc_pack_add_program(p, "/nonexistent/prog", NULL, &err) < 0 &&
       strstr(err.msg, "/nonexistent/prog"), "a missing program: %s", err.msg);
    ok(cc_pack_add_program(p, "no-such-program-anywhere", NULL, &err) < 0 &&
       strstr(err.msg, "not on $PATH"), "a name not on $PATH: %s", err.msg);
    ok(cc_pack_write(p, img, false, &err) < 0 && strstr(err.msg, "no command"),
       "an image without a command is refused: %s", err.msg);
    cc_pack_free(p);

    /* the host's /bin/ls: its real closure (libc and the loader at least) */
    struct cc_pack *h;
    cc_pack_new(&h, &err);
    ok(cc_pack_add_program(h, "ls", NULL, &err) == 0, "the host's ls packs (%s)", err.msg);
    ok(has(h, "/usr/bin/ls") && has(h, "/lib64/ld-linux-x86-64.so.2") &&
       has(h, "/lib/x86_64-linux-gnu/libc.so.6"),
       "with the loader and libc (%zu files)", cc_pack_count(h));
    cc_pack_free(h);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", root);
    return tap_exit();
}
