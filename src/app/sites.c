/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * sites.c -- the saved-sites resource (/api/sites) and API tokens
 * (/api/tokens): who the owner is (a bearer token, else the session's owner
 * id, made on the first write), the body schema that drives validation, the
 * error bodies and /openapi.json, and the answers (ETag = version, If-Match,
 * If-None-Match, Location by URL reversal). The data itself is the store's
 * (src/store): every handler fills a store request, suspends, and answers from
 * its done callback on the loop.
 */
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/app.h"
#include "app/site_body.h"
#include "store/store.h"

#define TOKEN_PREFIX "pt_"
#define TOKEN_HEX 64              /* 32 random bytes */
#define PATCH_ATTEMPTS 10        /* PATCH without If-Match: re-read and re-apply on a race */

/* ---------------------------------------------------------------- owners */

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool is_hex(struct pt_str s, size_t len)
{
    if (s.len != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

/* The session payload as a JSON object (a new one when empty or not an object). */
static json_t *session_object(struct web_ctx *ctx)
{
    struct pt_str payload = web_session_get(ctx);
    json_t *root = payload.len > 0 ? json_loadb(payload.ptr, payload.len, 0, NULL) : NULL;
    if (root != NULL && json_is_object(root))
        return root;
    json_decref(root);
    return json_object();
}

bool app_session_owner(struct web_ctx *ctx, char owner[STORE_OWNER_LEN + 1])
{
    json_t *root = session_object(ctx);
    json_t *v = json_object_get(root, "owner");
    bool ok = json_is_string(v) &&
              is_hex(pt_str_make(json_string_value(v), json_string_length(v)), STORE_OWNER_LEN);
    if (ok)
        memcpy(owner, json_string_value(v), STORE_OWNER_LEN + 1);
    json_decref(root);
    return ok;
}

/* A new owner id for this session, kept beside what the session already holds. */
static int session_new_owner(struct web_ctx *ctx, char owner[STORE_OWNER_LEN + 1])
{
    unsigned char raw[STORE_OWNER_LEN / 2];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return web_error(ctx, 503, "unavailable", "no randomness for a new owner id");
    hex_encode(raw, sizeof(raw), owner);
    json_t *root = session_object(ctx);
    json_object_set_new(root, "owner", json_string(owner));
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    int rc = text != NULL ? web_session_put(ctx, pt_str_c(text)) : PT_E_NOMEM;
    free(text);
    if (rc != 0)
        return web_error(ctx, 500, "internal_error", "the session cannot hold an owner id");
    return 0;
}

static void sha256_hex(struct pt_str s, char out[STORE_TOKEN_HASH_LEN + 1])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s.ptr, s.len, md, &n, EVP_sha256(), NULL);
    hex_encode(md, sizeof(md), out);
}

enum owner_need {
    OWNER_READ,       /* none yet: an empty answer, no query */
    OWNER_WRITE,      /* none yet: make one (session) */
    OWNER_SESSION,    /* a session owner only (tokens are issued from a session) */
};

/*
 * Who asks. Returns 0 with *auth; 1 when there is no owner and need is
 * OWNER_READ; or an error status (401 for a malformed bearer token).
 */
