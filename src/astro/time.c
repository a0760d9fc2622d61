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
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                                   /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* Inverse of days_from_civil. OUT: *y, *m, *d. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
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

/* Complete *out from jd_ut1 (thread already entered). */
static int finish_ut1(const struct astro_ctx *ctx, double jd_ut1, struct astro_time *out)
{
    if (!astro__jd_in_range(ctx, jd_ut1))
        return PT_E_RANGE;
    double dt = astro__deltat_days(ctx, jd_ut1);
    out->jd_ut1 = jd_ut1;
    out->jd_tt = jd_ut1 + dt;
    out->deltat_s = dt * SECONDS_PER_DAY;
    out->unix_s = unix_from_jd_ut1(jd_ut1);
    out->scale = ASTRO_UT1;
    return 0;
}

/* Complete *out from jd_tt: jd_ut1 solves jd_ut1 + deltaT(jd_ut1) = jd_tt. */
static int finish_tt(const struct astro_ctx *ctx, double jd_tt, struct astro_time *out)
{
    if (!isfinite(jd_tt))
        return PT_E_INVALID;
    /* Delta T changes by under 1e-7 s per second, so each iteration gains seven
     * digits; three leave an error far below a microsecond. */
    double jd_ut1 = jd_tt;
    for (int k = 0; k < 3; k++)
        jd_ut1 = jd_tt - astro__deltat_days(ctx, jd_ut1);
    if (!astro__jd_in_range(ctx, jd_ut1))
        return PT_E_RANGE;
    double dt = astro__deltat_days(ctx, jd_ut1);
    out->jd_ut1 = jd_ut1;
    out->jd_tt = jd_tt;
    out->deltat_s = dt * SECONDS_PER_DAY;
    out->unix_s = unix_from_jd_ut1(jd_ut1);
    out->scale = ASTRO_TT;
    return 0;
}

/* Complete *out from a UTC reading whose Unix seconds are unix_s. */
static int finish_utc(const struct astro_ctx *ctx, const struct clock_reading *r, double unix_s,
                      struct astro_time *out)
{
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
        /* The common case without snprintf: this runs several times per answer. */
        int f[7] = {(int)y, m, d, (int)(rem / 3600000), (int)(rem / 60000 % 60),
                    (int)(rem / 1000 % 60), (int)(rem % 1000)};
        char *p = out;
        *p++ = (char)('0' + f[0] / 1000);
        *p++ = (char)('0' + f[0] / 100 % 10);
        *p++ = (char)('0' + f[0] / 10 % 10);
        *p++ = (char)('0' + f[0] % 10);
        static const char seps[] = "--T::.";
        for (int i = 1; i < 7; i++) {
            *p++ = seps[i - 1];
            if (i == 6)
                *p++ = (char)('0' + f[i] / 100);
            *p++ = (char)('0' + f[i] / 10 % 10);
            *p++ = (char)('0' + f[i] % 10);
        }
        *p++ = 'Z';
        *p = '\0';
        return (size_t)(p - out);
    }
    int n = snprintf(out, 40, "%s%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", y < 0 ? "-" : "",
                     (long long)(y < 0 ? -y : y), m, d, (int)(rem / 3600000),
                     (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000));
    return n < 0 ? 0 : PT_MIN((size_t)n, 39);
}
