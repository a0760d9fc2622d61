/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * site_body.c -- the body of a saved site (POST, PUT, PATCH /api/sites): the
 * one schema table that drives the checks, the 422 error bodies and
 * /openapi.json, the time-zone names it checks against, and the decoder
 * itself. Pure functions of their input (no request, no loop), so the decoder
 * is what tests/fuzz/site_body drives.
 */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/site_body.h"

/* ---------------------------------------------------------------- schema */

const struct app_site_field app_site_fields[] = {
    {"name", APP_FIELD_TEXT, true, false, 1, 64, "characters",
     "What the owner calls the site; unique among the owner's sites."},
    {"lat", APP_FIELD_LAT, true, false, -90, 90, "degrees",
     "Latitude, north positive: decimal degrees or D:M:S (as /planets)."},
    {"lon", APP_FIELD_LON, true, false, -180, 180, "degrees",
     "Longitude, east positive: decimal degrees or D:M:S (as /planets)."},
    {"elevation", APP_FIELD_NUMBER, false, false, APP_ELEV_MIN_M, APP_ELEV_MAX_M, "metres",
     "Height above sea level; default 0."},
    {"pressure", APP_FIELD_NUMBER, false, true, APP_PRESSURE_MIN_HPA, APP_PRESSURE_MAX_HPA,
     "hPa", "Air pressure for refraction; null or absent: the default (1010 hPa)."},
    {"temperature", APP_FIELD_NUMBER, false, true, APP_TEMP_MIN_C, APP_TEMP_MAX_C,
     "degrees Celsius", "Air temperature for refraction; null or absent: the default (15 C)."},
    {"horizon_deg", APP_FIELD_NUMBER, false, false, 0, 30, "degrees",
     "The site's obstructed horizon (trees, buildings); default 0."},
    {"timezone", APP_FIELD_TIMEZONE, false, true, 1, STORE_TZ_MAX_BYTES, "characters",
     "IANA time zone of the site (\"Europe/Paris\"), checked against the system's zoneinfo; "
     "null or absent: none."},
    {"notes", APP_FIELD_TEXT, false, false, 0, 1000, "characters", "Free text; default empty."},
};
const size_t app_site_num_fields = PT_ARRAY_SIZE(app_site_fields);

/* ------------------------------------------------------------ time zones */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct app_zones {
    char **names;                 /* sorted */
    size_t n;
};

/* Append the name that starts at p (up to a blank or the end of line). */
static void zones_add(struct app_zones *z, size_t *cap, const char *p, const char *end)
{
    const char *e = p;
    while (e < end && *e != ' ' && *e != '\t' && *e != '\n')
        e++;
    if (e == p || (size_t)(e - p) > STORE_TZ_MAX_BYTES)
        return;
    if (z->n == *cap) {
        *cap = *cap > 0 ? *cap * 2 : 512;
        z->names = pt_xrealloc(z->names, *cap * sizeof(*z->names));
    }
    z->names[z->n++] = pt_xstrndup(p, (size_t)(e - p));
}

struct app_zones *app_zones_load(const char *path)
{
    struct app_zones *z = pt_xcalloc(1, sizeof(*z));
    struct pt_buf b;
    pt_buf_init(&b, 4u * 1024 * 1024);
    size_t cap = 0;
    if (pt_buf_read_file(&b, path, 4u * 1024 * 1024) < 0) {
        pt_log_warn("time zones: cannot read %s: only UTC is accepted", path);
    } else {
        /* "Z name ..." is a zone, "L target name" a link: both are valid names. */
        const char *p = b.data, *end = b.data + b.len;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *line_end = nl != NULL ? nl : end;
            if (line_end - p > 2 && p[0] == 'Z' && p[1] == ' ') {
                zones_add(z, &cap, p + 2, line_end);
            } else if (line_end - p > 2 && p[0] == 'L' && p[1] == ' ') {
                const char *sp = memchr(p + 2, ' ', (size_t)(line_end - p - 2));
                if (sp != NULL)
                    zones_add(z, &cap, sp + 1, line_end);
            }
            p = line_end + 1;
        }
    }
    static const char utc[] = "UTC";
    zones_add(z, &cap, utc, utc + sizeof(utc) - 1);
    pt_buf_deinit(&b);
    qsort(z->names, z->n, sizeof(*z->names), cmp_names);
    return z;
}

