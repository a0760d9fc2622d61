/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * time.c -- instants for the astro layer: ISO 8601 and Unix-seconds parsing in UTC,
 * UT1 or TT, conversion between the scales by libswe (swe_utc_to_jd and its leap
 * second table, swe_deltat_ex for TT - UT1), and UTC ISO 8601 formatting.
 *
 * Invariant: a UT1 clock reading becomes jd_ut1 through the very expression the
 * reference used, swe_julday(Y, M, D, h + m / 60.0 + s / 3600.0, SE_GREG_CAL), so
 * that jd_ut1 is bit-identical (1e-9 day is 0.001" of Earth rotation).
 *
 * Calendar arithmetic (days_from_civil, civil_from_days) is the proleptic Gregorian
 * calendar counted in days from 1970-01-01, the algorithm of H. Hinnant,
 * "chrono-Compatible Low-Level Date Algorithms" (public domain), re-derived here.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <swephexp.h>

#include "astro/internal.h"

#define JD_UNIX_EPOCH 2440587.5 /* 1970-01-01T00:00:00 */
#define SECONDS_PER_DAY 86400.0

/* A broken-down clock reading. */
struct clock_reading {
    int year;
    int month;
    int day;
    int hour;
    int min;
    double sec;
};

int astro_timescale_from_name(struct pt_str name)
{
    if (pt_str_eq_nocase(name, PT_STR("utc")))
        return ASTRO_UTC;
    if (pt_str_eq_nocase(name, PT_STR("ut1")))
        return ASTRO_UT1;
    if (pt_str_eq_nocase(name, PT_STR("tt")))
        return ASTRO_TT;
    return PT_E_INVALID;
}

const char *astro_timescale_name(enum astro_timescale s)
{
    switch (s) {
    case ASTRO_UTC:
        return "utc";
    case ASTRO_UT1:
        return "ut1";
    case ASTRO_TT:
        return "tt";
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Calendar                                                                   */
/* ------------------------------------------------------------------------ */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static bool is_leap_year(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : len[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; any year). */
int64_t astro__days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. OUT: *y, *m, *d. */
void astro__civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

#define days_from_civil astro__days_from_civil
#define civil_from_days astro__civil_from_days

/* ------------------------------------------------------------------------ */
/* ISO 8601 syntax                                                            */
/* ------------------------------------------------------------------------ */

/* Read exactly n digits at s->ptr[*i]. Returns the value, or -1. */
static int read_digits(struct pt_str s, size_t *i, size_t n)
{
    if (*i + n > s.len)
        return -1;
    int v = 0;
    for (size_t k = 0; k < n; k++) {
        char c = s.ptr[*i + k];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *i += n;
    return v;
}

static bool next_is(struct pt_str s, size_t i, char c)
{
    return i < s.len && s.ptr[i] == c;
}

static bool looks_like_iso(struct pt_str s)
{
    size_t i = 0;
    return read_digits(s, &i, 4) >= 0 && next_is(s, 4, '-');
}

/*
 * Parse "YYYY-MM-DD[THH:MM[:SS[.f+]]][Z|(+|-)HH[[:]MM]]" strictly. max_sec is the
 * exclusive bound of the seconds (61 where a leap second may follow).
 * OUT: *r (the clock reading), *offset_min (0 without an offset).
 */
static int parse_iso(struct pt_str s, double max_sec, struct clock_reading *r, int *offset_min)
{
    size_t i = 0;
    *r = (struct clock_reading){0};
    *offset_min = 0;

    r->year = read_digits(s, &i, 4);
    if (r->year < 0 || !next_is(s, i++, '-'))
        return PT_E_INVALID;
    r->month = read_digits(s, &i, 2);
    if (r->month < 1 || r->month > 12 || !next_is(s, i++, '-'))
        return PT_E_INVALID;
    r->day = read_digits(s, &i, 2);
    if (r->day < 1 || r->day > days_in_month(r->year, r->month))
        return PT_E_INVALID;

    if (i < s.len && (s.ptr[i] == 'T' || s.ptr[i] == 't' || s.ptr[i] == ' ')) {
        i++;
        r->hour = read_digits(s, &i, 2);
        if (r->hour < 0 || r->hour > 23 || !next_is(s, i++, ':'))
            return PT_E_INVALID;
        r->min = read_digits(s, &i, 2);
        if (r->min < 0 || r->min > 59)
            return PT_E_INVALID;
        if (next_is(s, i, ':')) {
            size_t start = ++i;
            if (read_digits(s, &i, 2) < 0)
                return PT_E_INVALID;
            if (next_is(s, i, '.')) {
                size_t frac = ++i;
                while (i < s.len && s.ptr[i] >= '0' && s.ptr[i] <= '9')
                    i++;
                if (i == frac)
                    return PT_E_INVALID;
            }
            /* strtod of "SS.fff", as the reference's sscanf("%lf"): correctly rounded. */
            if (pt_str_to_double(pt_str_make(s.ptr + start, i - start), &r->sec) < 0 ||
                !(r->sec < max_sec))
                return PT_E_INVALID;
        }
    }

    if (i < s.len && (s.ptr[i] == 'Z' || s.ptr[i] == 'z')) {
        i++;
    } else if (i < s.len && (s.ptr[i] == '+' || s.ptr[i] == '-')) {
        int sign = s.ptr[i++] == '-' ? -1 : 1;
        int oh = read_digits(s, &i, 2), om = 0;
        if (oh < 0 || oh > 23)
            return PT_E_INVALID;
        if (i < s.len) {
            if (s.ptr[i] == ':')
                i++;
            om = read_digits(s, &i, 2);
            if (om < 0 || om > 59)
                return PT_E_INVALID;
        }
        *offset_min = sign * (oh * 60 + om);
    }
    return i == s.len ? 0 : PT_E_INVALID;
}

/*
 * Remove an offset from a clock reading: the reading minus offset_min, renormalized
 * (the seconds are untouched, so a reading with an offset gives bit for bit the
 * same fields as the equivalent reading in Z).
 */
static void apply_offset(struct clock_reading *r, int offset_min)
{
    if (offset_min == 0)
        return;
    int64_t minutes = (int64_t)r->hour * 60 + r->min - offset_min;
    int64_t day_shift = floor_div(minutes, 1440);
    minutes -= day_shift * 1440;
    r->hour = (int)(minutes / 60);
    r->min = (int)(minutes % 60);
    if (day_shift != 0) {
        int64_t y;
        civil_from_days(days_from_civil(r->year, r->month, r->day) + day_shift, &y, &r->month,
                        &r->day);
        r->year = (int)y;
    }
}

/* The reading as a Julian day of its own scale, exactly as the reference computed it. */
static double reading_jd(const struct clock_reading *r)
{
    return swe_julday(r->year, r->month, r->day, r->hour + r->min / 60.0 + r->sec / 3600.0,
                      SE_GREG_CAL);
}

/* ------------------------------------------------------------------------ */
/* Scales                                                                     */
/* ------------------------------------------------------------------------ */

/* Unix seconds (UTC) of the UT1 instant jd_ut1, for display. */
static double unix_from_jd_ut1(double jd_ut1)
{
    int32 y, m, d, h, mi;
    double sec;
    swe_jdut1_to_utc(jd_ut1, SE_GREG_CAL, &y, &m, &d, &h, &mi, &sec);
    return (double)days_from_civil(y, m, d) * SECONDS_PER_DAY + h * 3600.0 + mi * 60.0 + sec;
}

double astro__deltat_days(const struct astro_ctx *ctx, double jd_ut1)
{
    char serr[AS_MAXCH];
    return swe_deltat_ex(jd_ut1, ctx->eph_flag, serr);
}

const char *astro_eop_source_name(enum astro_eop_source src)
{
    switch (src) {
    case ASTRO_EOP_OBSERVED:
        return "observed";
    case ASTRO_EOP_PREDICTED:
        return "predicted";
    case ASTRO_EOP_MODEL:
        break;
    }
    return "model";
}

#define MJD_JD 2400000.5
#define MJD_1972 41317.0 /* 1972-01-01: UTC with leap seconds begins */
#define TT_TAI_S 32.184

static const struct astro_eop *eop_of(const struct astro_ctx *ctx)
{
    return atomic_load_explicit(&ctx->eop, memory_order_acquire);
}

/* The model's fields: no polar motion. */
static void set_model(struct astro_time *out)
{
    out->xp_as = 0;
    out->yp_as = 0;
    out->eop = ASTRO_EOP_MODEL;
}

static void set_eop(struct astro_time *out, const struct astro_eop_value *v)
{
    out->xp_as = v->xp_as;
    out->yp_as = v->yp_as;
    out->eop = v->observed ? ASTRO_EOP_OBSERVED : ASTRO_EOP_PREDICTED;
}

/* jd_ut1 solving jd_ut1 + Delta T(jd_ut1) = jd_tt (libswe's model). */
static double model_ut1_from_tt(const struct astro_ctx *ctx, double jd_tt)
{
    /* Delta T changes by under 1e-7 s per second, so each iteration gains seven
     * digits; three leave an error far below a microsecond. */
    double jd_ut1 = jd_tt;
    for (int k = 0; k < 3; k++)
        jd_ut1 = jd_tt - astro__deltat_days(ctx, jd_ut1);
    return jd_ut1;
}

/* Complete *out from jd_ut1 by the model (thread already entered). */
static int model_from_ut1(const struct astro_ctx *ctx, double jd_ut1, struct astro_time *out)
{
    if (!astro__jd_in_range(ctx, jd_ut1))
        return PT_E_RANGE;
    double dt = astro__deltat_days(ctx, jd_ut1);
    out->jd_ut1 = jd_ut1;
    out->jd_tt = jd_ut1 + dt;
    out->deltat_s = dt * SECONDS_PER_DAY;
    set_model(out);
    return 0;
}

/*
 * Complete *out for the UTC instant at jd_utc, read on the UTC day mjd_day (the
 * day decides TAI-UTC: a reading of second 60 belongs to the day it ends).
 */
static int eop_from_utc(const struct astro_ctx *ctx, const struct astro_eop *e, double jd_utc,
                        int32_t mjd_day, struct astro_time *out)
{
    double mjd_utc = jd_utc - MJD_JD;
    if (mjd_day < MJD_1972) {
        /* Before 1972 UTC is taken as UT1, as libswe does. */
        int rc = model_from_ut1(ctx, jd_utc, out);
        out->ut1_utc_s = 0;
        return rc;
    }
    double tt_utc = astro_eop_tai_utc(e, mjd_day) + TT_TAI_S;
    double jd_tt = jd_utc + tt_utc / SECONDS_PER_DAY;
    struct astro_eop_value v;
    if (astro_eop_at(e, mjd_utc, &v) == 0) {
        double ut1_utc = v.ut1_tai_s + astro_eop_tai_utc(e, mjd_day);
        out->jd_ut1 = jd_utc + ut1_utc / SECONDS_PER_DAY;
        out->jd_tt = jd_tt;
        out->ut1_utc_s = ut1_utc;
        out->deltat_s = tt_utc - ut1_utc;
        set_eop(out, &v);
    } else {
        /* Past the predictions: leap seconds keep UT1 within 0.9 s of UTC. */
        int rc = model_from_ut1(ctx, jd_utc, out);
        out->ut1_utc_s = 0;
        return rc;
    }
    return astro__jd_in_range(ctx, out->jd_ut1) ? 0 : PT_E_RANGE;
}

/* Complete *out from jd_ut1 with the data (UTC found by iteration). */
static int eop_from_ut1(const struct astro_ctx *ctx, const struct astro_eop *e, double jd_ut1,
                        struct astro_time *out)
{
    if (!astro__jd_in_range(ctx, jd_ut1))
        return PT_E_RANGE;
    double mjd_ut1 = jd_ut1 - MJD_JD;
    if (mjd_ut1 < MJD_1972) {
        int rc = model_from_ut1(ctx, jd_ut1, out);
        out->ut1_utc_s = 0;
        return rc;
    }
    /* |UT1-UTC| < 1 s: two rounds settle UTC to well under a microsecond. */
    double ut1_utc = 0;
    double mjd_utc = mjd_ut1;
    int32_t tai_utc = 0;
    struct astro_eop_value v;
    bool have = false;
    for (int k = 0; k < 3; k++) {
        mjd_utc = mjd_ut1 - ut1_utc / SECONDS_PER_DAY;
        tai_utc = astro_eop_tai_utc(e, (int32_t)floor(mjd_utc));
        have = astro_eop_at(e, mjd_utc, &v) == 0;
        if (!have)
            break;
        ut1_utc = v.ut1_tai_s + tai_utc;
    }
    if (!have) {
        /* Outside the data: UT1 taken as UTC, as for a UTC request there. */
        int rc = model_from_ut1(ctx, jd_ut1, out);
        out->ut1_utc_s = 0;
        return rc;
    }
    out->jd_ut1 = jd_ut1;
    out->ut1_utc_s = ut1_utc;
    out->deltat_s = tai_utc + TT_TAI_S - ut1_utc;
    out->jd_tt = jd_ut1 + out->deltat_s / SECONDS_PER_DAY;
    set_eop(out, &v);
    return 0;
}

/* Complete *out from jd_tt with the data. */
static int eop_from_tt(const struct astro_ctx *ctx, const struct astro_eop *e, double jd_tt,
                       struct astro_time *out)
{
    double mjd_tai = jd_tt - MJD_JD - TT_TAI_S / SECONDS_PER_DAY;
    int32_t tai_utc = astro_eop_tai_utc(e, (int32_t)floor(mjd_tai));
    double mjd_utc = mjd_tai - tai_utc / SECONDS_PER_DAY;
    tai_utc = astro_eop_tai_utc(e, (int32_t)floor(mjd_utc));
    mjd_utc = mjd_tai - tai_utc / SECONDS_PER_DAY;
    struct astro_eop_value v;
    if (mjd_utc < MJD_1972 || astro_eop_at(e, mjd_utc, &v) < 0) {
        /* Outside the data: the model's Delta T, UT1 taken as UTC. */
        double jd_ut1 = model_ut1_from_tt(ctx, jd_tt);
        if (!astro__jd_in_range(ctx, jd_ut1))
            return PT_E_RANGE;
        out->jd_ut1 = jd_ut1;
        out->jd_tt = jd_tt;
        out->deltat_s = (jd_tt - jd_ut1) * SECONDS_PER_DAY;
        out->ut1_utc_s = 0;
        set_model(out);
        return 0;
    }
    double ut1_utc = v.ut1_tai_s + tai_utc;
    out->jd_tt = jd_tt;
    out->ut1_utc_s = ut1_utc;
    out->deltat_s = tai_utc + TT_TAI_S - ut1_utc;
    out->jd_ut1 = jd_tt - out->deltat_s / SECONDS_PER_DAY;
    set_eop(out, &v);
    return astro__jd_in_range(ctx, out->jd_ut1) ? 0 : PT_E_RANGE;
}

/* Unix seconds (UTC) of a UT1 or TT instant, for display: from UT1-UTC when known. */
static double unix_of(const struct astro_time *t)
{
    if (isfinite(t->ut1_utc_s))
        return (t->jd_ut1 - JD_UNIX_EPOCH) * SECONDS_PER_DAY - t->ut1_utc_s;
    return unix_from_jd_ut1(t->jd_ut1);
}

/* Complete *out from jd_ut1 (thread already entered). */
static int finish_ut1(const struct astro_ctx *ctx, double jd_ut1, struct astro_time *out)
{
    const struct astro_eop *e = eop_of(ctx);
    int rc;
    if (e != NULL) {
        rc = eop_from_ut1(ctx, e, jd_ut1, out);
    } else {
        rc = model_from_ut1(ctx, jd_ut1, out);
        out->ut1_utc_s = NAN; /* unknown without a leap-second table */
    }
    if (rc < 0)
        return rc;
    out->unix_s = unix_of(out);
    out->scale = ASTRO_UT1;
    return 0;
}

/* Complete *out from jd_tt (thread already entered). */
static int finish_tt(const struct astro_ctx *ctx, double jd_tt, struct astro_time *out)
{
    if (!isfinite(jd_tt))
        return PT_E_INVALID;
    const struct astro_eop *e = eop_of(ctx);
    if (e != NULL) {
        int rc = eop_from_tt(ctx, e, jd_tt, out);
        if (rc < 0)
            return rc;
    } else {
        double jd_ut1 = model_ut1_from_tt(ctx, jd_tt);
        if (!astro__jd_in_range(ctx, jd_ut1))
            return PT_E_RANGE;
        double dt = astro__deltat_days(ctx, jd_ut1);
        out->jd_ut1 = jd_ut1;
        out->jd_tt = jd_tt;
        out->deltat_s = dt * SECONDS_PER_DAY;
        out->ut1_utc_s = NAN;
        set_model(out);
    }
    out->unix_s = unix_of(out);
    out->scale = ASTRO_TT;
    return 0;
}

/* Complete *out from a UTC reading whose Unix seconds are unix_s. */
static int finish_utc(const struct astro_ctx *ctx, const struct clock_reading *r, double unix_s,
                      struct astro_time *out)
{
    const struct astro_eop *e = eop_of(ctx);
    if (e != NULL) {
        int32_t mjd_day = (int32_t)(days_from_civil(r->year, r->month, r->day) + 40587);
        /* Second 60 only at the end of a day that has a leap second. */
        if (r->sec >= 60.0 && !(r->hour == 23 && r->min == 59 &&
                                 mjd_day >= MJD_1972 && astro_eop_has_leap_after(e, mjd_day)))
            return PT_E_INVALID;
        int rc = eop_from_utc(ctx, e, JD_UNIX_EPOCH + unix_s / SECONDS_PER_DAY, mjd_day, out);
        if (rc < 0)
            return rc;
        out->unix_s = unix_s;
        out->scale = ASTRO_UTC;
        return 0;
    }
    char serr[AS_MAXCH] = "";
    double dret[2];
    /* Refuses second 60 on a day without a leap second, among others. */
    if (swe_utc_to_jd(r->year, r->month, r->day, r->hour, r->min, r->sec, SE_GREG_CAL, dret, serr) <
        0)
        return PT_E_INVALID;
    if (!astro__jd_in_range(ctx, dret[1]))
        return PT_E_RANGE;
    out->jd_tt = dret[0];
    out->jd_ut1 = dret[1];
    out->deltat_s = astro__deltat_days(ctx, dret[1]) * SECONDS_PER_DAY;
    out->ut1_utc_s = (dret[1] - (JD_UNIX_EPOCH + unix_s / SECONDS_PER_DAY)) * SECONDS_PER_DAY;
    set_model(out);
    out->unix_s = unix_s;
    out->scale = ASTRO_UTC;
    return 0;
}

int astro_time_from_unix(const struct astro_ctx *ctx, double unix_s, struct astro_time *out)
{
    if (!isfinite(unix_s))
        return PT_E_INVALID;
    /* Refuse before splitting into calendar fields that would overflow an int. */
    double jd = JD_UNIX_EPOCH + unix_s / SECONDS_PER_DAY;
    if (!(jd > ctx->jd_ut1_min - 2.0 && jd < ctx->jd_ut1_max + 2.0))
        return PT_E_RANGE;
    astro__thread_enter(ctx);

    /* Whole seconds split exactly in integers; the fraction goes to the seconds. */
    double whole = floor(unix_s);
    double frac = unix_s - whole; /* [0, 1) */
    int64_t isec = (int64_t)whole;
    int64_t days = floor_div(isec, 86400);
    int64_t sod = isec - days * 86400;
    struct clock_reading r;
    int64_t y;
    civil_from_days(days, &y, &r.month, &r.day);
    r.year = (int)y;
    r.hour = (int)(sod / 3600);
    r.min = (int)(sod / 60 % 60);
    r.sec = (double)(sod % 60) + frac;
    return finish_utc(ctx, &r, unix_s, out);
}

int astro_time_from_jd(const struct astro_ctx *ctx, double jd, enum astro_timescale scale,
                       struct astro_time *out)
{
    if (!isfinite(jd))
        return PT_E_INVALID;
    switch (scale) {
    case ASTRO_UTC:
        return astro_time_from_unix(ctx, (jd - JD_UNIX_EPOCH) * SECONDS_PER_DAY, out);
    case ASTRO_UT1:
        astro__thread_enter(ctx);
        return finish_ut1(ctx, jd, out);
    case ASTRO_TT:
        if (!(jd > ctx->jd_ut1_min - 2.0 && jd < ctx->jd_ut1_max + 2.0))
            return PT_E_RANGE;
        astro__thread_enter(ctx);
        return finish_tt(ctx, jd, out);
    }
    return PT_E_INVALID;
}

int astro_time_parse(const struct astro_ctx *ctx, struct pt_str text, enum astro_timescale scale,
                     struct astro_time *out)
{
    if (scale != ASTRO_UTC && scale != ASTRO_UT1 && scale != ASTRO_TT)
        return PT_E_INVALID;
    if (!looks_like_iso(text)) {
        double unix_s;
        if (pt_str_to_double(text, &unix_s) < 0)
            return PT_E_INVALID;
        if (scale == ASTRO_UTC)
            return astro_time_from_unix(ctx, unix_s, out);
        return astro_time_from_jd(ctx, JD_UNIX_EPOCH + unix_s / SECONDS_PER_DAY, scale, out);
    }

    struct clock_reading r;
    int offset_min;
    int err = parse_iso(text, scale == ASTRO_UTC ? 61.0 : 60.0, &r, &offset_min);
    if (err < 0)
        return err;
    apply_offset(&r, offset_min);
    astro__thread_enter(ctx);
    switch (scale) {
    case ASTRO_UT1:
        return finish_ut1(ctx, reading_jd(&r), out);
    case ASTRO_TT:
        return finish_tt(ctx, reading_jd(&r), out);
    case ASTRO_UTC:
        break;
    }
    double unix_s = (double)days_from_civil(r.year, r.month, r.day) * SECONDS_PER_DAY +
                    r.hour * 3600.0 + r.min * 60.0 + r.sec;
    return finish_utc(ctx, &r, unix_s, out);
}

size_t astro_time_format_iso(const struct astro_time *t, char out[40])
{
    /* Whole milliseconds first, so that 59.9996 s becomes the next minute, not "60.000". */
    double ms_d = floor(t->unix_s * 1000.0 + 0.5);
    if (!isfinite(ms_d) || fabs(ms_d) > 1e17) {
        out[0] = '\0';
        return 0;
    }
    int64_t ms = (int64_t)ms_d;
    int64_t days = floor_div(ms, 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (y >= 0 && y <= 9999) {
        /* The common case without snprintf, two digits at a time: this runs several
         * times per answer. "YYYY-MM-DDTHH:MM:SS.mmmZ" is 24 bytes. */
        static const char two[] = "00010203040506070809101112131415161718192021222324"
                                  "25262728293031323334353637383940414243444546474849"
                                  "50515253545556575859606162636465666768697071727374"
                                  "75767778798081828384858687888990919293949596979899";
        int ms_of_day = (int)rem, sec = ms_of_day / 1000, msec = ms_of_day - sec * 1000;
        int hh = sec / 3600, mm = sec / 60 % 60, ss = sec % 60, yy = (int)y;
        memcpy(out, "0000-00-00T00:00:00.000Z", 25);
        memcpy(out, two + 2 * (yy / 100), 2);
        memcpy(out + 2, two + 2 * (yy % 100), 2);
        memcpy(out + 5, two + 2 * m, 2);
        memcpy(out + 8, two + 2 * d, 2);
        memcpy(out + 11, two + 2 * hh, 2);
        memcpy(out + 14, two + 2 * mm, 2);
        memcpy(out + 17, two + 2 * ss, 2);
        out[20] = (char)('0' + msec / 100);
        memcpy(out + 21, two + 2 * (msec % 100), 2);
        return 24;
    }
    int n = snprintf(out, 40, "%s%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", y < 0 ? "-" : "",
                     (long long)(y < 0 ? -y : y), m, d, (int)(rem / 3600000),
                     (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
    return n < 0 ? 0 : PT_MIN((size_t)n, 39);
}
