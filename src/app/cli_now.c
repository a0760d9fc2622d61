/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * cli_now.c -- `planettracker now`: the sky for one observer and instant on
 * the terminal, through the same astro calls and JSON renderer as the API.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/app.h"

static const char now_usage[] =
    "usage: planettracker now [BODY...] --lat DEG --lon DEG [options]\n"
    "\n"
    "Print where the bodies are (default: all ten) for one observer.\n"
    "\n"
    "  --lat DEG            latitude, decimal or D:M:S, north positive (required)\n"
    "  --lon DEG            longitude, decimal or D:M:S, east positive (required)\n"
    "  --elevation M        metres above sea level (default 0)\n"
    "  --time T             ISO 8601 with any offset, or Unix seconds (default now)\n"
    "  --timescale S        utc (default), ut1 or tt\n"
    "  --pressure HPA       for refraction (default 1010; 0 = airless)\n"
    "  --temperature C      for refraction (default 15)\n"
    "  --ephe-path DIR      Swiss Ephemeris files [EPHE_PATH]\n"
    "  --json               print the JSON of GET /planets instead of a table\n";

struct now_args {
    unsigned bodies;
    const char *lat;
    const char *lon;
    const char *elevation;
    const char *time;
    const char *timescale;
    const char *pressure;
    const char *temperature;
    const char *ephe_path;
    bool json;
};

static int parse_args(int argc, char **argv, struct now_args *a)
{
    memset(a, 0, sizeof(*a));
    a->ephe_path = getenv("EPHE_PATH");
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        const char **slot = NULL;
        if (strcmp(arg, "--json") == 0) {
            a->json = true;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(now_usage, stdout);
            return 1;
        }
        if (arg[0] != '-') {
            int b = astro_body_from_name(pt_str_c(arg));
            if (b < 0) {
                fprintf(stderr, "planettracker now: unknown body '%s'\n", arg);
                return -1;
            }
            a->bodies |= 1u << b;
            continue;
        }
        if (strcmp(arg, "--lat") == 0)
            slot = &a->lat;
        else if (strcmp(arg, "--lon") == 0)
            slot = &a->lon;
        else if (strcmp(arg, "--elevation") == 0)
            slot = &a->elevation;
        else if (strcmp(arg, "--time") == 0)
            slot = &a->time;
        else if (strcmp(arg, "--timescale") == 0)
            slot = &a->timescale;
        else if (strcmp(arg, "--pressure") == 0)
            slot = &a->pressure;
        else if (strcmp(arg, "--temperature") == 0)
            slot = &a->temperature;
        else if (strcmp(arg, "--ephe-path") == 0)
            slot = &a->ephe_path;
        if (slot == NULL || val == NULL) {
            fprintf(stderr, "planettracker now: bad option %s\n%s", arg, now_usage);
            return -1;
        }
        *slot = val;
        i++;
    }
    if (a->lat == NULL || a->lon == NULL) {
        fprintf(stderr, "planettracker now: --lat and --lon are required\n%s", now_usage);
        return -1;
    }
    if (a->bodies == 0)
        a->bodies = APP_ALL_BODIES;
    return 0;
}

