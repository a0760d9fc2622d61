/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * render_test.c -- the direct writers of render.c against the checked JSON writer.
 *
 * app_render_body writes its members straight into the answer, trusting that its
 * strings need no escaping and fit the room it reserves. Here every body, every
 * constellation, every status, details present or not, events present or not, and
 * the instant's serialized details are rendered both ways and must be identical.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "app/app.h"

/* The body's members as the checked writer writes them (render.c before direct writing). */
static void reference_body(struct web_json *j, enum astro_body body, const struct astro_position *p,
                           const struct app_body_info *info, const struct app_visibility *vis)
{
    const struct astro_details *d = &info->details;
    bool have = info->details_rc >= 0;
    web_json_key(j, "name");
    web_json_cstring(j, astro_body_name(body));
    const char *keys[] = {"az", "alt", "alt_airless", "ra", "dec", "distance_au"};
    const double vals[] = {p->az_deg, p->alt_deg, p->alt_airless_deg,
                           p->ra_deg, p->dec_deg, p->distance_au};
    for (size_t i = 0; i < PT_ARRAY_SIZE(keys); i++) {
        web_json_key(j, keys[i]);
        web_json_double(j, vals[i]);
    }
    web_json_key(j, "above_horizon");
    web_json_bool(j, p->alt_deg > 0);
    web_json_key(j, "magnitude");
    web_json_double(j, have ? d->magnitude : NAN);
    web_json_key(j, "phase");
    web_json_double(j, have ? d->phase : NAN);
    web_json_key(j, "elongation");
    web_json_double(j, have ? d->elongation_deg : NAN);
    web_json_key(j, "constellation");
    web_json_cstring(j, have ? d->constellation : NULL);
    web_json_key(j, "constellation_name");
    web_json_cstring(j, have ? d->constellation_name : NULL);
    const struct astro_time *ev[3] = {&info->events.rise, &info->events.transit,
                                      &info->events.set};
    const char *names[3] = {"rise", "transit", "set"};
    for (int i = 0; i < 3; i++) {
        web_json_key(j, names[i]);
        if (info->events_rc < 0 || !isfinite(ev[i]->jd_ut1)) {
            web_json_null(j);
        } else {
            char iso[40];
            astro_time_format_iso(ev[i], iso);
            web_json_cstring(j, iso);
        }
    }
    web_json_key(j, "status");
    web_json_cstring(j, info->events_rc >= 0 ? astro_rise_status_name(info->events.status)
                                              : "outside_ephemeris_range");
    if (vis != NULL) {
        web_json_key(j, "visibility");
        web_json_object_begin(j);
        web_json_key(j, "verdict");
        web_json_cstring(j, app_verdict_name(vis->verdict));
        web_json_key(j, "reason");
        web_json_cstring(j, vis->reason);
        web_json_object_end(j);
    }
}

typedef void render_fn(struct web_json *j, enum astro_body body, const struct astro_position *p,
                       const struct app_body_info *info, const struct app_visibility *vis);

static void render_into(struct pt_buf *b, render_fn *fn, enum astro_body body,
                        const struct astro_position *p, const struct app_body_info *info,
                        const struct app_visibility *vis)
{
    pt_buf_init(b, 1 << 16);
    struct web_json j;
    web_json_init(&j, b);
    web_json_object_begin(&j);
    web_json_key(&j, "before");
    web_json_int(&j, 1);
    fn(&j, body, p, info, vis);
    web_json_key(&j, "after");
    web_json_int(&j, 2);
    web_json_object_end(&j);
    assert_int_equal(web_json_finish(&j), 0);
}

static void expect_same(enum astro_body body, const struct astro_position *p,
                        const struct app_body_info *info, const struct app_visibility *vis)
{
    struct pt_buf got, want;
    render_into(&got, app_render_body, body, p, info, vis);
    render_into(&want, reference_body, body, p, info, vis);
    if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0)
        fail_msg("direct:  %.*s\nchecked: %.*s", (int)got.len, got.data, (int)want.len,
                 want.data);
    pt_buf_deinit(&got);
    pt_buf_deinit(&want);
}

static void set_time(struct astro_time *t, double unix_s)
{
    memset(t, 0, sizeof(*t));
    t->unix_s = unix_s;
    t->jd_ut1 = unix_s / 86400.0 + 2440587.5;
}

