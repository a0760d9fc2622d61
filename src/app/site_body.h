/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * site_body.h -- decoding and checking the JSON body of a saved site
 * (site_body.c), shared by the /api/sites handlers (sites.c) and the fuzz
 * target (tests/fuzz/site_body). No request, no loop: any thread.
 */
#ifndef PT_APP_SITE_BODY_H
#define PT_APP_SITE_BODY_H

#include "app/app.h"
#include "store/store.h"
#include "web/json.h"

#define SITE_BODY_MAX_BYTES (16u * 1024)
#define SITE_BODY_MAX_DEPTH 2     /* a site body is one flat object */

/* A site as decoded from a body; site.notes points into notes. */
struct site_body {
    struct store_site site;
    char notes[STORE_NOTES_MAX_BYTES + 1];
};

/* The errors of one body, as the "fields" array of a 422 (JSON in buf once closed). */
struct field_errors {
    struct pt_buf buf;
    struct web_json j;
    size_t n;
};

void site_errors_init(struct field_errors *e);
void site_errors_add(struct field_errors *e, const char *field, const struct app_site_field *f,
                     const char *fmt, ...) PT_PRINTF(4, 5);
void site_errors_deinit(struct field_errors *e);

/* Nesting deeper than max anywhere in the text (strings skipped): refused before parsing. */
bool site_too_deep(struct pt_str body, int max);

/*
 * A text member of f->min..f->max characters (valid UTF-8; newlines and tabs
 * only when newlines) into out[size]; false after recording the error.
 */
bool site_text_in_range(struct field_errors *e, const struct app_site_field *f, json_t *v,
                        bool newlines, char *out, size_t size);

/* A new site's defaults (POST, PUT): what absent optional members mean. */
void site_defaults(struct site_body *b);

enum site_body_rc {
    SITE_BODY_OK,
    SITE_BODY_TOO_LARGE,          /* over SITE_BODY_MAX_BYTES (413) */
    SITE_BODY_NOT_JSON,           /* nested, not JSON or not an object: why says (400) */
    SITE_BODY_INVALID,            /* members refused: e->n errors in e (422) */
};

/*
 * Decode body into b (which holds the site to change for PATCH, the defaults
 * otherwise), every member checked against app_site_fields; partial: PATCH
 * (no member required). e is initialised here in every case: the caller
 * closes it (site_errors_deinit, or turns it into a 422).
 */
enum site_body_rc site_body_decode(const struct app_zones *zones, struct pt_str body, bool partial,
                                   struct site_body *b, struct field_errors *e, char *why,
                                   size_t why_size);

#endif /* PT_APP_SITE_BODY_H */
