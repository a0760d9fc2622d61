/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_announce.c -- `planettracker announce TEXT [--ttl S]`: an operator's
 * announcement ("Clouds clearing after 22:00, club dome open"), published on
 * the fan-out's "announce" channel; every server subscribed to the same Redis
 * shows it on every open page until it expires (and to pages that open
 * before then). Exits once Redis acknowledged the publish.
 *
 * Exit status: 0 published; 2 Redis could not be reached in time; 64 usage.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <openssl/rand.h>

#include "app/app.h"
#include "pubsub/pubsub.h"

#define TEXT_MAX_CHARS 280
#define TTL_MAX_S (7 * 86400)
#define PUBLISH_TIMEOUT_MS 10000

static const char announce_usage[] =
    "usage: planettracker announce TEXT [--ttl SECONDS] [--redis-url URL] [--redis-prefix P]\n"
    "\n"
    "Show TEXT (up to 280 characters) on every open page of every server that shares the\n"
    "Redis of REDIS_URL, for --ttl seconds (default 3600, at most a week).\n";

struct announce_run {
    struct pubsub *ps;
    uv_timer_t timer;
    bool published;
};

static void on_check(uv_timer_t *t)
{
    struct announce_run *r = t->data;
    struct pubsub_stats s;
    pubsub_stats(r->ps, &s);
    if (s.published > 0 || uv_now(t->loop) >= PUBLISH_TIMEOUT_MS) {
        r->published = s.published > 0;
        if (!r->published)
            fprintf(stderr, "planettracker announce: Redis did not take it within %d s%s%s\n",
                    PUBLISH_TIMEOUT_MS / 1000, s.last_error[0] ? ": " : "", s.last_error);
        uv_close((uv_handle_t *)t, NULL);
        pubsub_close(r->ps);
    }
}

static bool text_ok(const char *s)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
        chars += (*p & 0xc0) != 0x80;
    }
    return chars >= 1 && chars <= TEXT_MAX_CHARS;
}

/* {"text", "id", "expires_unix", "expires"}: what every stream shows. */
static char *announcement_json(const char *text, double ttl_s, char iso[40])
{
    unsigned char raw[8];
    char id[17];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return NULL;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(id + 2 * i, 3, "%02x", raw[i]);
    double expires = pt_clock_unix_s() + ttl_s;
    time_t secs = (time_t)expires;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(iso, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *doc = json_pack("{s:s,s:s,s:f,s:s}", "text", text, "id", id, "expires_unix",
                            expires, "expires", iso);
    char *out = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return out;
}

int app_cmd_announce(int argc, char **argv)
{
    const char *text = NULL, *url = getenv("REDIS_URL"), *prefix = "planettracker:";
    double ttl = 3600;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(announce_usage, stdout);
            return 0;
        } else if (strcmp(a, "--ttl") == 0 && v != NULL &&
                   pt_str_to_double(pt_str_c(v), &ttl) == 0 && ttl >= 1 && ttl <= TTL_MAX_S) {
            i++;
        } else if (strcmp(a, "--redis-url") == 0 && v != NULL) {
            url = v;
            i++;
        } else if (strcmp(a, "--redis-prefix") == 0 && v != NULL) {
            prefix = v;
            i++;
        } else if (a[0] != '-' && text == NULL) {
            text = a;
        } else {
            fprintf(stderr, "planettracker announce: bad option or value: %s\n%s", a,
                    announce_usage);
            return EX_USAGE;
        }
    }
    if (text == NULL || !text_ok(text)) {
        fprintf(stderr, "planettracker announce: the text must have 1 to %d characters, no "
                        "control characters\n%s", TEXT_MAX_CHARS, announce_usage);
        return EX_USAGE;
    }
    if (url == NULL || *url == '\0') {
        fprintf(stderr, "planettracker announce: no Redis to publish to: set REDIS_URL or "
                        "--redis-url (the servers must share it)\n");
        return EX_USAGE;
    }
    char until[40];
    char *json = announcement_json(text, ttl, until);
    if (json == NULL)
        return 1;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct pubsub_config cfg = {.url = url, .channel_prefix = prefix};
    struct announce_run r = {.ps = pubsub_redis_open(&loop, &cfg)};
    int rc = EX_USAGE;
    if (r.ps != NULL) {
        pubsub_publish(r.ps, "announce", pt_str_c(json));
        uv_timer_init(&loop, &r.timer);
        r.timer.data = &r;
        uv_timer_start(&r.timer, on_check, 20, 20);
        uv_run(&loop, UV_RUN_DEFAULT);
        pubsub_free(r.ps);
        rc = r.published ? 0 : 2;
        if (r.published)
            printf("announced until %s\n", until);
    }
    uv_loop_close(&loop);
    free(json);
    return rc;
}
