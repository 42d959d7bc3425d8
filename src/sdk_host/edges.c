/* Coverage on the VMM side: the guest's 64 KiB edge bitmap lives in guest
 * RAM (CC_PROTO_COVERAGE_GPA), so reading it costs no exit and snapshots
 * carry it. AFL-style hit-count buckets make counts comparable across
 * runs: an edge is "new" when it lands in a bucket never seen before. */
#include <string.h>

#include <xxhash.h>

#include "sdk_state.h"

const uint8_t *cc_vm_coverage(struct cc_vm *vm)
{
    return cc_vm_gpa(vm, CC_PROTO_COVERAGE_GPA, CC_PROTO_COVERAGE_SIZE);
}

void cc_vm_coverage_clear(struct cc_vm *vm)
{
    uint8_t *m = cc_vm_gpa_w(vm, CC_PROTO_COVERAGE_GPA, CC_PROTO_COVERAGE_SIZE);
    if (m)
        memset(m, 0, CC_PROTO_COVERAGE_SIZE);
}

static uint8_t bucket(uint8_t c)
{
    if (c <= 2)
        return c;
    if (c == 3)
        return 4;
    if (c <= 7)
        return 8;
    if (c <= 15)
        return 16;
    if (c <= 31)
        return 32;
    if (c <= 127)
        return 64;
    return 128;
}

void cc_coverage_buckets(const uint8_t *in, uint8_t *out, size_t n)
{
    static uint8_t table[256];
    static int ready;
    if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE)) {
        for (int i = 0; i < 256; i++)
            table[i] = bucket((uint8_t)i);
        __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    }
    for (size_t i = 0; i < n; i++)
        out[i] = table[in[i]];
}

size_t cc_coverage_count(const uint8_t *map, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += map[i] != 0;
    return c;
}

uint64_t cc_coverage_hash(const uint8_t *map, size_t n)
{
    return XXH3_64bits(map, n);
}

int cc_coverage_merge(uint8_t *acc, const uint8_t *buckets, size_t n)
{
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t b = buckets[i];
        if (!b || (acc[i] & b) == b)
            continue;
        if (!acc[i])
            ret = 2;
        else if (!ret)
            ret = 1;
        acc[i] |= b;
    }
    return ret;
}
