/* Versioned state records (util/buf.h, rd_version): every device's and
 * component's loader takes its own version and older ones, and refuses a
 * newer one or version 0 with a message naming the component and saying
 * what to do, leaving the state untouched. */
#include <errno.h>
#include <string.h>

#include "../tap.h"
#include "devices/cmos.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/uart.h"
#include "util/buf.h"
#include "util/rng.h"

static void nop_irq(void *opaque, unsigned line, int level)
{
    (void)opaque, (void)line, (void)level;
}

static void nop_tx(void *opaque, uint8_t b)
{
    (void)opaque, (void)b;
}

typedef int (*load_fn)(void *obj, struct cc_rd *in, struct cc_err *err);

static int t_pic_load(void *o, struct cc_rd *in, struct cc_err *e) { return pic_load(o, in, e); }
static int t_pit_load(void *o, struct cc_rd *in, struct cc_err *e) { return pit_load(o, in, e); }
static int t_uart_load(void *o, struct cc_rd *in, struct cc_err *e) { return uart_load(o, in, e); }
static int t_cmos_load(void *o, struct cc_rd *in, struct cc_err *e) { return cmos_load(o, in, e); }
static int t_rng_load(void *o, struct cc_rd *in, struct cc_err *e) { return rng_load(o, in, e); }

/* rec: a saved record whose first byte is the version; obj of size n. */
static void check(const char *name, const struct cc_buf *rec, void *obj, size_t n, load_fn load)
{
    struct cc_err err = {0};
    struct cc_rd rd;
    uint8_t cur = rec->data[0];
    unsigned char before[16384];
    if (n > sizeof(before))
        tap_bail("%s: state of %zu bytes is larger than the test's copy", name, n);
    memcpy(before, obj, n);

    uint8_t *bad = malloc(rec->len);
    memcpy(bad, rec->data, rec->len);
    bad[0] = (uint8_t)(cur + 1);
    rd_init(&rd, bad, rec->len);
    int rc = load(obj, &rd, &err);
    ok(rc == -EINVAL && strstr(err.msg, name) && strstr(err.msg, "is newer than this build") &&
       !memcmp(obj, before, n), "%s: version %u (newer) refused, state untouched: %s", name,
       cur + 1, err.msg);
    bad[0] = 0;
    rd_init(&rd, bad, rec->len);
    rc = load(obj, &rd, &err);
    ok(rc == -EINVAL && strstr(err.msg, name) && strstr(err.msg, "version 0"),
       "%s: version 0 refused: %s", name, err.msg);
    free(bad);
    rd_init(&rd, rec->data, rec->len);
    ok(load(obj, &rd, &err) == 0 && rd_left(&rd) == 0, "%s: its own version %u loads (%s)",
       name, cur, err.msg);
}

int main(void)
{
    tap_plan(0);
    struct cc_err err = {0};

    /* the helper itself: older accepted, own accepted, newer refused */
    uint8_t v[1];
    struct cc_rd rd;
    for (unsigned x = 1; x <= 3; x++) {
        v[0] = (uint8_t)x;
        rd_init(&rd, v, 1);
        is_int(rd_version(&rd, 3, "thing", &err), x, "a reader of version 3 takes version %u", x);
    }
    v[0] = 4;
    rd_init(&rd, v, 1);
    ok(rd_version(&rd, 3, "thing", &err) == -EINVAL &&
       strstr(err.msg, "thing: state version 4 is newer than this build reads (up to 3)"),
       "version 4 refused: %s", err.msg);
    rd_init(&rd, v, 0);
    ok(rd_version(&rd, 3, "thing", &err) == -EINVAL && strstr(err.msg, "thing: state truncated"),
       "no byte at all: %s", err.msg);

    struct cc_irq_sink sink = {nop_irq, NULL};
    struct cc_buf b;

    struct cc_pic pic;
    pic_init(&pic);
    buf_init(&b);
    pic_save(&pic, &b);
    check("pic", &b, &pic, sizeof(pic), t_pic_load);
    buf_free(&b);

    struct cc_pit pit;
    pit_init(&pit, sink, 0);
    buf_init(&b);
    pit_save(&pit, &b);
    check("pit", &b, &pit, sizeof(pit), t_pit_load);
    buf_free(&b);

    struct cc_uart uart;
    uart_init(&uart, sink, 4, nop_tx, NULL);
    buf_init(&b);
    uart_save(&uart, &b);
    check("uart", &b, &uart, sizeof(uart), t_uart_load);
    buf_free(&b);

    struct cc_cmos cmos;
    cmos_init(&cmos, 1700000000, 256ull << 20);
    buf_init(&b);
    cmos_save(&cmos, &b);
    check("cmos", &b, &cmos, sizeof(cmos), t_cmos_load);
    buf_free(&b);

    struct cc_rng rng;
    rng_init(&rng, 42, "test");
    buf_init(&b);
    rng_save(&rng, &b);
    check("rng", &b, &rng, sizeof(rng), t_rng_load);
    buf_free(&b);

    return tap_exit();
}