/* Parse one numeric option within [min, max], printing the error. */
static int number_arg(const char *name, const char *text, double min, double max, double *out)
{
    double v;
    if (pt_str_to_double(pt_str_c(text), &v) < 0 || v < min || v > max) {
        fprintf(stderr, "planettracker now: %s must be a number from %g to %g\n", name, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int build_observer(const struct now_args *a, struct app_observer *obs)
{
    memset(obs, 0, sizeof(*obs));
    obs->source = "query";
    obs->astro.pressure_hpa = APP_DEFAULT_PRESSURE_HPA;
    obs->astro.temp_c = APP_DEFAULT_TEMP_C;
    if (astro_angle_parse(pt_str_c(a->lat), &obs->astro.lat_deg) < 0 ||
        fabs(obs->astro.lat_deg) > 90) {
        fprintf(stderr, "planettracker now: --lat must be degrees from -90 to 90\n");
        return -1;
    }
    if (astro_angle_parse(pt_str_c(a->lon), &obs->astro.lon_deg) < 0 ||
        fabs(obs->astro.lon_deg) > 180) {
        fprintf(stderr, "planettracker now: --lon must be degrees from -180 to 180\n");
        return -1;
    }
    if ((a->elevation != NULL && number_arg("--elevation", a->elevation, APP_ELEV_MIN_M,
                                            APP_ELEV_MAX_M, &obs->astro.elev_m) < 0) ||
        (a->pressure != NULL && number_arg("--pressure", a->pressure, APP_PRESSURE_MIN_HPA,
                                           APP_PRESSURE_MAX_HPA, &obs->astro.pressure_hpa) < 0) ||
        (a->temperature != NULL && number_arg("--temperature", a->temperature, APP_TEMP_MIN_C,
                                              APP_TEMP_MAX_C, &obs->astro.temp_c) < 0))
        return -1;
    return 0;
}

static int build_time(const struct now_args *a, const struct astro_ctx *astro, struct astro_time *t)
{
    enum astro_timescale scale = ASTRO_UTC;
    if (a->timescale != NULL) {
        int s = astro_timescale_from_name(pt_str_c(a->timescale));
        if (s < 0) {
            fprintf(stderr, "planettracker now: --timescale must be utc, ut1 or tt\n");
            return -1;
        }
        scale = (enum astro_timescale)s;
    }
    int rc = a->time != NULL ? astro_time_parse(astro, pt_str_c(a->time), scale, t)
                             : astro_time_from_unix(astro, pt_clock_unix_s(), t);
    if (rc < 0) {
        fprintf(stderr, "planettracker now: --time: %s\n",
                rc == PT_E_RANGE ? "outside the ephemeris range" : "not ISO 8601 or Unix seconds");
        return -1;
    }
    return 0;
}

/* Right ascension in hours, minutes, seconds. */
static void format_ra(double ra_deg, char out[24])
{
    double h = ra_deg / 15.0;
    int hh = (int)h;
    int mm = (int)((h - hh) * 60);
    double ss = ((h - hh) * 60 - mm) * 60;
    snprintf(out, 24, "%02dh%02dm%05.2fs", hh, mm, ss);
}

/* HH:MM (UTC) of an event, or "--" when it does not happen in the window. */
static void format_hhmm(const struct astro_time *t, char out[8])
{
    if (!isfinite(t->jd_ut1)) {
        snprintf(out, 8, "--");
        return;
    }
    char iso[40];
    astro_time_format_iso(t, iso);
    snprintf(out, 8, "%.5s", iso + 11);
}

static int print_table(const struct app_state *st, const struct app_observer *obs,
                       const struct astro_time *t, unsigned bodies)
{
    char iso[40];
    astro_time_format_iso(t, iso);
    printf("%s  lat %.4f  lon %.4f  elevation %.0f m  (%s; times UTC)\n", iso, obs->astro.lat_deg,
           obs->astro.lon_deg, obs->astro.elev_m, astro_ctx_ephemeris(st->astro));
    printf("time data: %s, UT1-UTC %+.4f s, TT-UT1 %.4f s, polar motion x %.4f\" y %.4f\"\n",
           astro_eop_source_name(t->eop), t->ut1_utc_s, t->deltat_s, t->xp_as, t->yp_as);
    printf("%-8s %9s %9s  %-12s %10s %12s %6s  %-4s %-5s %-5s %-5s\n", "body", "az", "alt", "ra",
           "dec", "dist (au)", "mag", "con", "rise", "trans", "set");
    struct astro_position pos[ASTRO_BODY_COUNT];
    int rc = astro_position_compute_all(st->astro, t, &obs->astro, pos);
    for (int b = 0; rc == 0 && b < ASTRO_BODY_COUNT; b++) {
        if (!(bodies & (1u << b)))
            continue;
        struct astro_details d;
        struct astro_riseset rs;
        rc = astro_details_compute(st->astro, (enum astro_body)b, t, &d);
        if (rc == 0)
            rc = astro_riseset_next(st->astro, (enum astro_body)b, t, &obs->astro, &rs);
        if (rc < 0)
            break;
        const struct astro_position *p = &pos[b];
        char ra[24], rise[8], transit[8], set[8];
        format_ra(p->ra_deg, ra);
        format_hhmm(&rs.rise, rise);
        format_hhmm(&rs.transit, transit);
        format_hhmm(&rs.set, set);
        printf("%-8s %8.3f° %8.3f°  %-12s %9.4f° %12.8f %6.2f  %-4s %-5s %-5s %-5s%s\n",
               astro_body_name((enum astro_body)b), p->az_deg, p->alt_deg, ra, p->dec_deg,
               p->distance_au, d.magnitude, d.constellation, rise, transit, set,
               rs.status == ASTRO_RISES_SETS ? "" : rs.status == ASTRO_CIRCUMPOLAR
                                                        ? "  (circumpolar)"
                                                        : "  (never rises)");
    }
    if (rc < 0) {
        fprintf(stderr, "planettracker now: %s\n", pt_error_message(rc));
        return -1;
    }
    return 0;
}

int app_cmd_now(int argc, char **argv)
{
    struct now_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    pt_log_set_level(PT_LOG_WARN);
    struct app_state st = {0};
    if (astro_ctx_new(a.ephe_path, &st.astro) < 0) {
        fprintf(stderr, "planettracker now: cannot open the ephemeris\n");
        return 1;
    }
    struct app_eop eop;
    const char *data_dir = getenv("DATA_DIR");
    if (app_eop_init(&eop, st.astro, data_dir != NULL && *data_dir ? data_dir : "var") < 0) {
        astro_ctx_free(st.astro);
        return 1;
    }
    st.eop = &eop;
    struct app_observer obs;
    struct astro_time t;
    rc = 2;
    if (build_observer(&a, &obs) < 0 || build_time(&a, st.astro, &t) < 0)
        goto out_free_astro;
    rc = 1;
    if (a.json) {
        struct pt_buf buf;
        pt_buf_init(&buf, 1 << 20);
        struct web_json j;
        web_json_init(&j, &buf);
        if (app_render_sky(&j, &st, &obs, &t, a.bodies, NULL) == 0 && web_json_finish(&j) == 0) {
            printf("%.*s\n", (int)buf.len, buf.data);
            rc = 0;
        }
        pt_buf_deinit(&buf);
    } else if (print_table(&st, &obs, &t, a.bodies) == 0) {
        rc = 0;
    }
out_free_astro:
    app_eop_deinit(&eop);
    astro_ctx_free(st.astro);
    return rc;
}
