/*
 * Web assets embedded at build time (scripts/embed.cmake turns every file under src/web into C arrays).
 * The table ends with a NULL path.
 */
#ifndef REGULARS_ASSETS_H
#define REGULARS_ASSETS_H

#include <stddef.h>

struct asset {
    const char *path;  /* "/dashboard.html", relative to src/web with a leading slash */
    const char *ctype; /* Content-Type */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted strong ETag (hash of the bytes) */
};

extern const struct asset assets_table[];

#endif
