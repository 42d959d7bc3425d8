/* Coverage for the explorer: one branch's map (the bucketed union of all
 * VMs' edge bitmaps plus assertion-state bits) and the global virgin map
 * it is compared with, AFL style: a branch is interesting when it reaches
 * an edge never seen, a hit-count bucket never seen for a known edge, or an
 * assertion state never seen (an assertion reached, passed or failed in a
 * VM for the first time; a SOMETIMES passing more often within one branch
 * than ever before, in AFL buckets). */
#include <string.h>

#include "explore/search_internal.h"

void xcov_clear(struct xcov *c)
{
    memset(c, 0, sizeof(*c));
}

void xcov_add_edges(struct xcov *c, const uint8_t *raw)
{
    if (!raw)
        return;
    uint8_t b[4096];
    for (size_t off = 0; off < CC_COVERAGE_SIZE; off += sizeof(b)) {
        /* Fast path: most of the map is zero. */
        const uint64_t *w = (const uint64_t *)(raw + off);
        bool any = false;
        for (size_t i = 0; i < sizeof(b) / 8 && !any; i++)
            any = w[i] != 0;
        if (!any)
            continue;
        cc_coverage_buckets(raw + off, b, sizeof(b));
        for (size_t i = 0; i < sizeof(b); i++)
            c->edges[off + i] |= b[i];
    }
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

size_t xcov_assert_slot(uint64_t id, unsigned vm)
{
    return (size_t)(mix(id ^ mix(vm + 1)) % XCOV_ASSERT_SIZE);
}

void xcov_add_assert(struct xcov *c, uint64_t id, unsigned vm, unsigned bits)
{
    c->asserts[xcov_assert_slot(id, vm)] |= (uint8_t)bits;
}

void xcov_add_assert_count(struct xcov *c, uint64_t id, uint64_t passes)
{
    if (!passes)
        return;
    uint8_t raw = passes > 255 ? 255 : (uint8_t)passes, b;
    cc_coverage_buckets(&raw, &b, 1);
    c->asserts[xcov_assert_slot(id, 0xffff)] |= b;
}

void covmap_init(struct covmap *m)
{
    memset(m, 0, sizeof(*m));
}

static size_t popcount8(uint8_t v)
{
    return (size_t)__builtin_popcount(v);
}

bool covmap_merge(struct covmap *m, const struct xcov *c, struct xnovelty *nv)
{
    struct xnovelty tmp;
    if (!nv)
        nv = &tmp;
    memset(nv, 0, sizeof(*nv));
    const uint64_t *w = (const uint64_t *)c->edges;
    for (size_t i = 0; i < CC_COVERAGE_SIZE / 8; i++) {
        if (!w[i])
            continue;
        for (size_t j = i * 8; j < i * 8 + 8; j++) {
            uint8_t b = c->edges[j];
            if (!b || (m->edges[j] & b) == b)
                continue;
            if (!m->edges[j]) {
                nv->new_edges++;
                m->n_edges++;
            } else {
                nv->new_buckets++;
            }
            m->edges[j] |= b;
        }
    }
    for (size_t j = 0; j < XCOV_ASSERT_SIZE; j++) {
        uint8_t b = c->asserts[j];
        if (!b)
            continue;
        m->assert_hits[j]++;
        uint8_t fresh = b & (uint8_t)~m->asserts[j];
        if (!fresh)
            continue;
        nv->new_assert_bits += popcount8(fresh);
        m->n_assert_bits += popcount8(fresh);
        if (nv->n_assert_slots < sizeof(nv->assert_slots) / sizeof(nv->assert_slots[0]))
            nv->assert_slots[nv->n_assert_slots++] = j;
        m->asserts[j] |= b;
    }
    return nv->new_edges || nv->new_buckets || nv->new_assert_bits;
}

bool covmap_is_new(const struct covmap *m, const struct xcov *c)
{
    for (size_t j = 0; j < CC_COVERAGE_SIZE; j++)
        if (c->edges[j] & (uint8_t)~m->edges[j])
            return true;
    for (size_t j = 0; j < XCOV_ASSERT_SIZE; j++)
        if (c->asserts[j] & (uint8_t)~m->asserts[j])
            return true;
    return false;
}

size_t covmap_edges(const struct covmap *m) { return m->n_edges; }
size_t covmap_assert_bits(const struct covmap *m) { return m->n_assert_bits; }