void app_zones_free(struct app_zones *z)
{
    if (z == NULL)
        return;
    for (size_t i = 0; i < z->n; i++)
        free(z->names[i]);
    free(z->names);
    free(z);
}

bool app_zone_valid(const struct app_zones *z, const char *name)
{
    return bsearch(&name, z->names, z->n, sizeof(*z->names), cmp_names) != NULL;
}

size_t app_zones_count(const struct app_zones *z)
{
    return z->n;
}


/* ---------------------------------------------------------------- bodies */

/* Characters of valid UTF-8 text, or -1 when it is not valid UTF-8 or holds a NUL/control. */
static long utf8_chars(const char *s, size_t len, bool allow_newlines)
{
    long n = 0;
    for (size_t i = 0; i < len; n++) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (k == 0 || i + k > len)
            return -1;
        if (k == 1 && (c < 0x20 || c == 0x7f) && !(allow_newlines && (c == '\n' || c == '\t' ||
                                                                         c == '\r')))
            return -1;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] >> 6) != 2)
                return -1;
        i += k;
    }
    return n;
}

/* Nesting deeper than max anywhere in the text (strings skipped): refused before parsing. */
bool site_too_deep(struct pt_str body, int max)
{
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < body.len; i++) {
        char c = body.ptr[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                return true;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return false;
}


void site_errors_init(struct field_errors *e)
{
    pt_buf_init(&e->buf, 64 * 1024);
    web_json_init(&e->j, &e->buf);
    web_json_array_begin(&e->j);
    e->n = 0;
}

void site_errors_add(struct field_errors *e, const char *field, const struct app_site_field *f,
                       const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    web_json_object_begin(&e->j);
    WEB_JSON_KEY(&e->j, "field");
    web_json_cstring(&e->j, field);
    WEB_JSON_KEY(&e->j, "message");
    web_json_cstring(&e->j, msg);
    if (f != NULL) {
        WEB_JSON_KEY(&e->j, "allowed");
        web_json_object_begin(&e->j);
        WEB_JSON_KEY(&e->j, "min");
        web_json_double(&e->j, f->min);
        WEB_JSON_KEY(&e->j, "max");
        web_json_double(&e->j, f->max);
        WEB_JSON_KEY(&e->j, "unit");
        web_json_cstring(&e->j, f->unit);
        if (f->nullable) {
            WEB_JSON_KEY(&e->j, "nullable");
            web_json_bool(&e->j, true);
        }
        web_json_object_end(&e->j);
    }
    web_json_object_end(&e->j);
    e->n++;
}

/* A number member within the field's range; false after recording the error. */
static bool number_in_range(struct field_errors *e, const struct app_site_field *f, json_t *v,
                            double *out)
{
    if (!json_is_number(v)) {
        site_errors_add(e, f->name, f, "%s must be a number between %g and %g %s", f->name, f->min,
                   f->max, f->unit);
        return false;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || d < f->min || d > f->max) {
        site_errors_add(e, f->name, f, "%s must be between %g and %g %s", f->name, f->min, f->max,
                   f->unit);
        return false;
    }
    *out = d;
    return true;
}

/* An angle member: a number, or a string in decimal degrees or D:M:S. */
static bool angle_in_range(struct field_errors *e, const struct app_site_field *f, json_t *v,
                           double *out)
{
    if (json_is_string(v)) {
        double d;
        if (astro_angle_parse(pt_str_make(json_string_value(v), json_string_length(v)), &d) < 0 ||
            d < f->min || d > f->max) {
            site_errors_add(e, f->name, f, "%s must be decimal degrees or D:M:S between %g and %g",
                       f->name, f->min, f->max);
            return false;
        }
        *out = d;
        return true;
    }
    return number_in_range(e, f, v, out);
}

/* A text member of at most f->max characters (and at least f->min) into out[size]. */
bool site_text_in_range(struct field_errors *e, const struct app_site_field *f, json_t *v,
                          bool newlines, char *out, size_t size)
{
    if (!json_is_string(v)) {
        site_errors_add(e, f->name, f, "%s must be a string of %g to %g characters", f->name, f->min,
                   f->max);
        return false;
    }
    long n = utf8_chars(json_string_value(v), json_string_length(v), newlines);
    if (n < 0) {
        site_errors_add(e, f->name, f, "%s must be text without control characters", f->name);
        return false;
    }
    if (n < (long)f->min || n > (long)f->max || json_string_length(v) >= size) {
        site_errors_add(e, f->name, f, "%s must have %g to %g characters", f->name, f->min, f->max);
        return false;
    }
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return true;
}


/* Apply one member to the site (field i of the schema). */
static void apply_field(struct field_errors *e, const struct app_zones *zones, size_t i, json_t *v,
                        struct site_body *b)
{
    const struct app_site_field *f = &app_site_fields[i];
    struct store_site *s = &b->site;
    if (json_is_null(v)) {
        if (!f->nullable) {
            site_errors_add(e, f->name, f, "%s may not be null", f->name);
        } else if (strcmp(f->name, "pressure") == 0) {
            s->has_pressure = false;
        } else if (strcmp(f->name, "temperature") == 0) {
            s->has_temperature = false;
        } else if (strcmp(f->name, "timezone") == 0) {
            s->timezone[0] = '\0';
        }
        return;
    }
    switch (i) {
    case 0: (void)site_text_in_range(e, f, v, false, s->name, sizeof(s->name)); break;
    case 1: (void)angle_in_range(e, f, v, &s->lat); break;
    case 2: (void)angle_in_range(e, f, v, &s->lon); break;
    case 3: (void)number_in_range(e, f, v, &s->elevation); break;
    case 4: s->has_pressure = number_in_range(e, f, v, &s->pressure); break;
    case 5: s->has_temperature = number_in_range(e, f, v, &s->temperature); break;
    case 6: (void)number_in_range(e, f, v, &s->horizon_deg); break;
    case 7: {
        char tz[STORE_TZ_MAX_BYTES + 1];
        if (site_text_in_range(e, f, v, false, tz, sizeof(tz))) {
            if (app_zone_valid(zones, tz))
                memcpy(s->timezone, tz, sizeof(tz));
            else
                site_errors_add(e, f->name, NULL,
                           "timezone must be an IANA zone name known to this system's zoneinfo "
                           "(\"Europe/Paris\", \"UTC\")");
        }
        break;
    }
    case 8: (void)site_text_in_range(e, f, v, true, b->notes, sizeof(b->notes)); break;
    default: break;
    }
}

/* A new site's defaults (POST, PUT): what absent optional members mean. */
void site_defaults(struct site_body *b)
{
    memset(&b->site, 0, sizeof(b->site));
    b->notes[0] = '\0';
    b->site.notes = b->notes;
}

void site_errors_deinit(struct field_errors *e)
{
    pt_buf_deinit(&e->buf);
}

enum site_body_rc site_body_decode(const struct app_zones *zones, struct pt_str body, bool partial,
                                   struct site_body *b, struct field_errors *e, char *why,
                                   size_t why_size)
{
    site_errors_init(e);
    why[0] = '\0';
    if (body.len > SITE_BODY_MAX_BYTES)
        return SITE_BODY_TOO_LARGE;
    if (site_too_deep(body, SITE_BODY_MAX_DEPTH)) {
        snprintf(why, why_size, "the body must be one flat JSON object (nesting refused)");
        return SITE_BODY_NOT_JSON;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body.ptr, body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        snprintf(why, why_size, "the body is not valid JSON: %s", jerr.text);
        return SITE_BODY_NOT_JSON;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        snprintf(why, why_size, "the body must be a JSON object");
        return SITE_BODY_NOT_JSON;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        size_t i = 0;
        while (i < app_site_num_fields && strcmp(app_site_fields[i].name, key) != 0)
            i++;
        if (i == app_site_num_fields) {
            char shown[80];
            long n = utf8_chars(key, strlen(key), false);
            snprintf(shown, sizeof(shown), "%s", n >= 0 && n <= 64 ? key : "(unprintable)");
            site_errors_add(e, shown, NULL, "unknown field %s: a site has name, lat, lon, "
                                            "elevation, pressure, temperature, horizon_deg, "
                                            "timezone, notes",
                            shown);
            continue;
        }
        apply_field(e, zones, i, v, b);
    }
    for (size_t i = 0; !partial && i < app_site_num_fields; i++) {
        const struct app_site_field *f = &app_site_fields[i];
        if (f->required && json_object_get(root, f->name) == NULL)
            site_errors_add(e, f->name, f, "%s is required", f->name);
    }
    json_decref(root);
    return e->n > 0 ? SITE_BODY_INVALID : SITE_BODY_OK;
}
