/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * eop.c -- Earth-orientation data: the IERS finals2000A table (daily UT1-UTC and
 * polar motion, observed or predicted, Bulletin A) and the IERS leap-second file
 * (Leap_Second.dat, with its expiry date), parsed and checked, and the values at
 * any instant the table covers.
 *
 * Parsing is pure (text in, table out) and strict: a row must have its fixed
 * columns where ReadMe.finals2000A puts them, MJDs increase by one day, values
 * stay in physical ranges; anything else refuses the whole file, so a truncated
 * or corrupt download never replaces good data.
 *
 * Interpolation (IERS Conventions 2010, ch. 5, and what the reference cases
 * assume): linear between the daily rows, at MJD UTC. UT1-UTC steps by one second
 * at a leap second, so what is interpolated is UT1-TAI, which is smooth; UT1-UTC
 * is then UT1-TAI plus the instant's TAI-UTC. Linear interpolation of daily
 * values errs by under 0.1 ms of UT1 (0.002") against the IERS's own Lagrange
 * scheme, far below the prediction error (3 ms a week past the last observation,
 * 0.05"; 0.17" at 30 days). The diurnal and semi-diurnal tidal terms (under 0.1 ms
 * and 0.0005") are not added.
 *
 * A table is immutable once parsed, so any thread may read it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "astro/internal.h"

#define MJD_UNIX_EPOCH 40587 /* 1970-01-01 */
#define MIN_ROWS 30
/* Physical bounds of the values (with room): |UT1-UTC| < 0.9 s by definition. */
#define MAX_DUT1_S 1.0
#define MAX_PM_AS 2.0

struct eop_row {
    double ut1_tai_s;    /* UT1 - TAI at 0h UTC of the day */
    double xp_as;
    double yp_as;
    bool observed;       /* UT1 and polar motion both flagged I (IERS), not P */
};

struct leap_step {
    int32_t mjd;         /* first day of this TAI-UTC */
    int32_t tai_utc_s;
};

struct astro_eop {
    int32_t mjd_first;           /* the day of rows[0] */
    size_t nrows;                /* rows with values; rows[i] is day mjd_first + i */
    struct eop_row *rows;
    int32_t mjd_last_observed;   /* last row flagged I, or mjd_first - 1 */
    size_t nleaps;
    struct leap_step *leaps;
    int32_t leap_expires_mjd;    /* "File expires on ..." of Leap_Second.dat */
    char file_date[11];          /* made once: every answer carries it */
};

/* ------------------------------------------------------------- parsing */

/* A fixed-width field [from, to] (1-based, inclusive, as in the ReadMe) as a number. */
static bool field_number(struct pt_str line, size_t from, size_t to, double *out)
{
    if (line.len < to)
        return false;
    struct pt_str f = pt_str_trim(pt_str_make(line.ptr + from - 1, to - from + 1));
    return f.len > 0 && pt_str_to_double(f, out) == 0 && isfinite(*out);
}

static bool field_is_blank(struct pt_str line, size_t from, size_t to)
{
    for (size_t i = from - 1; i < to && i < line.len; i++)
        if (line.ptr[i] != ' ')
            return false;
    return true;
}

static struct pt_str next_line(struct pt_str text, size_t *pos)
{
    size_t start = *pos;
    size_t end = start;
    while (end < text.len && text.ptr[end] != '\n')
        end++;
    *pos = end < text.len ? end + 1 : end;
    size_t len = end - start;
    if (len > 0 && text.ptr[start + len - 1] == '\r')
        len--;
    return pt_str_make(text.ptr + start, len);
}

static void say(char *why, size_t why_len, const char *fmt, ...) PT_PRINTF(3, 4);

static void say(char *why, size_t why_len, const char *fmt, ...)
{
    if (why == NULL || why_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

/* TAI-UTC on day mjd from the steps (0 before the first). */
static int32_t leap_at(const struct leap_step *leaps, size_t n, int32_t mjd)
{
    int32_t v = 0;
    for (size_t lo = 0, hi = n; lo < hi;) {
        size_t mid = (lo + hi) / 2;
        if (leaps[mid].mjd <= mjd) {
            v = leaps[mid].tai_utc_s;
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return v;
}

static const char *const month_names[12] = {"January", "February", "March",     "April",
                                            "May",     "June",     "July",      "August",
                                            "September", "October", "November", "December"};

/* "File expires on 28 June 2027" -> the MJD of that day, or -1. */
static int32_t parse_expiry(struct pt_str line)
{
    const char *key = "File expires on ";
    size_t klen = strlen(key);
    for (size_t i = 0; i + klen <= line.len; i++) {
        if (memcmp(line.ptr + i, key, klen) != 0)
            continue;
        char buf[64];
        size_t n = PT_MIN(line.len - i - klen, sizeof(buf) - 1);
        memcpy(buf, line.ptr + i + klen, n);
        buf[n] = '\0';
        int d, y;
        char mon[16];
        if (sscanf(buf, "%2d %15s %4d", &d, mon, &y) != 3)
            return -1;
        for (int m = 0; m < 12; m++) {
            if (strcmp(mon, month_names[m]) == 0 && d >= 1 && d <= 31 && y > 1972 && y < 3000)
                return (int32_t)(astro__days_from_civil(y, m + 1, d) + MJD_UNIX_EPOCH);
        }
        return -1;
    }
    return -1;
}

/* The five numbers of a leap-second line, all whole; false for anything else. */
static bool leap_fields(struct pt_str line, double f[5])
{
    size_t i = 0, n = 0;
    while (n < 5) {
        while (i < line.len && (line.ptr[i] == ' ' || line.ptr[i] == '\t'))
            i++;
        size_t start = i;
        while (i < line.len && line.ptr[i] != ' ' && line.ptr[i] != '\t')
            i++;
        if (i == start || i - start > 24 ||
            pt_str_to_double(pt_str_make(line.ptr + start, i - start), &f[n]) != 0 ||
            !isfinite(f[n]) || f[n] != floor(f[n]))
            return false;
        n++;
    }
    return pt_str_trim(pt_str_make(line.ptr + i, line.len - i)).len == 0;
}

static int parse_leaps(struct pt_str text, struct astro_eop *e, char *why, size_t why_len)
{
    size_t cap = 64;
    e->leaps = pt_xcalloc(cap, sizeof(*e->leaps));
    e->leap_expires_mjd = -1;
    size_t pos = 0;
    for (int lineno = 1; pos < text.len; lineno++) {
        struct pt_str line = next_line(text, &pos);
        struct pt_str t = pt_str_trim(line);
        if (t.len == 0)
            continue;
        if (t.ptr[0] == '#') {
            int32_t mjd = parse_expiry(t);
            if (mjd > 0)
                e->leap_expires_mjd = mjd;
            continue;
        }
        /* "    41317.0    1  1 1972       10" */
        double f[5];
        if (!leap_fields(t, f) || f[0] < 41317 || f[0] > 100000 || f[1] < 1 || f[1] > 31 ||
            f[2] < 1 || f[2] > 12 || f[3] < 1972 || f[3] > 3000 || f[4] < 10 || f[4] > 100 ||
            astro__days_from_civil((int64_t)f[3], (int)f[2], (int)f[1]) + MJD_UNIX_EPOCH !=
                (int64_t)f[0]) {
            say(why, why_len, "leap seconds, line %d: not \"MJD day month year TAI-UTC\"",
                lineno);
            return PT_E_INVALID;
        }
        double mjd = f[0];
        int tai_utc = (int)f[4];
        if (e->nleaps > 0 && (mjd <= e->leaps[e->nleaps - 1].mjd ||
                              tai_utc != e->leaps[e->nleaps - 1].tai_utc_s + 1)) {
            say(why, why_len, "leap seconds, line %d: dates or steps out of order", lineno);
            return PT_E_INVALID;
        }
        if (e->nleaps == cap) {
            cap *= 2;
            e->leaps = pt_xrealloc(e->leaps, cap * sizeof(*e->leaps));
        }
        e->leaps[e->nleaps++] = (struct leap_step){(int32_t)mjd, tai_utc};
    }
    if (e->nleaps == 0 || e->leaps[0].mjd != 41317) {
        say(why, why_len, "leap seconds: the table must start on 1972-01-01");
        return PT_E_INVALID;
    }
    if (e->leap_expires_mjd < 0) {
        say(why, why_len, "leap seconds: no \"File expires on\" line");
        return PT_E_INVALID;
    }
    return 0;
}

static int parse_finals(struct pt_str text, struct astro_eop *e, char *why, size_t why_len)
{
    size_t cap = 1024;
    e->rows = pt_xcalloc(cap, sizeof(*e->rows));
    e->mjd_last_observed = -1;
    size_t pos = 0;
    bool ended = false; /* past the last row with values: only empty future rows may follow */
    int32_t prev_mjd = -1;
    for (int lineno = 1; pos < text.len; lineno++) {
        struct pt_str line = next_line(text, &pos);
        if (pt_str_trim(line).len == 0)
            continue;
        double mjd;
        if (line.len < 15 || !field_number(line, 8, 15, &mjd) || mjd != floor(mjd) ||
            mjd < 41000 || mjd > 100000) {
            say(why, why_len, "finals2000A, line %d: no MJD in columns 8-15", lineno);
            return PT_E_INVALID;
        }
        if (prev_mjd >= 0 && (int32_t)mjd != prev_mjd + 1) {
            say(why, why_len, "finals2000A, line %d: MJD %.0f does not follow %d", lineno, mjd,
                prev_mjd);
            return PT_E_INVALID;
        }
        prev_mjd = (int32_t)mjd;
        bool has_ut1 = line.len >= 68 && !field_is_blank(line, 59, 68);
        bool has_pm = line.len >= 46 && !field_is_blank(line, 19, 27);
        if (has_ut1 != has_pm) {
            say(why, why_len, "finals2000A, line %d: a row cut short (polar motion without "
                "UT1-UTC, or the reverse)", lineno);
            return PT_E_INVALID;
        }
        if (!has_ut1) {
            ended = true; /* the future rows of the file carry no values */
            continue;
        }
        if (ended) {
            say(why, why_len, "finals2000A, line %d: values after rows without values", lineno);
            return PT_E_INVALID;
        }
        double dut1, xp, yp;
        char pm_flag = line.ptr[16];
        char ut1_flag = line.ptr[57];
        if (!field_number(line, 59, 68, &dut1) || !field_number(line, 19, 27, &xp) ||
            !field_number(line, 38, 46, &yp) || fabs(dut1) > MAX_DUT1_S ||
            fabs(xp) > MAX_PM_AS || fabs(yp) > MAX_PM_AS ||
            (pm_flag != 'I' && pm_flag != 'P') || (ut1_flag != 'I' && ut1_flag != 'P')) {
            say(why, why_len, "finals2000A, line %d: bad UT1-UTC or polar motion", lineno);
            return PT_E_INVALID;
        }
        if (e->nrows == 0)
            e->mjd_first = (int32_t)mjd;
        if (e->nrows == cap) {
            cap *= 2;
            e->rows = pt_xrealloc(e->rows, cap * sizeof(*e->rows));
        }
        int32_t tai_utc = leap_at(e->leaps, e->nleaps, (int32_t)mjd);
        bool observed = ut1_flag == 'I' && pm_flag == 'I';
        if (observed && e->mjd_last_observed != (int32_t)mjd - 1 && e->nrows > 0) {
            say(why, why_len, "finals2000A, line %d: an observed row after predicted ones",
                lineno);
            return PT_E_INVALID;
        }
        e->rows[e->nrows++] = (struct eop_row){dut1 - tai_utc, xp, yp, observed};
        if (observed)
            e->mjd_last_observed = (int32_t)mjd;
    }
    if (e->nrows < MIN_ROWS) {
        say(why, why_len, "finals2000A: %zu rows with values (at least %d expected)", e->nrows,
            MIN_ROWS);
        return PT_E_INVALID;
    }
    if (e->mjd_first < 41317) {
        say(why, why_len, "finals2000A: rows before 1972 are not supported");
        return PT_E_INVALID;
    }
    return 0;
}

int astro_eop_parse(struct pt_str finals, struct pt_str leap_seconds, struct astro_eop **out,
                    char *why, size_t why_len)
{
    /* Both files end with a newline; a download cut anywhere else is refused whole. */
    if (finals.len == 0 || finals.ptr[finals.len - 1] != '\n') {
        say(why, why_len, "finals2000A: the text does not end with a newline (truncated?)");
        return PT_E_INVALID;
    }
    if (leap_seconds.len == 0 || leap_seconds.ptr[leap_seconds.len - 1] != '\n') {
        say(why, why_len, "leap seconds: the text does not end with a newline (truncated?)");
        return PT_E_INVALID;
    }
    struct astro_eop *e = pt_xcalloc(1, sizeof(*e));
    int rc = parse_leaps(leap_seconds, e, why, why_len);
    if (rc == 0)
        rc = parse_finals(finals, e, why, why_len);
    if (rc < 0) {
        astro_eop_free(e);
        return rc;
    }
    astro_mjd_format(e->mjd_last_observed + 1, e->file_date);
    *out = e;
    return 0;
}

void astro_eop_free(struct astro_eop *e)
{
    if (e == NULL)
        return;
    free(e->rows);
    free(e->leaps);
    free(e);
}

/* ------------------------------------------------------------- lookups */

int32_t astro_eop_tai_utc(const struct astro_eop *e, int32_t mjd_utc_day)
{
    return leap_at(e->leaps, e->nleaps, mjd_utc_day);
}

bool astro_eop_has_leap_after(const struct astro_eop *e, int32_t mjd_utc_day)
{
    return leap_at(e->leaps, e->nleaps, mjd_utc_day + 1) !=
           leap_at(e->leaps, e->nleaps, mjd_utc_day);
}

int astro_eop_at(const struct astro_eop *e, double mjd_utc, struct astro_eop_value *out)
{
    double last = e->mjd_first + (double)e->nrows - 1;
    if (!(mjd_utc >= e->mjd_first && mjd_utc <= last))
        return PT_E_RANGE;
    double k = floor(mjd_utc);
    size_t i = (size_t)(k - e->mjd_first);
    if (i + 1 >= e->nrows)
        i = e->nrows - 2; /* the last day itself: its row and the one before */
    double f = mjd_utc - (e->mjd_first + (double)i);
    const struct eop_row *a = &e->rows[i];
    const struct eop_row *b = &e->rows[i + 1];
    out->ut1_tai_s = a->ut1_tai_s + f * (b->ut1_tai_s - a->ut1_tai_s);
    out->xp_as = a->xp_as + f * (b->xp_as - a->xp_as);
    out->yp_as = a->yp_as + f * (b->yp_as - a->yp_as);
    out->observed = a->observed && (f == 0.0 || b->observed);
    return 0;
}

void astro_eop_info(const struct astro_eop *e, struct astro_eop_info *out)
{
    out->first_mjd = e->mjd_first;
    out->last_mjd = e->mjd_first + (int32_t)e->nrows - 1;
    out->last_observed_mjd = e->mjd_last_observed;
    out->leap_expires_mjd = e->leap_expires_mjd;
    out->tai_utc_last_s = e->leaps[e->nleaps - 1].tai_utc_s;
    out->rows = e->nrows;
    memcpy(out->file_date, e->file_date, sizeof(out->file_date));
}

void astro_mjd_format(int32_t mjd, char out[11])
{
    int64_t y;
    int m, d;
    astro__civil_from_days((int64_t)mjd - MJD_UNIX_EPOCH, &y, &m, &d);
    int yy = (int)(y % 10000);
    if (yy < 0)
        yy = 0;
    out[0] = (char)('0' + yy / 1000);
    out[1] = (char)('0' + yy / 100 % 10);
    out[2] = (char)('0' + yy / 10 % 10);
    out[3] = (char)('0' + yy % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}