static void test_body_members_match_the_checked_writer(void **state)
{
    (void)state;
    struct astro_position p = {.az_deg = 306.42664093535166, .alt_deg = -12.384507528504288,
                               .alt_airless_deg = -12.384507528504288, .ra_deg = 155.699371246,
                               .dec_deg = 12.67040383730307, .distance_au = 1.1549753543335708};
    struct app_visibility vis = {.verdict = APP_VERDICT_NAKED_EYE,
                                 .reason = "naked eye, SSW, 39\xc2\xb0 up, \"quoted\""};
    struct app_body_info info;
    memset(&info, 0, sizeof(info));
    info.details.magnitude = 0.42587563360365516;
    info.details.phase = 0.9001248689871897;
    info.details.elongation_deg = 98.52502520246496;
    set_time(&info.events.rise, 1796335151.187);
    set_time(&info.events.transit, 1796360503.122);
    set_time(&info.events.set, 1796385836.941);
    int cases = 0;
    for (int c = 0; astro_constellation_abbr(c) != NULL; c++, cases++) {
        snprintf(info.details.constellation, sizeof(info.details.constellation), "%s",
                 astro_constellation_abbr(c));
        info.details.constellation_name = astro_constellation_name(c);
        for (int b = 0; b < ASTRO_BODY_COUNT; b++)
            expect_same((enum astro_body)b, &p, &info, (b & 1) ? &vis : NULL);
    }
    assert_int_equal(cases, 88);
    /* The events' text kept with them (the rise/set cache) gives the same bytes. */
    const struct astro_time *ev[3] = {&info.events.rise, &info.events.transit, &info.events.set};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(astro_time_format_iso(ev[i], info.texts.iso[i]), 24);
        info.texts.len[i] = 24;
    }
    expect_same(ASTRO_VENUS, &p, &info, &vis);
    info.texts.len[1] = (unsigned char)snprintf(info.texts.iso[1], APP_ISO_ROOM, "%s",
                                                "not what the time says");
    struct pt_buf got, want;
    render_into(&got, app_render_body, ASTRO_VENUS, &p, &info, &vis);
    render_into(&want, reference_body, ASTRO_VENUS, &p, &info, &vis);
    assert_true(got.len != want.len || memcmp(got.data, want.data, got.len) != 0); /* used */
    pt_buf_deinit(&got);
    pt_buf_deinit(&want);
    memset(&info.texts, 0, sizeof(info.texts));
    /* Every status; no details; no events; events that do not happen; above the horizon. */
    for (int s = ASTRO_RISES_SETS; s <= ASTRO_NEVER_RISES; s++) {
        info.events.status = (enum astro_rise_status)s;
        expect_same(ASTRO_MARS, &p, &info, &vis);
    }
    info.details_rc = PT_E_RANGE;
    expect_same(ASTRO_MOON, &p, &info, &vis);
    info.details_rc = 0;
    info.events_rc = PT_E_RANGE;
    expect_same(ASTRO_SUN, &p, &info, &vis);
    info.events_rc = 0;
    info.events.rise.jd_ut1 = NAN;
    info.events.set.jd_ut1 = NAN;
    p.alt_deg = 0.5;
    p.az_deg = -0.0;
    expect_same(ASTRO_PLUTO, &p, &info, NULL);
    /* Reasons written as they are (plain text, degree signs) and ones that need the
     * checked writer (a control byte, a backslash, a cut degree sign, no room left). */
    const char *reasons[] = {
        "naked eye: magnitude -2.3, 39\xc2\xb0 up", "\xc2\xb0", "", "below the horizon",
        "tab\there", "back\\slash", "cut \xc2", "\xc2\xc2\xb0 x",
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(reasons); i++) {
        snprintf(vis.reason, sizeof(vis.reason), "%s", reasons[i]);
        expect_same(ASTRO_MARS, &p, &info, &vis);
    }
    memset(vis.reason, 'x', sizeof(vis.reason) - 1);
    vis.reason[sizeof(vis.reason) - 1] = '\0';
    expect_same(ASTRO_MARS, &p, &info, &vis);
}

