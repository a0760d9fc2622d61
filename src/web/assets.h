/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * assets.h -- the browser page's files (web/), embedded in the binary at build
 * time by tools/embed into build/.../gen/assets.c. Read-only; thread-safe.
 */
#ifndef PT_WEB_ASSETS_H
#define PT_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *path;          /* relative to web/, e.g. "js/app.js" */
    const unsigned char *data; /* file contents (a NUL follows, not counted) */
    size_t len;
    const unsigned char *gz;   /* the same, gzip-compressed at build time; NULL: not worth it */
    size_t gz_len;
};

extern const struct web_asset web_assets[];
extern const size_t web_assets_count;

/* A hash of every asset: index.html refers to them under "static/<id>/" (immutable URLs). */
extern const char web_assets_build_id[];

#endif /* PT_WEB_ASSETS_H */
