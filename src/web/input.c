/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * input.c -- what handlers read from a request: path parameters, the query
 * string, headers, form-like bodies (urlencoded, multipart text fields, flat
 * JSON objects) and the encrypted session; plus the access-log middleware.
 * Loop thread only; everything allocated comes from the request's arena.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "web/internal.h"

#define MAX_FORM_ITEMS 64

struct pt_str web_param(const struct web_ctx *ctx, const char *name)
{
    struct pt_str want = pt_str_c(name);
    for (size_t i = 0; i < ctx->match.num_params; i++)
        if (pt_str_eq(ctx->match.params[i].name, want))
            return ctx->match.params[i].value;
    return PT_STR_NULL;
}

struct pt_str web_header(const struct web_ctx *ctx, const char *name)
{
    const struct http_header *h = http_head_find(&ctx->req->head, pt_str_c(name));
    return h != NULL ? h->value : PT_STR_NULL;
}

int web_query(struct web_ctx *ctx, const struct web_form **out)
{
    if (!ctx->query_parsed) {
        ctx->query_parsed = true;
        ctx->query_rc = web_form_parse(ctx->req->head.query, ctx->arena, MAX_FORM_ITEMS,
                                       &ctx->query);
    }
    if (ctx->query_rc == PT_E_RANGE)
        return web_error(ctx, 400, "bad_query", "the query string has more than %d parameters",
                         MAX_FORM_ITEMS);
    if (ctx->query_rc < 0)
        return web_error(ctx, 400, "bad_query",
                         "the query string is malformed (bad percent-escape)");
    *out = &ctx->query;
    return 0;
}

/* ------------------------------------------------------------- bodies */

/* The media type of a Content-Type value, without parameters, trimmed. */
static struct pt_str media_type(struct pt_str ct)
{
    size_t i = 0;
    while (i < ct.len && ct.ptr[i] != ';')
        i++;
    return pt_str_trim(pt_str_make(ct.ptr, i));
}

/* The value of a Content-Type parameter ("boundary"), unquoted, or PT_STR_NULL. */
static struct pt_str ct_param(struct pt_str ct, struct pt_str name)
{
    size_t i = 0;
    while (i < ct.len) {
        while (i < ct.len && ct.ptr[i] != ';')
            i++;
        if (i >= ct.len)
            break;
        i++;
        size_t start = i;
        while (i < ct.len && ct.ptr[i] != ';')
            i++;
        struct pt_str item = pt_str_trim(pt_str_make(ct.ptr + start, i - start));
        if (item.len > name.len && item.ptr[name.len] == '=' &&
            pt_str_eq_nocase(pt_str_make(item.ptr, name.len), name)) {
            struct pt_str v = pt_str_make(item.ptr + name.len + 1, item.len - name.len - 1);
            if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"')
                v = pt_str_make(v.ptr + 1, v.len - 2);
            return v;
        }
    }
    return PT_STR_NULL;
}

static const char *find_bytes(const char *hay, size_t n, struct pt_str needle)
{
    if (needle.len == 0 || n < needle.len)
        return NULL;
    return memmem(hay, n, needle.ptr, needle.len);
}

/*
 * multipart/form-data with text fields (what a browser's FormData sends):
 * each part's Content-Disposition name becomes a key, its content the value.
 */
