/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * static.c -- the page's assets under /static/: the embedded table (with
 * content-hash ETags computed once at start), MIME types, conditional GETs,
 * and, for development, serving the same names from a directory on disk.
 *
 * Caching: index.html names its assets under /static/<build id>/ (rewritten
 * at build time, tools/embed), and those URLs are immutable for a year: a new
 * build is a new URL. The page itself and unversioned names revalidate (ETag).
 * A request under another build's id (a page loaded before an upgrade) gets
 * today's file with the short cache. Compression: the gzip copy made at build
 * time, to a client that accepts gzip (Vary: Accept-Encoding).
 *
 * Invariant: only names present in the embedded asset table are ever served,
 * from memory or from disk, so nothing outside the asset set is reachable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "web/assets.h"
#include "web/internal.h"

#define STATIC_PREFIX "/static/"
#define STATIC_MAX_DISK_BYTES (16 * 1024 * 1024)

const char *web_mime_type(const char *path)
{
    static const char *const types[][2] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".webmanifest", "application/manifest+json"},
    };
    const char *dot = strrchr(path, '.');
    if (dot != NULL)
        for (size_t i = 0; i < PT_ARRAY_SIZE(types); i++)
            if (strcmp(dot, types[i][0]) == 0)
                return types[i][1];
    return "application/octet-stream";
}

static void make_etag(const unsigned char *data, size_t len, char out[24])
{
    snprintf(out, 24, "\"%016llx\"", (unsigned long long)pt_hash_bytes(PT_HASH_SEED, data, len));
}

void web__static_init(struct web_app *app)
{
    app->num_files = web_assets_count;
    app->files = pt_xcalloc(app->num_files ? app->num_files : 1, sizeof(*app->files));
    for (size_t i = 0; i < web_assets_count; i++) {
        struct web_static_file *f = &app->files[i];
        f->path = web_assets[i].path;
        f->data = web_assets[i].data;
        f->len = web_assets[i].len;
        f->gz = web_assets[i].gz;
        f->gz_len = web_assets[i].gz_len;
        f->mime = web_mime_type(f->path);
        make_etag(f->data, f->len, f->etag);
        snprintf(f->etag_gz, sizeof(f->etag_gz), "%.17s-gz\"", f->etag);
    }
}

void web__static_deinit(struct web_app *app)
{
    free(app->files);
    app->files = NULL;
}

static const struct web_static_file *find_file(const struct web_app *app, struct pt_str name)
{
    for (size_t i = 0; i < app->num_files; i++)
        if (pt_str_eq(pt_str_c(app->files[i].path), name))
            return &app->files[i];
    return NULL;
}

/* True if an If-None-Match header lists etag (or "*"). */
static bool etag_matches(struct pt_str header, const char *etag)
{
    struct pt_str want = pt_str_c(etag);
    size_t i = 0;
    while (i < header.len) {
        size_t j = i;
        while (j < header.len && header.ptr[j] != ',')
            j++;
        struct pt_str item = pt_str_trim(pt_str_make(header.ptr + i, j - i));
        if (pt_str_has_prefix(item, PT_STR("W/")))
            item = pt_str_make(item.ptr + 2, item.len - 2);
        if (pt_str_eq(item, want) || pt_str_eq(item, PT_STR("*")))
            return true;
        i = j + 1;
    }
    return false;
}

/* Read a development copy from disk into the answer body. */
static int read_disk_copy(struct web_ctx *ctx, const char *dir, const char *name)
{
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof(path))
        return web_error(ctx, 404, "not_found", "no such static file");
    int rc = pt_buf_read_file(&ctx->body, path, STATIC_MAX_DISK_BYTES);
    if (rc == PT_E_NOMEM)
        return web_error(ctx, 500, "internal_error", "static file too large");
    if (rc < 0)
        return web_error(ctx, 404, "not_found", "no such static file in %s", dir);
    return 0;
}

/*
 * The page's own policy: scripts, styles, images and connections from this
 * origin only (no inline script), never framed, geolocation for itself only.
 */
static void add_page_policy(struct web_ctx *ctx, const char *mime)
{
    if (strncmp(mime, "text/html", 9) != 0)
        return;
    web_header_add(ctx, "Content-Security-Policy: default-src 'self'; script-src 'self'; "
                        "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                        "font-src 'self'; object-src 'none'; base-uri 'none'; "
                        "form-action 'self'; frame-ancestors 'none'");
    web_header_add(ctx, "X-Frame-Options: DENY");
    web_header_add(ctx, "Permissions-Policy: geolocation=(self), camera=(), microphone=()");
}

bool web_accepts_gzip(const struct web_ctx *ctx)
{
    return web__accepts_gzip(web_header(ctx, "Accept-Encoding"));
}