static void test_instant_details_are_the_same_bytes(void **state)
{
    (void)state;
    /* An instant holder's serialized details, copied, give the directly written bytes. */
    struct app_body_info direct, shared;
    memset(&direct, 0, sizeof(direct));
    direct.details.magnitude = -26.7;
    direct.details.phase = 1.0;
    direct.details.elongation_deg = 0.0;
    snprintf(direct.details.constellation, sizeof(direct.details.constellation), "Oph");
    direct.details.constellation_name = "Ophiuchus";
    shared = direct;
    struct pt_buf frag;
    pt_buf_init(&frag, 4096);
    struct web_json j;
    web_json_init(&j, &frag);
    web_json_object_begin(&j);
    app_render_details_members(&j, &direct);
    web_json_object_end(&j);
    assert_int_equal(web_json_finish(&j), 0);
    shared.details_json = pt_str_make(frag.data + 1, frag.len - 2);
    struct astro_position p = {.az_deg = 1, .alt_deg = 2, .distance_au = 0.98};
    struct pt_buf a, b;
    render_into(&a, app_render_body, ASTRO_SUN, &p, &direct, NULL);
    render_into(&b, app_render_body, ASTRO_SUN, &p, &shared, NULL);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    pt_buf_deinit(&a);
    pt_buf_deinit(&b);
    pt_buf_deinit(&frag);
}

static void reference_observer(struct web_json *j, const struct app_observer *obs)
{
    web_json_key(j, "observer");
    web_json_object_begin(j);
    const char *keys[] = {"lat", "lon", "elevation", "pressure", "temperature", "horizon_deg"};
    const double vals[] = {obs->astro.lat_deg,      obs->astro.lon_deg, obs->astro.elev_m,
                           obs->astro.pressure_hpa, obs->astro.temp_c,  obs->horizon_deg};
    for (size_t i = 0; i < PT_ARRAY_SIZE(keys); i++) {
        web_json_key(j, keys[i]);
        web_json_double(j, vals[i]);
    }
    web_json_key(j, "source");
    web_json_cstring(j, obs->source);
    web_json_object_end(j);
}

static void test_observer_member_matches_the_checked_writer(void **state)
{
    (void)state;
    static const char *sources[] = {"query", "session", "site", "default", NULL};
    struct app_observer obs = {.astro = {.lat_deg = -33.8688, .lon_deg = 151.2093,
                                         .elev_m = 58.0, .pressure_hpa = 1013.25,
                                         .temp_c = -40.5},
                               .horizon_deg = 1.5e-7};
    for (size_t i = 0; i < PT_ARRAY_SIZE(sources); i++) {
        obs.source = sources[i];
        struct pt_buf got, want;
        pt_buf_init(&got, 4096);
        pt_buf_init(&want, 4096);
        struct web_json a, b;
        web_json_init(&a, &got);
        web_json_init(&b, &want);
        web_json_object_begin(&a);
        web_json_object_begin(&b);
        web_json_key(&a, "x");
        web_json_key(&b, "x");
        web_json_int(&a, 1);
        web_json_int(&b, 1);
        app_render_observer(&a, &obs);
        reference_observer(&b, &obs);
        web_json_object_end(&a);
        web_json_object_end(&b);
        assert_int_equal(web_json_finish(&a), 0);
        assert_int_equal(web_json_finish(&b), 0);
        if (got.len != want.len || memcmp(got.data, want.data, got.len) != 0)
            fail_msg("direct:  %.*s\nchecked: %.*s", (int)got.len, got.data, (int)want.len,
                     want.data);
        pt_buf_deinit(&got);
        pt_buf_deinit(&want);
        obs.astro.lat_deg = -obs.astro.lat_deg / 3.0;
        obs.astro.elev_m = 0.0;
    }
}

/* The observer member kept by an instant holder is the one written for this observer. */
static void test_kept_observer_member_follows_the_observer(void **state)
{
    (void)state;
    struct app_instant *in = app_instant_new();
    struct app_observer obs = {.astro = {.lat_deg = 0.0, .lon_deg = 2.45, .pressure_hpa = 1010},
                               .source = "query"};
    /* The same observer twice, then each field changed: -0.0 is not 0.0 in the text. */
    for (int step = 0; step < 9; step++) {
        if (step == 2)
            obs.astro.lat_deg = -0.0;
        else if (step == 3)
            obs.astro.lon_deg = 2.4500000000000002;
        else if (step == 4)
            obs.astro.elev_m = 1;
        else if (step == 5)
            obs.astro.pressure_hpa = 0;
        else if (step == 6)
            obs.astro.temp_c = -1;
        else if (step == 7)
            obs.horizon_deg = 3;
        else if (step == 8)
            obs.source = "site";
        struct pt_buf want;
        pt_buf_init(&want, 4096);
        struct web_json j;
        web_json_init(&j, &want);
        web_json_object_begin(&j);
        app_render_observer(&j, &obs);
        web_json_object_end(&j);
        assert_int_equal(web_json_finish(&j), 0);
        struct pt_str kept = app_instant_observer(in, &obs);
        if (kept.len != want.len - 2 || memcmp(kept.ptr, want.data + 1, kept.len) != 0)
            fail_msg("step %d: kept %.*s, want %.*s", step, (int)kept.len, kept.ptr,
                     (int)want.len, want.data);
        pt_buf_deinit(&want);
    }
    app_instant_free(in);
}

