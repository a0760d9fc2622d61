/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * clients.c -- per-client accounting of the web layer: who a request comes
 * from (the peer, or behind a trusted proxy the address it forwards), and
 * what each client holds (live streams, executor jobs), so that one client's
 * share is bounded. Loop thread only.
 *
 * Invariant: a client entry exists while it holds a stream or a job, and is
 * freed by web__client_release() as soon as it holds neither.
 */
#include <arpa/inet.h>
#include <stdlib.h>

#include "web/internal.h"

#define DEFAULT_STREAMS_PER_CLIENT 64

static size_t bucket_of(uint64_t id)
{
    return pt_hash_bytes(PT_HASH_SEED, &id, sizeof(id)) % WEB_CLIENT_BUCKETS;
}

struct web_client *web__client_get(struct web_app *app, uint64_t id)
{
    struct web_client **head = &app->clients[bucket_of(id)];
    for (struct web_client *c = *head; c != NULL; c = c->next)
        if (c->id == id)
            return c;
    struct web_client *c = pt_xcalloc(1, sizeof(*c));
    c->id = id;
    c->next = *head;
    *head = c;
    return c;
}

void web__client_release(struct web_app *app, struct web_client *c)
{
    if (c->streams > 0 || c->jobs > 0)
        return;
    for (struct web_client **pp = &app->clients[bucket_of(c->id)]; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            free(c);
            return;
        }
    }
}

/* The same numbering as the http layer's peer ids: IPv4 as is, IPv6 by its /64. */
static bool parse_client_address(struct pt_str text, uint64_t *id)
{
    char buf[INET6_ADDRSTRLEN + 1];
    text = pt_str_trim(text);
    if (text.len == 0 || text.len >= sizeof(buf))
        return false;
    memcpy(buf, text.ptr, text.len);
    buf[text.len] = '\0';
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        *id = ntohl(a4.s_addr);
        return true;
    }
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | a6.s6_addr[i];
        *id = v | 1ull << 63 | 1;
        return true;
    }
    return false;
}

uint64_t web_client_id(const struct web_ctx *ctx)
{
    if (ctx->app->cfg.trust_proxy) {
        /* The last entry is the one our proxy appended: the address it saw. */
        struct pt_str xff = web_header(ctx, "X-Forwarded-For");
        if (xff.ptr != NULL) {
            size_t i = xff.len;
            while (i > 0 && xff.ptr[i - 1] != ',')
                i--;
            uint64_t id;
            if (parse_client_address(pt_str_make(xff.ptr + i, xff.len - i), &id))
                return id;
        }
    }
    return ctx->req->peer_id;
}

struct web_client *web__stream_slot_take(struct web_ctx *ctx)
{
    struct web_app *app = ctx->app;
    size_t cap = app->cfg.max_streams_per_client > 0 ? app->cfg.max_streams_per_client
                                                     : DEFAULT_STREAMS_PER_CLIENT;
    struct web_client *c = web__client_get(app, web_client_id(ctx));
    if (c->streams >= cap) {
        web__client_release(app, c);
        app->stats.streams_refused++;
        web_header_add(ctx, "Retry-After: 5");
        web_error(ctx, 429, "too_many_streams",
                  "this client already holds %zu live streams (the limit)", cap);
        return NULL;
    }
    c->streams++;
    app->stats.streams++;
    return c;
}

void web__stream_slot_give(struct web_app *app, struct web_client *c)
{
    c->streams--;
    app->stats.streams--;
    web__client_release(app, c);
}