int web_static_serve(struct web_ctx *ctx, struct pt_str name)
{
    bool versioned;
    name = web__strip_build_id(name, &versioned);
    const struct web_static_file *f = find_file(ctx->app, name);
    if (f == NULL)
        return web_error(ctx, 404, "not_found", "no such static file");
    add_page_policy(ctx, f->mime);
    const char *dir = ctx->app->cfg.static_dir;
    if (dir != NULL) {
        /* Development: always fresh from disk, never cached. */
        int rc = read_disk_copy(ctx, dir, f->path);
        if (rc != 0)
            return rc;
        web_header_add(ctx, "Cache-Control: no-cache");
        return web_send(ctx, 200, f->mime);
    }
    bool gz = f->gz != NULL && web_accepts_gzip(ctx);
    const char *etag = gz ? f->etag_gz : f->etag;
    web_header_add(ctx, "ETag: %s", etag);
    if (f->gz != NULL)
        web_header_add(ctx, "Vary: Accept-Encoding");
    /* The page revalidates (it names today's assets); versioned assets never change. */
    web_header_add(ctx, versioned ? "Cache-Control: public, max-age=31536000, immutable"
                        : strncmp(f->mime, "text/html", 9) == 0 || strcmp(f->path, "sw.js") == 0
                            ? "Cache-Control: no-cache"
                            : "Cache-Control: public, max-age=300");
    struct pt_str inm = web_header(ctx, "If-None-Match");
    if (inm.ptr != NULL && etag_matches(inm, etag))
        return web_send_static(ctx, 304, NULL, PT_STR_NULL);
    if (gz) {
        web_header_add(ctx, "Content-Encoding: gzip");
        return web_send_static(ctx, 200, f->mime, pt_str_make((const char *)f->gz, f->gz_len));
    }
    return web_send_static(ctx, 200, f->mime, pt_str_make((const char *)f->data, f->len));
}

int web_gzip(struct pt_str in, struct pt_buf *out)
{
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return PT_E_NOMEM;
    size_t cap = deflateBound(&z, in.len) + 32;
    int rc = pt_buf_reserve(out, cap);
    if (rc == 0) {
        z.next_in = (Bytef *)(uintptr_t)in.ptr;
        z.avail_in = (uInt)in.len;
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = (uInt)cap;
        rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0 : PT_E_NOMEM;
        if (rc == 0)
            out->len += cap - z.avail_out;
    }
    deflateEnd(&z);
    return rc;
}

int web_send_maybe_gzip(struct web_ctx *ctx, int status, const char *content_type,
                        struct pt_str body, struct pt_str gz)
{
    web_header_add(ctx, "Vary: Accept-Encoding");
    if (gz.len > 0 && web_accepts_gzip(ctx)) {
        web_header_add(ctx, "Content-Encoding: gzip");
        return web_send_static(ctx, status, content_type, gz);
    }
    return web_send_static(ctx, status, content_type, body);
}

int web_static_serve_with(struct web_ctx *ctx, struct pt_str name, struct pt_str marker,
                          struct pt_str insert)
{
    const struct web_static_file *f = find_file(ctx->app, name);
    if (f == NULL)
        return web_error(ctx, 404, "not_found", "no such static file");
    struct pt_str page = pt_str_make((const char *)f->data, f->len);
    const char *at = marker.len > 0 ? memmem(page.ptr, page.len, marker.ptr, marker.len) : NULL;
    if (ctx->app->cfg.static_dir != NULL || at == NULL || insert.len == 0)
        return web_static_serve(ctx, name); /* nothing to put in: the cached page */
    add_page_policy(ctx, f->mime);
    web_header_add(ctx, "Cache-Control: no-cache");
    web_header_add(ctx, "Vary: Accept-Encoding");
    size_t head = (size_t)(at - page.ptr);
    struct pt_buf whole;
    pt_buf_init(&whole, page.len + insert.len + 1);
    pt_buf_append(&whole, page.ptr, head);
    pt_buf_append(&whole, insert.ptr, insert.len);
    pt_buf_append(&whole, page.ptr + head, page.len - head);
    ctx->body.len = 0;
    int rc;
    if (web_accepts_gzip(ctx) && web_gzip(pt_buf_str(&whole), &ctx->body) == 0) {
        web_header_add(ctx, "Content-Encoding: gzip");
    } else {
        ctx->body.len = 0;
        pt_buf_append(&ctx->body, whole.data, whole.len);
    }
    pt_buf_deinit(&whole);
    rc = web_send(ctx, 200, f->mime);
    return rc;
}

int web_mw_static(struct web_ctx *ctx)
{
    struct pt_str path = ctx->req->head.path;
    if (!pt_str_has_prefix(path, PT_STR(STATIC_PREFIX)))
        return WEB_NEXT;
    struct pt_str method = ctx->req->head.method;
    if (pt_str_eq(method, PT_STR("OPTIONS"))) {
        web_header_add(ctx, "Allow: GET, HEAD, OPTIONS");
        return web_send_static(ctx, 204, NULL, PT_STR_NULL);
    }
    if (!pt_str_eq(method, PT_STR("GET")) && !pt_str_eq(method, PT_STR("HEAD"))) {
        web_header_add(ctx, "Allow: GET, HEAD, OPTIONS");
        return web_error(ctx, 405, "method_not_allowed", "allowed methods: GET, HEAD, OPTIONS");
    }
    struct pt_str name = pt_str_make(path.ptr + strlen(STATIC_PREFIX),
                                     path.len - strlen(STATIC_PREFIX));
    /* Names are matched as sent: the table has no escapes, so encoded names miss. */
    return web_static_serve(ctx, name);
}
