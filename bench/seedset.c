/* Bench data set principals: see seedset.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bbuf.h"
#include "seedset.h"

void seedset_init(struct seedset *s)
{
    memset(s, 0, sizeof(*s));
    idmap_init(&s->user_index);
}

void seedset_fini(struct seedset *s)
{
    free(s->users);
    free(s->merchants);
    idmap_fini(&s->user_index);
    seedset_init(s);
}

static int append(struct principal **arr, uint32_t *n, const char *id, const char *secret)
{
    /* Grow by doubling: the count is a power of two exactly when the array is full. */
    if ((*n & (*n - 1)) == 0) {
        uint32_t cap = *n ? *n * 2 : 64;
        struct principal *p = realloc(*arr, (size_t)cap * sizeof(*p));
        if (!p)
            return -1;
        *arr = p;
    }
    struct principal *p = &(*arr)[*n];
    snprintf(p->id, sizeof(p->id), "%s", id);
    snprintf(p->secret, sizeof(p->secret), "%s", secret);
    (*n)++;
    return 0;
}

int seedset_parse(struct seedset *s, const char *text, size_t n)
{
    int count = 0;
    size_t off = 0, lineno = 0;
    while (off < n) {
        const char *nl = memchr(text + off, '\n', n - off);
        size_t len = nl ? (size_t)(nl - (text + off)) : n - off;
        lineno++;
        if (len) {
            json_error_t err;
            json_t *o = json_loadb(text + off, len, 0, &err);
            const char *kind = json_string_value(json_object_get(o, "kind"));
            const char *id = json_string_value(json_object_get(o, "id"));
            const char *secret = json_string_value(json_object_get(o, "secret"));
            int rc = -1;
            if (kind && id && secret && strlen(id) < sizeof(s->users->id) &&
                strlen(secret) < sizeof(s->users->secret)) {
                if (strcmp(kind, "user") == 0) {
                    rc = append(&s->users, &s->nusers, id, secret);
                    if (rc == 0)
                        idmap_put(&s->user_index, id, strlen(id), s->nusers - 1);
                } else if (strcmp(kind, "merchant") == 0) {
                    rc = append(&s->merchants, &s->nmerchants, id, secret);
                }
            }
            json_decref(o);
            if (rc) {
                fprintf(stderr, "regulars-bench: seed line %zu is not a principal: %.*s\n", lineno,
                        (int)(len > 200 ? 200 : len), text + off);
                return -1;
            }
            count++;
        }
        off += len + (nl ? 1 : 0);
    }
    return count;
}

int seedset_load(struct seedset *s, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct bbuf b;
    bbuf_init(&b);
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
        bbuf_add(&b, chunk, k);
    fclose(f);
    int rc = seedset_parse(s, b.data ? b.data : "", b.len);
    bbuf_fini(&b);
    return rc;
}

int seedset_save(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}
