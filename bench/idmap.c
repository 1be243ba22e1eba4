/* String -> uint32 map: see idmap.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "idmap.h"

void idmap_init(struct idmap *m)
{
    m->slots = NULL;
    m->cap = m->n = 0;
}

void idmap_fini(struct idmap *m)
{
    free(m->slots);
    idmap_init(m);
}

static uint64_t hash(const char *k, size_t len)
{
    uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)k[i];
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static struct idmap_slot *find(const struct idmap *m, const char *key, size_t len)
{
    size_t mask = m->cap - 1;
    for (size_t i = hash(key, len) & mask;; i = (i + 1) & mask) {
        struct idmap_slot *s = &m->slots[i];
        if (s->key[0] == '\0' || (strncmp(s->key, key, len) == 0 && s->key[len] == '\0'))
            return s;
    }
}

static void grow(struct idmap *m)
{
    struct idmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 1024;
    m->slots = calloc(m->cap, sizeof(*m->slots));
    if (!m->slots) {
        fprintf(stderr, "regulars-bench: out of memory\n");
        abort();
    }
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].key[0])
            idmap_put(m, old.slots[i].key, strlen(old.slots[i].key), old.slots[i].val);
    free(old.slots);
}

int idmap_put(struct idmap *m, const char *key, size_t len, uint32_t val)
{
    if (len == 0 || len >= IDMAP_KEY_MAX)
        return -1;
    if ((m->n + 1) * 2 > m->cap)
        grow(m);
    struct idmap_slot *s = find(m, key, len);
    if (s->key[0] == '\0') {
        memcpy(s->key, key, len);
        s->key[len] = '\0';
        m->n++;
    }
    s->val = val;
    return 0;
}

int idmap_get(const struct idmap *m, const char *key, size_t len, uint32_t *val)
{
    if (!m->cap || len == 0 || len >= IDMAP_KEY_MAX)
        return 0;
    struct idmap_slot *s = find(m, key, len);
    if (s->key[0] == '\0')
        return 0;
    *val = s->val;
    return 1;
}