static int parse_multipart(struct web_ctx *ctx, struct pt_str body, struct pt_str boundary,
                           struct web_form *out)
{
    if (boundary.len == 0 || boundary.len > 70)
        return web_error(ctx, 400, "bad_body", "multipart body without a valid boundary");
    char *delim = pt_arena_alloc(ctx->arena, boundary.len + 4);
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary.ptr, boundary.len);
    struct pt_str sep = pt_str_make(delim, boundary.len + 4);
    struct pt_str first = pt_str_make(delim + 2, boundary.len + 2); /* "--boundary" */

    out->items = pt_arena_alloc(ctx->arena, MAX_FORM_ITEMS * sizeof(*out->items));
    out->count = 0;
    if (!pt_str_has_prefix(body, first))
        return web_error(ctx, 400, "bad_body", "multipart body does not start with its boundary");
    const char *p = body.ptr + first.len;
    const char *end = body.ptr + body.len;
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return 0; /* closing delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            break;
        p += 2;
        const char *head_end = find_bytes(p, (size_t)(end - p), PT_STR("\r\n\r\n"));
        if (head_end == NULL)
            break;
        struct pt_str name = PT_STR_NULL;
        struct pt_str heads = pt_str_make(p, (size_t)(head_end - p));
        const char *nm = find_bytes(heads.ptr, heads.len, PT_STR("name=\""));
        if (nm != NULL) {
            nm += 6;
            const char *q = memchr(nm, '"', (size_t)(heads.ptr + heads.len - nm));
            if (q != NULL)
                name = pt_str_make(nm, (size_t)(q - nm));
        }
        const char *content = head_end + 4;
        const char *next = find_bytes(content, (size_t)(end - content), sep);
        if (next == NULL)
            break;
        if (name.ptr != NULL) {
            if (out->count >= MAX_FORM_ITEMS)
                return web_error(ctx, 400, "bad_body", "too many form fields");
            out->items[out->count].key = name;
            out->items[out->count].value = pt_str_make(content, (size_t)(next - content));
            out->count++;
        }
        p = next + sep.len;
    }
    return web_error(ctx, 400, "bad_body", "the multipart body is malformed");
}

/* A flat JSON object: string values as they are, numbers in shortest form. */
static int parse_json_object(struct web_ctx *ctx, struct pt_str body, struct web_form *out)
{
    json_error_t jerr;
    json_t *root = json_loadb(body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return web_error(ctx, 400, "bad_json", "the JSON body is malformed: %s (line %d)",
                         jerr.text, jerr.line);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = web_error(ctx, 400, "bad_json", "the JSON body must be an object");
        goto out_decref;
    }
    out->items = pt_arena_alloc(ctx->arena, MAX_FORM_ITEMS * sizeof(*out->items));
    out->count = 0;
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value)
    {
        if (out->count >= MAX_FORM_ITEMS) {
            rc = web_error(ctx, 400, "bad_json", "too many members in the JSON body");
            goto out_decref;
        }
        struct pt_buf text;
        pt_buf_init(&text, 4096);
        if (json_is_string(value)) {
            pt_buf_append(&text, json_string_value(value), json_string_length(value));
        } else if (json_is_integer(value)) {
            pt_buf_appendf(&text, "%lld", (long long)json_integer_value(value));
        } else if (json_is_real(value)) {
            struct web_json j;
            web_json_init(&j, &text);
            web_json_double(&j, json_real_value(value));
        } else if (json_is_true(value) || json_is_false(value) || json_is_null(value)) {
            pt_buf_appendf(&text, "%s",
                           json_is_true(value) ? "true" : json_is_false(value) ? "false" : "null");
        } else {
            pt_buf_deinit(&text);
            rc = web_error(ctx, 400, "bad_json", "member \"%s\" must be a string or a number",
                           key);
            goto out_decref;
        }
        out->items[out->count].key.ptr = pt_arena_strndup(ctx->arena, key, strlen(key));
        out->items[out->count].key.len = strlen(key);
        out->items[out->count].value.ptr = pt_arena_strndup(ctx->arena, text.data ? text.data : "",
                                                             text.len);
        out->items[out->count].value.len = text.len;
        out->count++;
        pt_buf_deinit(&text);
    }
out_decref:
    json_decref(root);
    return rc;
}

