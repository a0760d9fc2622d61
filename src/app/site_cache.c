/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * site_cache.c -- the sites that `site=` asked for lately, so that an
 * observer route does not go to the store on every request (it cost as much
 * as computing the answer; bench/RESULTS.md).
 *
 * Keyed by who asked (a session's owner, or a bearer token's hash) and the
 * site id; each entry also knows the owner, and every change to an owner's
 * sites -- made here, relayed by the master from another worker, or heard
 * through Redis from another instance (app_owner_changed) -- forgets that
 * owner's entries everywhere. A revoked token counts as a change of its
 * owner. Entries also expire after TTL_S, which bounds what instances that
 * share a database without sharing Redis can see stale.
 *
 * Direct-mapped, fixed size; loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "store/store.h"

#define SLOTS 1024
#define TTL_S 5.0

struct entry {
    bool used;
    bool bearer;
    char who[STORE_TOKEN_HASH_LEN + 1];   /* owner id or token hash */
    char owner[STORE_OWNER_LEN + 1];
    int64_t id;
    double expires;
    struct store_site site;               /* notes: not kept (NULL) */
};

struct app_site_cache {
    struct entry slots[SLOTS];
    uint64_t hits, misses;
};

struct app_site_cache *app_site_cache_new(void)
{
    return pt_xcalloc(1, sizeof(struct app_site_cache));
}

void app_site_cache_free(struct app_site_cache *c)
{
    free(c);
}

static const char *who_of(const struct store_auth *auth)
{
    return auth->bearer ? auth->token_hash : auth->owner;
}

static struct entry *slot(struct app_site_cache *c, const struct store_auth *auth, int64_t id)
{
    const char *who = who_of(auth);
    uint64_t h = pt_hash_bytes(PT_HASH_SEED, who, strlen(who));
    h = pt_hash_bytes(h, &id, sizeof(id));
    return &c->slots[h % SLOTS];
}

const struct store_site *app_site_cache_get(struct app_site_cache *c,
                                            const struct store_auth *auth, int64_t id)
{
    struct entry *e = slot(c, auth, id);
    if (e->used && e->id == id && e->bearer == auth->bearer &&
        strcmp(e->who, who_of(auth)) == 0 && pt_clock_unix_s() < e->expires) {
        c->hits++;
        return &e->site;
    }
    c->misses++;
    return NULL;
}

void app_site_cache_put(struct app_site_cache *c, const struct store_auth *auth,
                        const char *owner, const struct store_site *site)
{
    struct entry *e = slot(c, auth, site->id);
    e->used = true;
    e->bearer = auth->bearer;
    snprintf(e->who, sizeof(e->who), "%s", who_of(auth));
    snprintf(e->owner, sizeof(e->owner), "%s", owner);
    e->id = site->id;
    e->expires = pt_clock_unix_s() + TTL_S;
    e->site = *site;
    e->site.notes = NULL;
}

void app_site_cache_forget_owner(struct app_site_cache *c, const char *owner)
{
    for (size_t i = 0; i < SLOTS; i++)
        if (c->slots[i].used && strcmp(c->slots[i].owner, owner) == 0)
            c->slots[i].used = false;
}

void app_site_cache_stats(const struct app_site_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = c->hits;
    *misses = c->misses;
}

void app_owner_changed(const struct app_state *st, const char *owner)
{
    if (st->site_cache != NULL)
        app_site_cache_forget_owner(st->site_cache, owner);
    if (st->owners != NULL)
        live_owners_changed(st->owners, owner);
}