static int request_owner(struct web_ctx *ctx, enum owner_need need, struct store_auth *auth)
{
    memset(auth, 0, sizeof(*auth));
    struct pt_str authz = web_header(ctx, "Authorization");
    if (authz.ptr != NULL) {
        struct pt_str scheme = PT_STR("Bearer ");
        struct pt_str token = pt_str_make(authz.ptr + PT_MIN(authz.len, scheme.len),
                                          authz.len - PT_MIN(authz.len, scheme.len));
        token = pt_str_trim(token);
        bool good = authz.len > scheme.len &&
                    pt_str_eq_nocase(pt_str_make(authz.ptr, scheme.len), scheme) &&
                    token.len == sizeof(TOKEN_PREFIX) - 1 + TOKEN_HEX &&
                    pt_str_has_prefix(token, PT_STR(TOKEN_PREFIX)) &&
                    is_hex(pt_str_make(token.ptr + 3, token.len - 3), TOKEN_HEX);
        if (!good) {
            web_header_add(ctx, "WWW-Authenticate: Bearer error=\"invalid_token\"");
            return web_error(ctx, 401, "unauthorized",
                             "Authorization must be \"Bearer pt_\" and 64 hex digits, a token "
                             "issued by POST /api/tokens");
        }
        if (need == OWNER_SESSION)
            return web_error(ctx, 403, "forbidden",
                             "tokens are issued to a session, not to another token");
        auth->bearer = true;
        sha256_hex(token, auth->token_hash);
        return 0;
    }
    if (app_session_owner(ctx, auth->owner))
        return 0;
    if (need == OWNER_READ)
        return 1;
    return session_new_owner(ctx, auth->owner);
}

int app_stream_auth(struct web_ctx *ctx, struct store_auth *auth)
{
    int rc = request_owner(ctx, OWNER_READ, auth);
    return rc == 0 ? 1 : rc == 1 ? 0 : rc;
}

/* 422 with every error, or 0 when there is none. Frees e's buffer either way. */
static int errors_finish(struct web_ctx *ctx, struct field_errors *e)
{
    int rc = 0;
    web_json_array_end(&e->j);
    if (e->n > 0) {
        rc = web_error(ctx, 422, "invalid_body", "%zu field%s of the body %s invalid", e->n,
                       e->n == 1 ? "" : "s", e->n == 1 ? "is" : "are");
        if (web_json_finish(&e->j) == 0) {
            ctx->error.extra_key = "fields";
            ctx->error.extra_json =
                pt_str_make(pt_arena_strndup(ctx->arena, e->buf.data, e->buf.len), e->buf.len);
        }
    }
    site_errors_deinit(e);
    return rc;
}

/*
 * Read and validate a JSON site body into b (which holds the site to change
 * for PATCH, the defaults otherwise). partial: PATCH (no member required).
 * Returns 0, or 413 / 415 / 400 / 422 with ctx->error filled.
 */
static int parse_site_body(struct web_ctx *ctx, bool partial, struct site_body *b)
{
    const struct app_state *st = ctx->app_data;
    struct pt_str type = web_header(ctx, "Content-Type");
    struct pt_str media = type;
    const char *semi = type.ptr != NULL ? memchr(type.ptr, ';', type.len) : NULL;
    if (semi != NULL)
        media.len = (size_t)(semi - type.ptr);
    media = pt_str_trim(media);
    if (!pt_str_eq_nocase(media, PT_STR("application/json")))
        return web_error(ctx, 415, "unsupported_media_type",
                         "the body must be application/json");
    struct field_errors e;
    char why[200];
    switch (site_body_decode(st->zones, ctx->req->body, partial, b, &e, why, sizeof(why))) {
    case SITE_BODY_OK: break;
    case SITE_BODY_TOO_LARGE:
        site_errors_deinit(&e);
        return web_error(ctx, 413, "body_too_large", "the body may have at most %u bytes",
                         SITE_BODY_MAX_BYTES);
    case SITE_BODY_NOT_JSON:
        site_errors_deinit(&e);
        return web_error(ctx, 400, "invalid_json", "%s", why);
    case SITE_BODY_INVALID: break;
    }
    return errors_finish(ctx, &e);
}

/* ---------------------------------------------------------------- answers */

static void iso_ms(int64_t ms, char out[40])
{
    struct astro_time t = {.unix_s = (double)ms / 1000.0};
    astro_time_format_iso(&t, out);
}