/*
 * The numbers in a visibility reason: rounded half away from zero, a minus sign
 * only when a digit shown is not zero (a magnitude of -0.04 reads "0.0").
 */
static void test_visibility_reason_numbers(void **state)
{
    (void)state;
    static const struct {
        double mag, alt;
        const char *want;
    } cases[] = {
        {-2.34, 39.5, "naked eye: magnitude -2.3, 40\u00b0 up"},
        {-0.04, 39.4, "naked eye: magnitude 0.0, 39\u00b0 up"},
        {-0.05, 12.0, "naked eye: magnitude -0.1, 12\u00b0 up"},
        {0.96, 89.99, "naked eye: magnitude 1.0, 90\u00b0 up"},
        {1.25, 45.0, "naked eye: magnitude 1.3, 45\u00b0 up"},
    };
    for (size_t i = 0; i < PT_ARRAY_SIZE(cases); i++) {
        struct app_body_info info = {.details_rc = 0};
        info.details.magnitude = cases[i].mag;
        info.details.elongation_deg = 90.0;
        struct app_visibility vis;
        app_visibility_judge(ASTRO_MARS, cases[i].alt, -30.0, 0.0, &info, &vis);
        assert_int_equal(vis.verdict, APP_VERDICT_NAKED_EYE);
        assert_string_equal(vis.reason, cases[i].want);
    }
    struct app_body_info info = {.details_rc = 0};
    info.details.magnitude = 1.0;
    info.details.elongation_deg = 90.0;
    struct app_visibility vis;
    app_visibility_judge(ASTRO_MARS, 1.96, -30.0, 0.0, &info, &vis);
    assert_string_equal(vis.reason, "only 2.0\u00b0 up, in the haze at the horizon");
    app_visibility_judge(ASTRO_MARS, 7.5, -30.0, 10.0, &info, &vis);
    assert_string_equal(vis.reason, "8\u00b0 up, under the site's horizon of 10\u00b0");
}

/*
 * The Sun's altitude with the loop's remembered latitude is the one computed
 * with the latitude afresh from the same remembered Sun, bit for bit, as requests
 * alternate between places and move through the day (a latitude kept for the
 * wrong place, or a stale sine, fails).
 */
static void test_sun_altitude_kept_latitude(void **state)
{
    (void)state;
    struct astro_ctx *astro;
    if (astro_ctx_new("/usr/share/libswe/ephe", &astro) != 0)
        skip();
    struct app_now_cache now = {0};
    const struct astro_observer places[] = {
        {48.93, 2.45, 0, 0, 0}, {-33.9, 18.4, 0, 0, 0}, {48.93, -70.0, 0, 0, 0}, {0.0, 0.0, 0, 0, 0},
        {-0.0, 0.0, 0, 0, 0},
    };
    int kept = 0;
    for (int step = 0; step < 200; step++) {
        struct astro_time t;
        assert_int_equal(astro_time_from_unix(astro, 1764547200.0 + step * 7.3, &t), 0);
        const struct astro_observer *o = &places[(step / 3) % PT_ARRAY_SIZE(places)];
        struct app_now_cache afresh = now;
        afresh.have_lat = false;
        kept += now.have_lat && now.lat_deg == o->lat_deg;
        struct app_state a_st = {.astro = astro, .now = &now};
        struct app_state b_st = {.astro = astro, .now = &afresh};
        double a, b;
        assert_int_equal(app_sun_altitude(&a_st, &t, o, &a), 0);
        assert_int_equal(app_sun_altitude(&b_st, &t, o, &b), 0);
        if (memcmp(&a, &b, sizeof(a)) != 0)
            fail_msg("step %d: %.17g, afresh %.17g", step, a, b);
    }
    assert_true(kept > 50 && kept < 200); /* both paths were taken */
    astro_ctx_free(astro);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body_members_match_the_checked_writer),
        cmocka_unit_test(test_instant_details_are_the_same_bytes),
        cmocka_unit_test(test_observer_member_matches_the_checked_writer),
        cmocka_unit_test(test_kept_observer_member_follows_the_observer),
        cmocka_unit_test(test_visibility_reason_numbers),
        cmocka_unit_test(test_sun_altitude_kept_latitude),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
