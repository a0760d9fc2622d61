/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * eop.c -- PlanetTracker's Earth-orientation data: which table is in use (the one
 * compiled in, or a newer copy downloaded earlier into --data-dir), what /healthz
 * says about it, and the provenance members of every answer.
 *
 * The table itself lives in the astro context (astro_ctx_set_eop) and is
 * immutable; this file only chooses and describes it. Loop thread, except
 * app_render_eop, which reads only the immutable table (any thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"

#define MJD_UNIX_EPOCH 40587
/* Predictions this old (days past the last observation) make the health degraded. */
#define STALE_DAYS 30

/* The table kept in data_dir by an earlier download, or NULL. */
static struct astro_eop *load_saved(const char *data_dir, struct pt_buf *leap_text)
{
    if (data_dir == NULL)
        return NULL;
    char fpath[4096], lpath[4096];
    snprintf(fpath, sizeof(fpath), "%s/%s", data_dir, APP_EOP_FINALS_FILE);
    snprintf(lpath, sizeof(lpath), "%s/%s", data_dir, APP_EOP_LEAP_FILE);
    struct pt_buf f, l;
    pt_buf_init(&f, APP_EOP_MAX_BYTES);
    pt_buf_init(&l, APP_EOP_MAX_BYTES);
    if (pt_buf_read_file(&f, fpath, APP_EOP_MAX_BYTES) < 0 ||
        pt_buf_read_file(&l, lpath, APP_EOP_MAX_BYTES) < 0) {
        pt_buf_deinit(&f);
        pt_buf_deinit(&l);
        return NULL;
    }
    struct astro_eop *e = NULL;
    char why[200];
    if (astro_eop_parse(pt_buf_str(&f), pt_buf_str(&l), &e, why, sizeof(why)) < 0) {
        pt_log_warn("Earth orientation: ignoring the copy in %s: %s", data_dir, why);
        e = NULL;
        pt_buf_deinit(&l);
    } else {
        *leap_text = l;
    }
    pt_buf_deinit(&f);
    return e;
}

int app_eop_init(struct app_eop *eop, struct astro_ctx *astro, const char *data_dir)
{
    memset(eop, 0, sizeof(*eop));
    char why[200];
    struct astro_eop *e = NULL;
    if (astro_eop_parse(app_eop_embedded_finals(), app_eop_embedded_leap_seconds(), &e, why,
                        sizeof(why)) < 0) {
        pt_log_error("Earth orientation: the data compiled in does not parse: %s", why);
        return PT_E_INVALID;
    }
    snprintf(eop->origin, sizeof(eop->origin), "built-in (data/iers)");
    struct pt_buf saved_leap = {0};
    struct astro_eop *saved = load_saved(data_dir, &saved_leap);
    if (saved != NULL) {
        struct astro_eop_info a, b;
        astro_eop_info(e, &a);
        astro_eop_info(saved, &b);
        if (b.last_observed_mjd >= a.last_observed_mjd) {
            astro_eop_free(e);
            e = saved;
            saved = NULL;
            snprintf(eop->origin, sizeof(eop->origin), "%s/%s", data_dir, APP_EOP_FINALS_FILE);
            eop->leap_text = saved_leap;
            saved_leap = (struct pt_buf){0};
        }
    }
    astro_eop_free(saved);
    pt_buf_deinit(&saved_leap);
    if (eop->leap_text.data == NULL) {
        struct pt_str l = app_eop_embedded_leap_seconds();
        pt_buf_init(&eop->leap_text, APP_EOP_MAX_BYTES);
        pt_buf_append_str(&eop->leap_text, l);
    }
    astro_ctx_set_eop(astro, e);
    struct astro_eop_info info;
    astro_eop_info(e, &info);
    char last[11], end[11];
    astro_mjd_format(info.last_observed_mjd, last);
    astro_mjd_format(info.last_mjd, end);
    pt_log_info("Earth orientation: %s, observed to %s, predicted to %s", eop->origin, last, end);
    return 0;
}

void app_eop_deinit(struct app_eop *eop)
{
    pt_buf_deinit(&eop->leap_text);
}

int32_t app_mjd_now(void)
{
    return (int32_t)floor(pt_clock_unix_s() / 86400.0) + MJD_UNIX_EPOCH;
}

/* ------------------------------------------------------------- answers */

double app_round_us(double s)
{
    /* 0.1 us: far below what the data knows (its last digit is 0.1 us), and the
     * shortest digits stay short ("-0.0658048", not "-0.06580479999999511"). */
    return isfinite(s) ? round(s * 1e7) / 1e7 : s;
}

void app_render_eop(struct web_json *j, const struct astro_ctx *astro, const struct astro_time *t)
{
    WEB_JSON_KEY(j, "ut1_utc_s");
    web_json_double(j, app_round_us(t->ut1_utc_s));
    WEB_JSON_KEY(j, "polar_motion_as");
    web_json_array_begin(j);
    web_json_double(j, app_round_us(t->xp_as)); /* 0.1 uas, for short digits too */
    web_json_double(j, app_round_us(t->yp_as));
    web_json_array_end(j);
    WEB_JSON_KEY(j, "eop");
    web_json_object_begin(j);
    WEB_JSON_KEY(j, "source");
    web_json_cstring(j, astro_eop_source_name(t->eop));
    WEB_JSON_KEY(j, "file_date");
    const struct astro_eop *e = astro_ctx_eop(astro);
    if (e != NULL) {
        struct astro_eop_info info;
        astro_eop_info(e, &info);
        web_json_cstring(j, info.file_date);
    } else {
        web_json_null(j);
    }
    web_json_object_end(j);
}

/* ------------------------------------------------------------- health */

/* What is wrong with the data in use today, one sentence per problem, into warn[]. */
static size_t eop_problems(const struct astro_eop_info *info, int32_t today, char warn[3][160])
{
    size_t n = 0;
    if (today - info->last_observed_mjd > STALE_DAYS)
        snprintf(warn[n++], 160,
                 "UT1 and polar motion for today are predictions made %d days ago "
                 "(errors grow past 0.17\" after 30 days)",
                 today - info->last_observed_mjd);
    if (today > info->last_mjd)
        snprintf(warn[n++], 160, "the predictions have ended: UT1 from a Delta T model");
    if (today > info->leap_expires_mjd)
        snprintf(warn[n++], 160,
                 "the leap-second table has expired: a leap second may be missing");
    return n;
}

bool app_eop_health(const struct app_state *st, struct web_json *j)
{
    const struct astro_eop *e = astro_ctx_eop(st->astro);
    if (e == NULL) {
        if (j != NULL) {
            WEB_JSON_KEY(j, "eop");
            web_json_object_begin(j);
            WEB_JSON_KEY(j, "warnings");
            web_json_array_begin(j);
            web_json_cstring(j, "no Earth-orientation data: UT1 from a Delta T model");
            web_json_array_end(j);
            web_json_object_end(j);
        }
        return false;
    }
    struct astro_eop_info info;
    astro_eop_info(e, &info);
    int32_t today = app_mjd_now();
    char warn[3][160];
    size_t nwarn = eop_problems(&info, today, warn);
    if (j == NULL)
        return nwarn == 0;
    char d[11];
    WEB_JSON_KEY(j, "eop");
    web_json_object_begin(j);
    WEB_JSON_KEY(j, "origin");
    web_json_cstring(j, st->eop->origin);
    WEB_JSON_KEY(j, "file_date");
    web_json_cstring(j, info.file_date);
    WEB_JSON_KEY(j, "last_observed");
    astro_mjd_format(info.last_observed_mjd, d);
    web_json_cstring(j, d);
    WEB_JSON_KEY(j, "predictions_end");
    astro_mjd_format(info.last_mjd, d);
    web_json_cstring(j, d);
    WEB_JSON_KEY(j, "leap_seconds_expire");
    astro_mjd_format(info.leap_expires_mjd, d);
    web_json_cstring(j, d);
    WEB_JSON_KEY(j, "tai_utc_s");
    web_json_int(j, info.tai_utc_last_s);
    WEB_JSON_KEY(j, "prediction_age_days");
    web_json_int(j, today - info.last_observed_mjd);
    WEB_JSON_KEY(j, "updates_ok");
    web_json_int(j, (int64_t)st->eop->updates_ok);
    WEB_JSON_KEY(j, "updates_failed");
    web_json_int(j, (int64_t)st->eop->updates_failed);
    WEB_JSON_KEY(j, "updates_unchanged");
    web_json_int(j, (int64_t)st->eop->updates_unchanged);
    WEB_JSON_KEY(j, "updater");
    web_json_cstring(j, st->eop->updater != NULL ? st->cfg->eop_url : "off");
    WEB_JSON_KEY(j, "last_update");
    if (st->eop->last_ok_unix_s > 0) {
        char when[32];
        time_t t = (time_t)st->eop->last_ok_unix_s;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        web_json_cstring(j, when);
    } else {
        web_json_null(j);
    }
    if (st->eop->last_error[0] != '\0') {
        WEB_JSON_KEY(j, "last_error");
        web_json_cstring(j, st->eop->last_error);
    }
    WEB_JSON_KEY(j, "warnings");
    web_json_array_begin(j);
    for (size_t i = 0; i < nwarn; i++)
        web_json_cstring(j, warn[i]);
    web_json_array_end(j);
    web_json_object_end(j);
    return nwarn == 0;
}

/* ------------------------------------------------------------- metrics */

void app_eop_metrics(const struct app_state *st, struct pt_buf *b)
{
    const struct app_eop *rec = st->eop;
    pt_buf_appendf(b,
                   "# HELP planettracker_eop_updates_total Earth-orientation update cycles, by "
                   "result.\n"
                   "# TYPE planettracker_eop_updates_total counter\n"
                   "planettracker_eop_updates_total{result=\"ok\"} %llu\n"
                   "planettracker_eop_updates_total{result=\"unchanged\"} %llu\n"
                   "planettracker_eop_updates_total{result=\"failed\"} %llu\n"
                   "# HELP planettracker_eop_last_update_timestamp_seconds When data was last "
                   "applied by the updater (0: never).\n"
                   "# TYPE planettracker_eop_last_update_timestamp_seconds gauge\n"
                   "planettracker_eop_last_update_timestamp_seconds %.0f\n",
                   (unsigned long long)rec->updates_ok, (unsigned long long)rec->updates_unchanged,
                   (unsigned long long)rec->updates_failed, rec->last_ok_unix_s);
    const struct astro_eop *e = astro_ctx_eop(st->astro);
    if (e == NULL)
        return;
    struct astro_eop_info info;
    astro_eop_info(e, &info);
    int32_t today = app_mjd_now();
    pt_buf_appendf(b,
                   "# HELP planettracker_eop_prediction_age_days Days from the last observed "
                   "day of the data in use to today.\n"
                   "# TYPE planettracker_eop_prediction_age_days gauge\n"
                   "planettracker_eop_prediction_age_days %d\n"
                   "# HELP planettracker_eop_predictions_left_days Days of predictions left "
                   "after today.\n"
                   "# TYPE planettracker_eop_predictions_left_days gauge\n"
                   "planettracker_eop_predictions_left_days %d\n"
                   "# HELP planettracker_leap_seconds_expiry_days Days until the leap-second "
                   "table expires (negative: expired).\n"
                   "# TYPE planettracker_leap_seconds_expiry_days gauge\n"
                   "planettracker_leap_seconds_expiry_days %d\n",
                   today - info.last_observed_mjd, info.last_mjd - today,
                   info.leap_expires_mjd - today);
}