void app_render_site(struct web_json *j, const struct web_router *router, const struct store_site *s)
{
    char t[40];
    web_json_object_begin(j);
    WEB_JSON_KEY(j, "id");
    web_json_int(j, s->id);
    WEB_JSON_KEY(j, "name");
    web_json_cstring(j, s->name);
    WEB_JSON_KEY(j, "lat");
    web_json_double(j, s->lat);
    WEB_JSON_KEY(j, "lon");
    web_json_double(j, s->lon);
    WEB_JSON_KEY(j, "elevation");
    web_json_double(j, s->elevation);
    WEB_JSON_KEY(j, "pressure");
    if (s->has_pressure)
        web_json_double(j, s->pressure);
    else
        web_json_null(j);
    WEB_JSON_KEY(j, "temperature");
    if (s->has_temperature)
        web_json_double(j, s->temperature);
    else
        web_json_null(j);
    WEB_JSON_KEY(j, "horizon_deg");
    web_json_double(j, s->horizon_deg);
    WEB_JSON_KEY(j, "timezone");
    web_json_cstring(j, s->timezone[0] != '\0' ? s->timezone : NULL);
    WEB_JSON_KEY(j, "notes");
    web_json_cstring(j, s->notes != NULL ? s->notes : "");
    WEB_JSON_KEY(j, "created");
    iso_ms(s->created_ms, t);
    web_json_cstring(j, t);
    WEB_JSON_KEY(j, "updated");
    iso_ms(s->updated_ms, t);
    web_json_cstring(j, t);
    WEB_JSON_KEY(j, "version");
    web_json_int(j, s->version);
    WEB_JSON_KEY(j, "url");
    char id[24];
    snprintf(id, sizeof(id), "%lld", (long long)s->id);
    struct web_param p = {PT_STR("id"), pt_str_c(id)};
    struct pt_buf url;
    pt_buf_init(&url, 256);
    if (web_router_url_for(router, "site", &p, 1, &url) == 0)
        web_json_string(j, pt_buf_str(&url));
    else
        web_json_null(j);
    pt_buf_deinit(&url);
    web_json_object_end(j);
}

static void add_etag(struct web_ctx *ctx, int64_t version)
{
    web_header_add(ctx, "ETag: \"v%lld\"", (long long)version);
}

/* Whether a validator list ("\"v3\", \"v4\"" or "*") names this version. */
static bool etag_matches(struct pt_str list, int64_t version)
{
    char want[32];
    int n = snprintf(want, sizeof(want), "\"v%lld\"", (long long)version);
    struct pt_str t = pt_str_trim(list);
    if (pt_str_eq(t, PT_STR("*")))
        return true;
    for (size_t i = 0; i + (size_t)n <= t.len; i++) {
        if (memcmp(t.ptr + i, want, (size_t)n) == 0)
            return true;
    }
    return false;
}

/*
 * If-Match as a version: 0 = none or "*" (the row must exist, any version);
 * -1 when it names no version of ours (then nothing can match: 412).
 */
static int64_t if_match_version(struct web_ctx *ctx, bool *present)
{
    struct pt_str h = web_header(ctx, "If-Match");
    *present = h.ptr != NULL;
    if (h.ptr == NULL)
        return 0;
    h = pt_str_trim(h);
    if (pt_str_eq(h, PT_STR("*")))
        return 0;
    if (h.len < 4 || h.ptr[0] != '"' || h.ptr[1] != 'v' || h.ptr[h.len - 1] != '"')
        return -1;
    int64_t v = 0;
    for (size_t i = 2; i + 1 < h.len; i++) {
        if (h.ptr[i] < '0' || h.ptr[i] > '9' || v > INT64_MAX / 20)
            return -1;
        v = v * 10 + (h.ptr[i] - '0');
    }
    return v > 0 ? v : -1;
}

