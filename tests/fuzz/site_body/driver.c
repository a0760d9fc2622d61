/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * driver.c -- libFuzzer target for site_body_decode() (src/app/site_body.c),
 * the decoder of POST/PUT/PATCH /api/sites bodies.
 *
 * The first byte chooses a full body (POST, PUT) or a partial one (PATCH, on
 * top of a stored site); the rest is the body. Invariants: a body the decoder
 * accepts holds only values inside the schema's ranges (a name of 1..64
 * characters of valid UTF-8 without control characters, angles, elevation,
 * weather and horizon in range, a known time zone, notes within their bound,
 * all NUL-terminated); a refused one names at least one field, and its
 * "fields" text is a JSON array of exactly that many objects, each with a
 * field and a message. Nothing leaks (ASan), nothing is read out of bounds.
 *
 * Time zones: a zoneinfo file that does not exist, so only "UTC" is known
 * (the decoder's behaviour does not depend on the list's size).
 *
 * Build and run:
 *   make SANITIZE=address,undefined build/san/fuzz/site_body
 *   build/san/fuzz/site_body -dict=tests/fuzz/site_body/dict -max_total_time=90 \
 *       tests/fuzz/site_body/corpus
 * Replay the seeds and regressions: pass the files (not the directories) as arguments.
 */
#include <jansson.h>
#include <math.h>
#include <string.h>

#include "app/site_body.h"
#include "../check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool valid_text(const char *s, size_t max_chars, bool newlines)
{
    size_t n = 0;
    for (size_t i = 0; s[i] != '\0'; n++) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (k == 0)
            return false;
        if (k == 1 && (c < 0x20 || c == 0x7f) && !(newlines && (c == '\n' || c == '\t' ||
                                                                   c == '\r')))
            return false;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] >> 6) != 2)
                return false;
        i += k;
    }
    return n <= max_chars;
}

static void check_accepted(const struct site_body *b, bool partial)
{
    const struct store_site *s = &b->site;
    CHECK(memchr(s->name, '\0', sizeof(s->name)) != NULL);
    CHECK(valid_text(s->name, 64, false));
    if (!partial)
        CHECK(s->name[0] != '\0');
    CHECK(isfinite(s->lat) && fabs(s->lat) <= 90);
    CHECK(isfinite(s->lon) && fabs(s->lon) <= 180);
    CHECK(s->elevation >= APP_ELEV_MIN_M && s->elevation <= APP_ELEV_MAX_M);
    CHECK(!s->has_pressure ||
          (s->pressure >= APP_PRESSURE_MIN_HPA && s->pressure <= APP_PRESSURE_MAX_HPA));
    CHECK(!s->has_temperature ||
          (s->temperature >= APP_TEMP_MIN_C && s->temperature <= APP_TEMP_MAX_C));
    CHECK(s->horizon_deg >= 0 && s->horizon_deg <= 30);
    CHECK(s->timezone[0] == '\0' || strcmp(s->timezone, "UTC") == 0);
    CHECK(s->notes == b->notes);
    CHECK(memchr(b->notes, '\0', sizeof(b->notes)) != NULL);
    CHECK(valid_text(b->notes, 1000, true));
}

static void check_refused(struct field_errors *e)
{
    CHECK(e->n > 0);
    web_json_array_end(&e->j);
    CHECK(web_json_finish(&e->j) == 0);
    json_t *a = json_loadb(e->buf.data, e->buf.len, 0, NULL);
    CHECK(json_is_array(a) && json_array_size(a) == e->n);
    size_t i;
    json_t *item;
    json_array_foreach(a, i, item) {
        CHECK(json_is_string(json_object_get(item, "field")));
        CHECK(json_is_string(json_object_get(item, "message")));
    }
    json_decref(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct app_zones *zones;
    if (zones == NULL)
        zones = app_zones_load("/nonexistent/tzdata.zi");
    if (size == 0)
        return 0;
    bool partial = data[0] & 1;
    struct pt_str body = pt_str_make((const char *)data + 1, size - 1);
    static struct site_body b;
    site_defaults(&b);
    if (partial) { /* a stored site the PATCH applies to */
        snprintf(b.site.name, sizeof(b.site.name), "Home");
        b.site.lat = 48.85;
        b.site.lon = 2.35;
    }
    struct field_errors e;
    char why[200];
    switch (site_body_decode(zones, body, partial, &b, &e, why, sizeof(why))) {
    case SITE_BODY_OK:
        CHECK(e.n == 0);
        check_accepted(&b, partial);
        break;
    case SITE_BODY_TOO_LARGE: CHECK(body.len > SITE_BODY_MAX_BYTES); break;
    case SITE_BODY_NOT_JSON: CHECK(why[0] != '\0'); break;
    case SITE_BODY_INVALID: check_refused(&e); break;
    }
    site_errors_deinit(&e);
    return 0;
}
