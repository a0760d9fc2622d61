/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * internal.h -- what only the web layer's own files share: the application
 * structure and the static-asset table.
 */
#ifndef PT_WEB_INTERNAL_H
#define PT_WEB_INTERNAL_H

#include "web/web.h"

struct web_handler_box {
    web_handler_fn fn;
    struct web_handler_box *next; /* all boxes, freed with the app */
};

struct web_static_file {
    const char *path;         /* relative to web/, e.g. "js/app.js" */
    const unsigned char *data;
    size_t len;
    const char *mime;
    char etag[24];            /* "\"<16 hex digits>\"" */
};

struct web_app {
    struct web_app_config cfg;
    struct web_router *router;
    web_middleware_fn *middlewares;
    size_t num_middlewares;
    struct web_handler_box *boxes;
    struct web_static_file *files; /* the embedded asset table with ETags */
    size_t num_files;
    uint64_t responses[6];         /* answers sent, by status class (index status / 100) */
};

void web__static_init(struct web_app *app);
void web__static_deinit(struct web_app *app);

/* Render the result of a suspended handler (an error status) or nothing if it sent. */
void web__ctx_finish(struct web_ctx *ctx, int rc);

#endif /* PT_WEB_INTERNAL_H */