/* The status and error body for a store result other than STORE_OK. */
static int store_error(struct web_ctx *ctx, const struct store_req *r, const char *what)
{
    const struct app_config *cfg = ((const struct app_state *)ctx->app_data)->cfg;
    switch (r->status) {
    case STORE_OK: break;
    case STORE_NOT_FOUND: return web_error(ctx, 404, "not_found", "no such %s", what);
    case STORE_UNAUTHORIZED:
        web_header_add(ctx, "WWW-Authenticate: Bearer error=\"invalid_token\"");
        return web_error(ctx, 401, "unauthorized", "the bearer token is unknown or revoked");
    case STORE_NAME_TAKEN:
        return web_error(ctx, 409, "name_taken", "another of your sites has that name");
    case STORE_STALE:
        add_etag(ctx, r->current_version);
        return web_error(ctx, 412, "precondition_failed",
                         "the %s has changed (now version %lld): fetch it again", what,
                         (long long)r->current_version);
    case STORE_LIMIT:
        return web_error(ctx, 409, "limit_reached", "you may keep at most %zu %ss", r->op ==
                         STORE_TOKEN_CREATE ? cfg->max_tokens_per_owner : cfg->max_sites_per_owner,
                         what);
    case STORE_UNAVAILABLE:
    case STORE_FAILED:
        web_header_add(ctx, "Retry-After: 2");
        return web_error(ctx, 503, "store_unavailable",
                         "saved sites are unavailable right now; the rest of the API answers");
    }
    return web_error(ctx, 500, "internal_error", "unknown store status");
}

/* ------------------------------------------------------------ the calls */

/* One request's call to the store: lives in the request's arena. */
struct site_call {
    struct store_req req;
    struct web_ctx *ctx;
    struct site_body body;        /* PUT, POST, PATCH: what was sent */
    bool if_match;                /* the client sent If-Match */
    bool patch_fetched;           /* PATCH: the current row is read, the update is next */
    int patch_attempts;
    char token[sizeof(TOKEN_PREFIX) + TOKEN_HEX]; /* POST /api/tokens: the new token */
    char asked_hash[STORE_TOKEN_HASH_LEN + 1];    /* site=: the bearer's hash, for the cache */
};

static struct site_call *call_new(struct web_ctx *ctx, enum store_op op)
{
    struct site_call *c = pt_arena_alloc(ctx->arena, sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    c->req.op = op;
    c->req.data = c;
    return c;
}

static void call_submit(struct site_call *c, store_done_fn done)
{
    const struct app_state *st = c->ctx->app_data;
    c->req.done = done;
    store_submit(st->store, &c->req);
}

/* Suspend the handler on a store call; release what it returned at the answer. */
static void release_call(void *data)
{
    store_req_release(&((struct site_call *)data)->req);
}

static int submit_and_suspend(struct site_call *c, store_done_fn done)
{
    pt_arena_defer(c->ctx->arena, release_call, c);
    call_submit(c, done);
    return WEB_SUSPENDED;
}

/* A site or token id: 1..2^53-1 in decimal digits. False for anything else. */
static bool id_from_text(struct pt_str s, int64_t *id)
{
    if (s.len == 0 || s.len > 16)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (s.ptr[i] - '0');
    }
    if (v <= 0 || v >= (INT64_C(1) << 53))
        return false;
    *id = v;
    return true;
}

/*
 * The {id} of the path and the requester, for the routes on one row: 0, or
 * 404 when the id cannot exist or there is no owner yet (nothing is theirs).
 */
static int id_and_owner(struct web_ctx *ctx, struct site_call *c, const char *what)
{
    if (!id_from_text(web_param(ctx, "id"), &c->req.id))
        return web_error(ctx, 404, "not_found", "no such %s", what);
    int rc = request_owner(ctx, OWNER_READ, &c->req.auth);
    if (rc == 1)
        return web_error(ctx, 404, "not_found", "no such %s", what);
    return rc;
}

static int send_site(struct web_ctx *ctx, int status, const struct store_site *s)
{
    struct web_json j;
    add_etag(ctx, s->version);
    web_header_add(ctx, "Cache-Control: private, no-cache");
    ctx->cache_control_set = true;
    web_json_begin(ctx, &j);
    app_render_site(&j, web_app_router(ctx->app), s);
    return web_send_json(ctx, status, &j);
}

