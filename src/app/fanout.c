/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * fanout.c -- the application's side of src/pubsub: what crosses processes.
 *
 * Two channels (under --redis-prefix): "sites", whose payload is an owner id
 * whose saved sites changed (every process with streams of that owner reads
 * the list again from the shared store and pushes it), and "announce", an
 * operator's announcement as JSON (every process shows it on every open
 * stream, and to streams that open until it expires). A process hears its own
 * publishes too; its local streams were already told, and the second read of
 * a list is harmless.
 *
 * When the subscription comes back after a loss, every owner with an open
 * stream gets its list again: what was published meanwhile is lost by PUBSUB,
 * so state is re-sent, not deltas. Redis down: nothing blocks, live ticks go
 * on, /healthz says degraded.
 *
 * Loop thread only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/app.h"
#include "pubsub/pubsub.h"

struct app_fanout {
    struct pubsub *ps;
    struct app_state *st;
    bool was_up;                  /* the subscription has been live before (a later up = resync) */
    uint64_t resyncs;
};

static void on_message(void *data, const char *channel, struct pt_str payload)
{
    struct app_fanout *f = data;
    if (strcmp(channel, "sites") == 0) {
        if (payload.len == 32 && f->st->owners != NULL) {
            char owner[33];
            memcpy(owner, payload.ptr, 32);
            owner[32] = '\0';
            app_owner_changed(f->st, owner);
        }
    } else if (strcmp(channel, "announce") == 0) {
        json_t *doc = json_loadb(payload.ptr, payload.len, 0, NULL);
        json_t *expires = json_object_get(doc, "expires_unix");
        if (json_is_object(doc) && json_is_string(json_object_get(doc, "text")) &&
            json_is_number(expires))
            live_hub_announce(f->st->live, payload, json_number_value(expires));
        else
            pt_log_warn("fan-out: an announcement that is not ours was ignored");
        json_decref(doc);
    }
}

static void on_state(void *data, bool up)
{
    struct app_fanout *f = data;
    if (up) {
        pt_log_info("fan-out: Redis subscription live%s", f->was_up ? " again: re-sending "
                                                                      "every owner's sites" : "");
        if (f->was_up && f->st->owners != NULL) {
            live_owners_resync(f->st->owners);
            f->resyncs++;
        }
        f->was_up = true;
    } else {
        pt_log_warn("fan-out: Redis subscription lost: live streams go on, changes from other "
                    "processes wait for it");
    }
}

struct app_fanout *app_fanout_open(uv_loop_t *loop, struct app_state *st)
{
    if (st->cfg->redis_url == NULL)
        return NULL;
    struct app_fanout *f = pt_xcalloc(1, sizeof(*f));
    f->st = st;
    struct pubsub_config cfg = {
        .url = st->cfg->redis_url,
        .channel_prefix = st->cfg->redis_prefix,
        .on_message = on_message,
        .on_state = on_state,
        .data = f,
    };
    f->ps = pubsub_redis_open(loop, &cfg);
    if (f->ps == NULL) {
        free(f);
        return NULL;
    }
    if (pubsub_subscribe(f->ps, "sites") != 0 || pubsub_subscribe(f->ps, "announce") != 0)
        pt_log_warn("fan-out: cannot subscribe");
    return f;
}

void app_fanout_close(struct app_fanout *f)
{
    if (f != NULL)
        pubsub_close(f->ps);
}

void app_fanout_free(struct app_fanout *f)
{
    if (f == NULL)
        return;
    pubsub_free(f->ps);
    free(f);
}

void app_fanout_sites_changed(struct app_fanout *f, const char *owner)
{
    if (f != NULL)
        (void)pubsub_publish(f->ps, "sites", pt_str_c(owner));
}

bool app_fanout_health(const struct app_fanout *f, struct web_json *j)
{
    if (f == NULL)
        return true;
    struct pubsub_stats s;
    pubsub_stats(f->ps, &s);
    if (j != NULL) {
        WEB_JSON_KEY(j, "pubsub");
        web_json_object_begin(j);
        WEB_JSON_KEY(j, "engine");
        web_json_cstring(j, s.engine);
        WEB_JSON_KEY(j, "up");
        web_json_bool(j, s.up);
        WEB_JSON_KEY(j, "publish_up");
        web_json_bool(j, s.publish_up);
        WEB_JSON_KEY(j, "reconnects");
        web_json_int(j, (int64_t)s.reconnects);
        WEB_JSON_KEY(j, "last_error");
        web_json_cstring(j, s.last_error[0] != '\0' ? s.last_error : NULL);
        web_json_object_end(j);
    }
    return s.up && s.publish_up;
}

void app_fanout_metrics(const struct app_fanout *f, struct pt_buf *b)
{
    if (f == NULL)
        return;
    struct pubsub_stats s;
    pubsub_stats(f->ps, &s);
    pt_buf_appendf(b,
                   "# HELP planettracker_pubsub_up Whether the Redis subscription is live.\n"
                   "# TYPE planettracker_pubsub_up gauge\n"
                   "planettracker_pubsub_up %d\n"
                   "# HELP planettracker_pubsub_messages_total Fan-out messages published and "
                   "received, and publishes dropped or lost with a connection.\n"
                   "# TYPE planettracker_pubsub_messages_total counter\n"
                   "planettracker_pubsub_messages_total{what=\"published\"} %llu\n"
                   "planettracker_pubsub_messages_total{what=\"received\"} %llu\n"
                   "planettracker_pubsub_messages_total{what=\"dropped\"} %llu\n"
                   "planettracker_pubsub_messages_total{what=\"lost\"} %llu\n"
                   "# HELP planettracker_pubsub_reconnects_total Redis connections made again.\n"
                   "# TYPE planettracker_pubsub_reconnects_total counter\n"
                   "planettracker_pubsub_reconnects_total %llu\n"
                   "# HELP planettracker_pubsub_resyncs_total Times every owner's sites were "
                   "sent again after the subscription came back.\n"
                   "# TYPE planettracker_pubsub_resyncs_total counter\n"
                   "planettracker_pubsub_resyncs_total %llu\n",
                   s.up ? 1 : 0, (unsigned long long)s.published, (unsigned long long)s.received,
                   (unsigned long long)s.dropped, (unsigned long long)s.lost,
                   (unsigned long long)s.reconnects, (unsigned long long)f->resyncs);
}
