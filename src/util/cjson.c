/* JSON conventions of the library (util/cjson.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaoscontrol/schedule.h"
#include "util/afile.h"
#include "util/cjson.h"

json_t *cj_u64(uint64_t v)
{
    if (v <= CJ_EXACT_MAX)
        return json_integer((json_int_t)v);
    char b[24];
    snprintf(b, sizeof(b), "%" PRIu64, v);
    return json_string(b);
}

json_t *cj_hex64(uint64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%016" PRIx64, v);
    return json_string(b);
}

json_t *cj_time(int64_t ns)
{
    char b[48];
    cc_time_format(ns, b, sizeof(b));
    return json_string(b);
}

json_t *cj_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

int cj_get_u64(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (*s >= '0' && *s <= '9' && !*end && !errno) {
            *out = x;
            return 0;
        }
    }
    return -EINVAL;
}

int cj_get_hex64(const json_t *v, uint64_t *out)
{
    if (!json_is_string(v))
        return -EINVAL;
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    if (n == 0 || n > 16 || strspn(s, "0123456789abcdefABCDEF") != n)
        return -EINVAL;
    *out = strtoull(s, NULL, 16);
    return 0;
}

int cj_get_time(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return 0;
    }
    if (json_is_string(v) && cc_time_parse(json_string_value(v), out))
        return 0;
    return -EINVAL;
}

const char *cj_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int cj_write_file(const json_t *root, const char *path, struct cc_err *err)
{
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    size_t n = text ? strlen(text) : 0;
    char *line = text ? realloc(text, n + 2) : NULL;
    if (!line) {
        free(text);
        return cc_err_set(err, ENOMEM, "%s: out of memory writing JSON", path);
    }
    line[n] = '\n';
    line[n + 1] = 0;
    int rc = cc_file_write_atomic(path, line, n + 1, err);
    free(line);
    return rc;
}