/* A write committed: the owner's open streams get their new list. */
static void announce_change(struct web_ctx *ctx, const struct store_req *r)
{
    const struct app_state *st = ctx->app_data;
    app_owner_changed(st, r->auth.owner);
    /* The other processes' streams: every instance through Redis, else the master's relay. */
    if (st->fanout != NULL)
        app_fanout_sites_changed(st->fanout, r->auth.owner);
    else
        app_worker_link_sites_changed(st->link, r->auth.owner);
}

static void done_site(struct store_req *r)
{
    struct site_call *c = r->data;
    struct web_ctx *ctx = c->ctx;
    if (r->status != STORE_OK) {
        web_resume(ctx, store_error(ctx, r, "site"));
        return;
    }
    int status = r->op == STORE_SITE_CREATE ? 201 : 200;
    if (r->op != STORE_SITE_GET)
        announce_change(ctx, r);
    if (r->op == STORE_SITE_CREATE) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)r->site.id);
        struct web_param p = {PT_STR("id"), pt_str_c(id)};
        struct pt_buf url;
        pt_buf_init(&url, 256);
        if (web_router_url_for(web_app_router(ctx->app), "site", &p, 1, &url) == 0)
            web_header_add(ctx, "Location: %.*s", (int)url.len, url.data);
        pt_buf_deinit(&url);
    }
    if (r->op == STORE_SITE_GET) {
        struct pt_str inm = web_header(ctx, "If-None-Match");
        if (inm.ptr != NULL && etag_matches(inm, r->site.version)) {
            add_etag(ctx, r->site.version);
            web_header_add(ctx, "Cache-Control: private, no-cache");
            ctx->cache_control_set = true;
            ctx->body.len = 0;
            web_resume(ctx, web_send(ctx, 304, NULL));
            return;
        }
    }
    web_resume(ctx, send_site(ctx, status, &r->site));
}

void app_render_sites(struct web_json *j, const struct app_state *st,
                      const struct web_router *router, const struct store_site *sites, size_t n)
{
    WEB_JSON_KEY(j, "sites");
    web_json_array_begin(j);
    for (size_t i = 0; i < n; i++)
        app_render_site(j, router, &sites[i]);
    web_json_array_end(j);
    WEB_JSON_KEY(j, "limit");
    web_json_int(j, (int64_t)st->cfg->max_sites_per_owner);
}

/* {"sites": [...], "limit": n}: the owner's sites (none yet for a new visitor). */
static int send_sites(struct web_ctx *ctx, const struct store_site *sites, size_t n)
{
    const struct app_state *st = ctx->app_data;
    struct web_json j;
    web_header_add(ctx, "Cache-Control: private, no-cache");
    ctx->cache_control_set = true;
    web_json_begin(ctx, &j);
    web_json_object_begin(&j);
    app_render_sites(&j, st, web_app_router(ctx->app), sites, n);
    web_json_object_end(&j);
    return web_send_json(ctx, 200, &j);
}

static void done_list(struct store_req *r)
{
    struct site_call *c = r->data;
    struct web_ctx *ctx = c->ctx;
    web_resume(ctx, r->status != STORE_OK ? store_error(ctx, r, "site")
                                          : send_sites(ctx, r->sites, r->num_sites));
}

static void done_deleted(struct store_req *r)
{
    struct site_call *c = r->data;
    struct web_ctx *ctx = c->ctx;
    if (r->status != STORE_OK) {
        web_resume(ctx, store_error(ctx, r, r->op == STORE_SITE_DELETE ? "site" : "token"));
        return;
    }
    /* A revoked token is a change of its owner: what it read may be cached anywhere. */
    if (r->op == STORE_SITE_DELETE || r->op == STORE_TOKEN_DELETE)
        announce_change(ctx, r);
    ctx->body.len = 0;
    web_resume(ctx, web_send(ctx, 204, NULL));
}

int app_handle_sites_list(struct web_ctx *ctx)
{
    struct site_call *c = call_new(ctx, STORE_SITE_LIST);
    int rc = request_owner(ctx, OWNER_READ, &c->req.auth);
    if (rc == 1) /* no owner yet: nothing saved, and no reason to ask the database */
        return send_sites(ctx, NULL, 0);
    if (rc != 0)
        return rc;
    return submit_and_suspend(c, done_list);
}

