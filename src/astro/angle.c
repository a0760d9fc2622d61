/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * angle.c -- parsing of angles given by users: decimal degrees, or the sexagesimal
 * "D:M:S" / "D:M" strings that PyEphem accepted for latitudes and longitudes.
 * Pure functions; thread-safe.
 */
#include "astro/astro.h"

/* Length of the run of decimal digits at s.ptr[i]. */
static size_t digit_run(struct pt_str s, size_t i)
{
    size_t n = 0;
    while (i + n < s.len && s.ptr[i + n] >= '0' && s.ptr[i + n] <= '9')
        n++;
    return n;
}

/*
 * One sexagesimal field at s.ptr[*i]: digits, and when last is set, an optional
 * fraction. Advances *i. Returns 0 or PT_E_INVALID. OUT: *v.
 */
static int read_field(struct pt_str s, size_t *i, bool last, double *v)
{
    size_t start = *i;
    size_t n = digit_run(s, start);
    if (n == 0)
        return PT_E_INVALID;
    *i += n;
    if (last && *i < s.len && s.ptr[*i] == '.') {
        size_t f = digit_run(s, *i + 1);
        if (f == 0)
            return PT_E_INVALID;
        *i += 1 + f;
    }
    return pt_str_to_double(pt_str_make(s.ptr + start, *i - start), v);
}

int astro_angle_parse(struct pt_str text, double *deg)
{
    if (text.len == 0 || memchr(text.ptr, ':', text.len) == NULL)
        return pt_str_to_double(text, deg);

    size_t i = 0;
    double sign = 1.0;
    if (text.ptr[0] == '-' || text.ptr[0] == '+') {
        sign = text.ptr[0] == '-' ? -1.0 : 1.0;
        i++;
    }
    /* Degrees, then one or two fields after a colon each. */
    double field[3] = {0.0, 0.0, 0.0};
    int nfields = 0;
    for (;;) {
        size_t after = i + digit_run(text, i);
        bool last = nfields == 2 || !(after < text.len && text.ptr[after] == ':');
        if (read_field(text, &i, last, &field[nfields]) < 0)
            return PT_E_INVALID;
        nfields++;
        if (last)
            break;
        i++; /* the colon */
    }
    if (i != text.len || nfields < 2 || field[1] >= 60.0 || field[2] >= 60.0)
        return PT_E_INVALID;
    *deg = sign * (field[0] + field[1] / 60.0 + field[2] / 3600.0);
    return 0;
}