int web_body_form(struct web_ctx *ctx, struct web_form *out)
{
    struct pt_str ct = web_header(ctx, "Content-Type");
    struct pt_str type = media_type(ct);
    struct pt_str body = ctx->req->body;
    if (type.len == 0 || pt_str_eq_nocase(type, PT_STR("application/x-www-form-urlencoded"))) {
        int rc = web_form_parse(body, ctx->arena, MAX_FORM_ITEMS, out);
        if (rc < 0)
            return web_error(ctx, 400, "bad_body", "the form body is malformed");
        return 0;
    }
    if (pt_str_eq_nocase(type, PT_STR("application/json")))
        return parse_json_object(ctx, body, out);
    if (pt_str_eq_nocase(type, PT_STR("multipart/form-data")))
        return parse_multipart(ctx, body, ct_param(ct, PT_STR("boundary")), out);
    return web_error(ctx, 415, "unsupported_media_type",
                     "send application/x-www-form-urlencoded, multipart/form-data or "
                     "application/json");
}

/* ------------------------------------------------------------- session */

bool web_request_is_https(const struct web_ctx *ctx)
{
    if (!ctx->app->cfg.trust_proxy)
        return false;
    struct pt_str proto = web_header(ctx, "X-Forwarded-Proto");
    if (proto.ptr != NULL)
        return pt_str_eq_nocase(pt_str_trim(proto), PT_STR("https"));
    /* RFC 7239: Forwarded: for=...;proto=https (the first element is enough here). */
    struct pt_str fwd = web_header(ctx, "Forwarded");
    for (size_t i = 0; fwd.ptr != NULL && i + 11 <= fwd.len; i++) {
        if ((i == 0 || fwd.ptr[i - 1] == ';' || fwd.ptr[i - 1] == ' ' || fwd.ptr[i - 1] == ',') &&
            pt_str_eq_nocase(pt_str_make(fwd.ptr + i, 6), PT_STR("proto=")))
            return pt_str_eq_nocase(pt_str_make(fwd.ptr + i + 6, 5), PT_STR("https"));
    }
    return false;
}

struct pt_str web_session_get(struct web_ctx *ctx)
{
    ctx->session_used = true;
    if (ctx->session_loaded)
        return ctx->session;
    ctx->session_loaded = true;
    ctx->session = PT_STR_NULL;
    struct pt_str cookies = web_header(ctx, "Cookie");
    struct pt_str token;
    if (cookies.ptr == NULL || !web_cookie_find(cookies, PT_STR(WEB_SESSION_COOKIE), &token))
        return ctx->session;
    struct pt_str payload;
    if (web_session_open(&ctx->app->cfg.session_key, token, (int64_t)time(NULL), ctx->arena,
                         &payload) == 0)
        ctx->session = payload;
    return ctx->session;
}

int web_session_put(struct web_ctx *ctx, struct pt_str payload)
{
    struct pt_buf token;
    pt_buf_init(&token, 8192);
    int64_t max_age = ctx->app->cfg.session_max_age_s;
    int rc = web_session_seal(&ctx->app->cfg.session_key, payload, (int64_t)time(NULL) + max_age,
                              &token);
    if (rc == 0) {
        bool secure = ctx->app->cfg.cookie_secure || web_request_is_https(ctx);
        web_header_add(ctx, "Set-Cookie: %s=%.*s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Lax%s",
                       WEB_SESSION_COOKIE, (int)token.len, token.data, (long long)max_age,
                       secure ? "; Secure" : "");
        ctx->session_used = true;
        ctx->session_loaded = true;
        ctx->session = pt_str_make(pt_arena_strndup(ctx->arena, payload.ptr, payload.len),
                                   payload.len);
    }
    pt_buf_deinit(&token);
    return rc;
}

/* ------------------------------------------------------------- access log */

static void log_access(void *data)
{
    struct web_ctx *ctx = data;
    const struct http_request *req = ctx->req;
    uint64_t ms = pt_clock_mono_ms() - ctx->start_mono_ms;
    pt_log_info("%s \"%.*s %.*s\" %d %llums", req->peer, (int)req->head.method.len,
                req->head.method.ptr, (int)req->head.target.len, req->head.target.ptr,
                ctx->status, (unsigned long long)ms);
}

int web_mw_access_log(struct web_ctx *ctx)
{
    if (ctx->app->cfg.access_log) {
        ctx->start_mono_ms = pt_clock_mono_ms();
        pt_arena_defer(ctx->arena, log_access, ctx);
    }
    return WEB_NEXT;
}