int app_handle_site_create(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    struct site_call *c = call_new(ctx, STORE_SITE_CREATE);
    site_defaults(&c->body);
    int rc = parse_site_body(ctx, false, &c->body);
    if (rc != 0 || (rc = request_owner(ctx, OWNER_WRITE, &c->req.auth)) != 0)
        return rc;
    c->req.site = c->body.site;
    c->req.max_per_owner = st->cfg->max_sites_per_owner;
    return submit_and_suspend(c, done_site);
}

int app_handle_site_get(struct web_ctx *ctx)
{
    struct site_call *c = call_new(ctx, STORE_SITE_GET);
    int rc = id_and_owner(ctx, c, "site");
    return rc != 0 ? rc : submit_and_suspend(c, done_site);
}

/* PUT, PATCH and DELETE share the id, the owner and If-Match. */
static int prepare_change(struct web_ctx *ctx, struct site_call *c)
{
    int64_t v = if_match_version(ctx, &c->if_match);
    if (v < 0)
        return web_error(ctx, 412, "precondition_failed",
                         "If-Match names no version of this site (its ETag looks like \"v3\")");
    c->req.if_version = v;
    return id_and_owner(ctx, c, "site");
}

int app_handle_site_put(struct web_ctx *ctx)
{
    struct site_call *c = call_new(ctx, STORE_SITE_UPDATE);
    site_defaults(&c->body);
    int rc = parse_site_body(ctx, false, &c->body);
    if (rc != 0 || (rc = prepare_change(ctx, c)) != 0)
        return rc;
    c->req.site = c->body.site;
    return submit_and_suspend(c, done_site);
}

/*
 * PATCH: read the row, apply the body to it, write it back conditional on the
 * version read (or the one If-Match named). Without If-Match a concurrent
 * change is retried on the newer row a few times; with it, it is a 412.
 */
static void done_patch(struct store_req *r)
{
    struct site_call *c = r->data;
    struct web_ctx *ctx = c->ctx;
    if (r->status == STORE_STALE && !c->if_match && ++c->patch_attempts < PATCH_ATTEMPTS)
        c->patch_fetched = false;
    else if (r->status != STORE_OK || c->patch_fetched) {
        done_site(r);
        return;
    }
    if (!c->patch_fetched && r->op == STORE_SITE_UPDATE) {
        /* A retry: read the newer row first. */
        store_req_release(r);
        r->op = STORE_SITE_GET;
        call_submit(c, done_patch);
        return;
    }
    /* r holds the current row: apply the body to it. */
    if (c->if_match && r->if_version != 0 && r->site.version != r->if_version) {
        r->status = STORE_STALE;
        r->current_version = r->site.version;
        done_site(r);
        return;
    }
    site_defaults(&c->body);
    c->body.site = r->site;
    snprintf(c->body.notes, sizeof(c->body.notes), "%s", r->site.notes);
    c->body.site.notes = c->body.notes;
    int rc = parse_site_body(ctx, true, &c->body);
    if (rc != 0) {
        web_resume(ctx, rc);
        return;
    }
    int64_t version = r->site.version;
    store_req_release(r);
    r->op = STORE_SITE_UPDATE;
    r->site = c->body.site;
    r->if_version = version;
    c->patch_fetched = true;
    call_submit(c, done_patch);
}

int app_handle_site_patch(struct web_ctx *ctx)
{
    struct site_call *c = call_new(ctx, STORE_SITE_GET);
    /* Validate the body once before any query (again on the row read). */
    site_defaults(&c->body);
    int rc = parse_site_body(ctx, true, &c->body);
    if (rc != 0 || (rc = prepare_change(ctx, c)) != 0)
        return rc;
    return submit_and_suspend(c, done_patch);
}

int app_handle_site_delete(struct web_ctx *ctx)
{
    struct site_call *c = call_new(ctx, STORE_SITE_DELETE);
    int rc = prepare_change(ctx, c);
    if (rc != 0)
        return rc;
    return submit_and_suspend(c, done_deleted);
}

/* ---------------------------------------------------------------- tokens */

static void render_token(struct web_json *j, const struct store_token *t, const char *secret)
{
    char created[40];
    iso_ms(t->created_ms, created);
    web_json_object_begin(j);
    WEB_JSON_KEY(j, "id");
    web_json_int(j, t->id);
    WEB_JSON_KEY(j, "name");
    web_json_cstring(j, t->name);
    WEB_JSON_KEY(j, "created");
    web_json_cstring(j, created);
    if (secret != NULL) {
        WEB_JSON_KEY(j, "token");
        web_json_cstring(j, secret);
    }
    web_json_object_end(j);
}

static void done_token(struct store_req *r)
{
    struct site_call *c = r->data;
    struct web_ctx *ctx = c->ctx;
    if (r->status != STORE_OK) {
        web_resume(ctx, store_error(ctx, r, "token"));
        return;
    }
    struct web_json j;
    web_header_add(ctx, "Cache-Control: no-store");
    ctx->cache_control_set = true;
    web_json_begin(ctx, &j);
    if (r->op == STORE_TOKEN_CREATE) {
        render_token(&j, &r->token, c->token);
    } else {
        web_json_object_begin(&j);
        WEB_JSON_KEY(&j, "tokens");
        web_json_array_begin(&j);
        for (size_t i = 0; i < r->num_tokens; i++)
            render_token(&j, &r->tokens[i], NULL);
        web_json_array_end(&j);
        web_json_object_end(&j);
    }
    web_resume(ctx, web_send_json(ctx, r->op == STORE_TOKEN_CREATE ? 201 : 200, &j));
}

/* The token's optional name: {"name": "..."} or no body at all. */
static int parse_token_body(struct web_ctx *ctx, struct store_token *t)
{
    snprintf(t->name, sizeof(t->name), "token");
    struct pt_str body = ctx->req->body;
    if (body.len == 0)
        return 0;
    struct pt_str type = web_header(ctx, "Content-Type");
    if (type.ptr == NULL || !pt_str_has_prefix(type, PT_STR("application/json")))
        return web_error(ctx, 415, "unsupported_media_type", "the body must be application/json");
    if (body.len > SITE_BODY_MAX_BYTES)
        return web_error(ctx, 413, "body_too_large", "the body may have at most %u bytes",
                         SITE_BODY_MAX_BYTES);
    if (site_too_deep(body, 1))
        return web_error(ctx, 400, "invalid_json", "the body must be one flat JSON object");
    json_t *root = json_loadb(body.ptr, body.len, JSON_REJECT_DUPLICATES, NULL);
    struct field_errors e;
    site_errors_init(&e);
    static const struct app_site_field name_field = {"name", APP_FIELD_TEXT, false, false, 1, 64,
                                                     "characters", "What the token is for."};
    if (!json_is_object(root)) {
        site_errors_add(&e, "(body)", NULL, "the body must be a JSON object {\"name\": ...}");
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v) {
            if (strcmp(key, "name") == 0)
                (void)site_text_in_range(&e, &name_field, v, false, t->name, sizeof(t->name));
            else
                site_errors_add(&e, "(body)", NULL, "unknown field: a token has only a name");
        }
    }
    json_decref(root);
    return errors_finish(ctx, &e);
}

int app_handle_token_create(struct web_ctx *ctx)
{
    const struct app_state *st = ctx->app_data;
    struct site_call *c = call_new(ctx, STORE_TOKEN_CREATE);
    int rc = parse_token_body(ctx, &c->req.token);
    if (rc != 0 || (rc = request_owner(ctx, OWNER_SESSION, &c->req.auth)) != 0)
        return rc;
    if (!app_session_owner(ctx, c->req.auth.owner) &&
        (rc = session_new_owner(ctx, c->req.auth.owner)) != 0)
        return rc;
    unsigned char raw[TOKEN_HEX / 2];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return web_error(ctx, 503, "unavailable", "no randomness for a token");
    memcpy(c->token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
    hex_encode(raw, sizeof(raw), c->token + sizeof(TOKEN_PREFIX) - 1);
    sha256_hex(pt_str_c(c->token), c->req.token_hash);
    c->req.max_per_owner = st->cfg->max_tokens_per_owner;
    return submit_and_suspend(c, done_token);
}

int app_handle_tokens_list(struct web_ctx *ctx)
{
    struct site_call *c = call_new(ctx, STORE_TOKEN_LIST);
    int rc = request_owner(ctx, OWNER_READ, &c->req.auth);
    if (rc == 1) {
        c->req.status = STORE_OK;
        c->req.done = done_token;
        done_token(&c->req);
        return WEB_SUSPENDED;
    }
    if (rc != 0)
        return rc;
    return submit_and_suspend(c, done_token);
}

int app_handle_token_delete(struct web_ctx *ctx)
{
    struct site_call *c = call_new(ctx, STORE_TOKEN_DELETE);
    int rc = id_and_owner(ctx, c, "token");
    return rc != 0 ? rc : submit_and_suspend(c, done_deleted);
}

/* ------------------------------------------------ site= on observer routes */

static void done_observer_site(struct store_req *r)
{
    struct site_call *c = r->data;
    struct web_ctx *ctx = c->ctx;
    if (r->status != STORE_OK) {
        web_resume(ctx, r->status == STORE_NOT_FOUND
                            ? web_error(ctx, 404, "not_found",
                                        "site: no site of yours has that id")
                            : store_error(ctx, r, "site"));
        return;
    }
    const struct app_state *st = ctx->app_data;
    if (st->site_cache != NULL) {
        /* Keyed by who asked: the bearer's hash (the token), or the session's owner. */
        struct store_auth asked = r->auth;
        if (asked.bearer)
            memcpy(asked.token_hash, c->asked_hash, sizeof(asked.token_hash));
        app_site_cache_put(st->site_cache, &asked, r->auth.owner, &r->site);
    }
    ctx->local = &r->site;
    web_resume(ctx, web_next(ctx));
}

int app_mw_site(struct web_ctx *ctx)
{
    struct pt_str path = ctx->req->head.path;
    if (!pt_str_has_prefix(path, PT_STR("/planets")) && !pt_str_eq(path, PT_STR("/ws")))
        return WEB_NEXT;
    const struct web_form *q;
    int rc = web_query(ctx, &q);
    if (rc != 0)
        return rc;
    const struct pt_str *site = web_form_get(q, PT_STR("site"));
    if (site == NULL)
        return WEB_NEXT;
    if (web_form_get(q, PT_STR("lat")) != NULL || web_form_get(q, PT_STR("lon")) != NULL)
        return web_error(ctx, 400, "invalid_parameter",
                         "site and lat/lon name the observer twice: give one of them");
    struct site_call *c = call_new(ctx, STORE_SITE_GET);
    if (!id_from_text(*site, &c->req.id))
        return web_error_param(ctx, 400, "site", 1, 9007199254740991.0, "site id",
                               "site must be the id of one of your saved sites");
    rc = request_owner(ctx, OWNER_READ, &c->req.auth);
    if (rc == 1)
        return web_error(ctx, 404, "not_found", "site: no site of yours has that id");
    if (rc != 0)
        return rc;
    const struct app_state *st = ctx->app_data;
    const struct store_site *cached =
        st->site_cache != NULL ? app_site_cache_get(st->site_cache, &c->req.auth, c->req.id)
                               : NULL;
    if (cached != NULL) {
        c->req.site = *cached;
        ctx->local = &c->req.site;
        return WEB_NEXT;
    }
    memcpy(c->asked_hash, c->req.auth.token_hash, sizeof(c->asked_hash));
    return submit_and_suspend(c, done_observer_site);
}
