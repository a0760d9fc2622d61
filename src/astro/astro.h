/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * astro.h -- the astronomy layer of PlanetTracker: bodies, time scales, angles and
 * apparent topocentric positions of the Sun, the Moon and the planets.
 *
 * This first version wraps the Swiss Ephemeris (libswe 2.10, Debian) and drives it
 * exactly as tests/data/truth-cases-public.csv was computed (see truth.c in the
 * shared truth folder): DE431-derived ephemeris files, the IERS 2010 sidereal-time
 * model, libswe's automatic Delta T. Everything here is pure computation: no I/O
 * after astro_ctx_new(), no event loop, no mutable global state of our own, so any
 * function may run on the event-loop thread or on executor threads at the same time.
 *
 * Units are in the names: *_deg degrees, *_au astronomical units, *_m metres,
 * *_s seconds, jd_* Julian days. Longitudes are east positive, latitudes north
 * positive, azimuths from north through east.
 */
#ifndef PT_ASTRO_ASTRO_H
#define PT_ASTRO_ASTRO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ------------------------------------------------------------------------ */
/* Bodies                                                                     */
/* ------------------------------------------------------------------------ */

enum astro_body {
    ASTRO_SUN,
    ASTRO_MOON,
    ASTRO_MERCURY,
    ASTRO_VENUS,
    ASTRO_MARS,
    ASTRO_JUPITER,
    ASTRO_SATURN,
    ASTRO_URANUS,
    ASTRO_NEPTUNE,
    ASTRO_PLUTO,
    ASTRO_BODY_COUNT
};

/*
 * Lower-case English name of a body ("mars"), a static string. Returns NULL for a
 * value outside [0, ASTRO_BODY_COUNT). Thread-safe.
 */
const char *astro_body_name(enum astro_body body);

/*
 * The body whose astro_body_name() equals name exactly (lower case, no spaces).
 * Returns the body (>= 0), or PT_E_NOT_FOUND. Thread-safe.
 */
int astro_body_from_name(struct pt_str name);

/* ------------------------------------------------------------------------ */
/* Ephemeris context                                                          */
/* ------------------------------------------------------------------------ */

/*
 * The ephemeris configuration: data-file path, which ephemeris answered the probe,
 * the supported date range. Read-only after creation and shared by all threads.
 *
 * libswe keeps its configuration and caches in thread-local storage (Debian builds
 * it with TLS: the `swed` state is a __thread variable), so each thread that uses a
 * context configures its own copy of libswe on first use; no lock is taken.
 *
 * ONLY ONE astro_ctx MAY EXIST AT A TIME in a process: libswe has one configuration
 * per thread, and a thread that alternates between two live contexts would keep the
 * configuration of the first one it saw. Creating a new context after freeing the
 * previous one is fine (threads reconfigure themselves on their next call).
 */
struct astro_ctx;

/*
 * Create the context. ephe_path (borrowed, copied): directory of the Swiss Ephemeris
 * files; NULL means $EPHE_PATH if set, else /usr/share/libswe/ephe. (libswe itself
 * lets the environment variable SE_EPHE_PATH override any path given here.)
 * Sets the IERS 2010 sidereal-time model, then probes the Moon and Pluto: if the
 * ephemeris files did not answer, the context works on libswe's built-in Moshier
 * theory (errors up to about 2"), astro_ctx_has_files() is false and a warning is
 * logged.
 * OUT: *out, owned by the caller, released with astro_ctx_free().
 * Returns 0; PT_E_INVALID if the path is longer than libswe accepts (255 bytes);
 * PT_E_NOMEM if no thread-specific key is left; PT_E_EPHEMERIS if even Moshier
 * fails. Call from one thread while no other context exists (see above).
 */
int astro_ctx_new(const char *ephe_path, struct astro_ctx **out);

/*
 * Release the context and close the calling thread's ephemeris files. NULL does
 * nothing. No other thread may be using the context. Threads that used it keep
 * their file handles until they use a new context or exit.
 */
void astro_ctx_free(struct astro_ctx *ctx);

/* True if the DE431-derived ephemeris files answered the probe. Thread-safe. */
bool astro_ctx_has_files(const struct astro_ctx *ctx);

/* "swisseph" (DE431-derived files) or "moshier" (built-in analytic theory). */
const char *astro_ctx_ephemeris(const struct astro_ctx *ctx);

/*
 * The supported range of jd_ut1 (inclusive), given the files in use: for the
 * Debian files (sepl_18/semo_18, 1800-2400) one day inside the range the files
 * cover, for Moshier one day inside its -3000..+3000 range. OUT: *jd_min, *jd_max.
 */
void astro_ctx_jd_range(const struct astro_ctx *ctx, double *jd_min, double *jd_max);

/* ------------------------------------------------------------------------ */
/* Time                                                                       */
/* ------------------------------------------------------------------------ */

enum astro_timescale { ASTRO_UTC, ASTRO_UT1, ASTRO_TT };

/* "utc", "ut1" or "tt" (ASCII case ignored) -> the scale (>= 0), else PT_E_INVALID. */
int astro_timescale_from_name(struct pt_str name);

/* "utc", "ut1" or "tt"; NULL for an unknown value. */
const char *astro_timescale_name(enum astro_timescale s);

/* Where an instant's UT1 and polar motion came from. */
enum astro_eop_source {
    ASTRO_EOP_MODEL,     /* no Earth-orientation data for the instant: libswe's Delta T
                            model, no polar motion */
    ASTRO_EOP_OBSERVED,  /* IERS values (finals2000A, flag I) */
    ASTRO_EOP_PREDICTED, /* IERS Bulletin A predictions (flag P) */
};

/* "model", "observed", "predicted". */
const char *astro_eop_source_name(enum astro_eop_source s);

/* One instant, in the scales the computations need, with the time data used. */
struct astro_time {
    double jd_ut1;
    double jd_tt;
    double deltat_s;            /* TT - UT1, seconds */
    double ut1_utc_s;           /* UT1 - UTC, seconds (before 1972: 0, UTC is taken as UT1) */
    double xp_as;               /* polar motion applied (arcsec; 0 with the model) */
    double yp_as;
    enum astro_eop_source eop;  /* where UT1 and the polar motion came from */
    double unix_s;              /* the instant as Unix seconds (UTC), for display */
    enum astro_timescale scale; /* the scale the caller gave the instant in */
};

/*
 * The UTC instant unix_s (seconds since 1970-01-01T00:00:00Z, leap seconds not
 * counted, as POSIX time). With Earth-orientation data (astro_ctx_set_eop) that
 * covers the instant: TT = UTC + TAI-UTC (the data's leap-second table) + 32.184 s,
 * UT1 = UTC + UT1-UTC interpolated, polar motion interpolated (eop OBSERVED or
 * PREDICTED). Outside the data (before it, after the predictions end): UT1 is
 * taken as UTC (leap seconds keep them within 0.9 s), TT = UT1 + libswe's Delta T
 * model, no polar motion (eop MODEL). Without data: libswe's swe_utc_to_jd (its
 * own leap table; before 1972 UTC taken as UT1). OUT: *out (scale ASTRO_UTC,
 * unix_s exactly as given).
 * Returns 0; PT_E_INVALID for NaN or infinity; PT_E_RANGE outside
 * astro_ctx_jd_range(). Thread-safe.
 */
int astro_time_from_unix(const struct astro_ctx *ctx, double unix_s, struct astro_time *out);

/*
 * Parse an instant given in the scale `scale`. text (borrowed) is either
 *   - ISO 8601 "YYYY-MM-DD[THH:MM[:SS[.fff...]]][Z|+HH:MM|+HHMM|+HH]" (also '-' offsets;
 *     't' or a space for 'T', 'z' for 'Z'): a clock reading in `scale`; an offset
 *     means the clock ran that far ahead of the scale (the instant is the reading
 *     minus the offset). Second 60 is accepted in UTC on days with a leap second.
 *   - a decimal number: seconds since 1970-01-01T00:00:00 of `scale`.
 * UT1 readings give jd_ut1 = swe_julday(Y, M, D, h + m/60.0 + s/3600.0, Gregorian)
 * bit for bit, as the truth did; UTC readings are converted as astro_time_from_unix
 * does (second 60 only on a day that ends with a leap second); for UT1 and TT the
 * other scales come from the Earth-orientation data where it covers the instant
 * (UTC found by iteration), else from libswe's Delta T model.
 * OUT: *out. Returns 0; PT_E_INVALID for bad syntax or an impossible date or time
 * (month 13, February 30, hour 24, minute 60, offset 24:00); PT_E_RANGE outside
 * astro_ctx_jd_range(). Thread-safe.
 */
int astro_time_parse(const struct astro_ctx *ctx, struct pt_str text, enum astro_timescale scale,
                     struct astro_time *out);

/*
 * The instant jd (a Julian day in `scale`). OUT: *out. Returns 0; PT_E_INVALID for a
 * non-finite jd or unknown scale; PT_E_RANGE outside astro_ctx_jd_range().
 * Thread-safe.
 */
int astro_time_from_jd(const struct astro_ctx *ctx, double jd, enum astro_timescale scale,
                       struct astro_time *out);

/*
 * Write t->unix_s as UTC ISO 8601 with milliseconds ("2026-11-21T08:30:00.123Z")
 * into out (NUL-terminated), rounded to the millisecond. Negative (astronomical)
 * years are written with a sign ("-0500-03-01T..."). A non-finite unix_s gives "".
 * Returns the length (without the NUL). Thread-safe.
 */
size_t astro_time_format_iso(const struct astro_time *t, char out[40]);

/* ------------------------------------------------------------------------ */
/* Earth orientation (eop.c)                                                  */
/* ------------------------------------------------------------------------ */

/*
 * IERS Earth-orientation data: daily UT1-UTC and polar motion (finals2000A,
 * observed and Bulletin A predictions) and the leap-second table
 * (Leap_Second.dat). Immutable once parsed: any thread may read it.
 */
struct astro_eop;

/* The values at one instant. */
struct astro_eop_value {
    double ut1_tai_s;  /* UT1 - TAI (UT1-UTC is this plus the instant's TAI-UTC) */
    double xp_as;      /* polar motion, arcseconds */
    double yp_as;
    bool observed;     /* both neighbouring rows observed (else a prediction is involved) */
};

/* What a table holds, for health checks. Days are MJD (UTC). */
struct astro_eop_info {
    int32_t first_mjd;
    int32_t last_mjd;          /* the end of the predictions */
    int32_t last_observed_mjd; /* the last observed day (first_mjd - 1 if none) */
    int32_t leap_expires_mjd;  /* after it, a leap second may have been added */
    int32_t tai_utc_last_s;    /* TAI-UTC since the last leap second */
    size_t rows;
    char file_date[11];        /* "YYYY-MM-DD": the day after the last observed one */
};

/*
 * Parse finals2000A text and Leap_Second.dat text (both borrowed, not
 * NUL-terminated). Strict: fixed columns as ReadMe.finals2000A defines them,
 * consecutive days, |UT1-UTC| <= 1 s and |x|, |y| <= 2", I/P flags, observed rows
 * before predicted ones, at least 30 rows; a leap table from 1972-01-01 in steps
 * of one second with a "File expires on" line. OUT: *out (astro_eop_free), and on
 * error a sentence in why[0 .. why_len) (may be NULL). Returns 0 or PT_E_INVALID.
 * Thread-safe.
 */
int astro_eop_parse(struct pt_str finals, struct pt_str leap_seconds, struct astro_eop **out,
                    char *why, size_t why_len);

/* Free a table. NULL does nothing. */
void astro_eop_free(struct astro_eop *e);

/*
 * The values at mjd_utc (MJD, UTC, fractional), linearly interpolated between the
 * daily rows (UT1-TAI, so that a leap second does not disturb it). OUT: *out.
 * Returns 0, or PT_E_RANGE outside [first_mjd, last_mjd]. Thread-safe.
 */
int astro_eop_at(const struct astro_eop *e, double mjd_utc, struct astro_eop_value *out);

/* TAI-UTC (seconds) on the UTC day mjd_utc_day; 0 before 1972. Thread-safe. */
int32_t astro_eop_tai_utc(const struct astro_eop *e, int32_t mjd_utc_day);

/* True if the UTC day mjd_utc_day ends with a leap second. Thread-safe. */
bool astro_eop_has_leap_after(const struct astro_eop *e, int32_t mjd_utc_day);

/* What the table holds. OUT: *out. Thread-safe. */
void astro_eop_info(const struct astro_eop *e, struct astro_eop_info *out);

/* "YYYY-MM-DD" of an MJD. */
void astro_mjd_format(int32_t mjd, char out[11]);

/*
 * Use e (ownership taken) for every later time conversion of ctx; NULL goes back
 * to the models. Lock-free for readers: a conversion uses the table it loaded; the
 * table replaced is freed at the second replacement after it, or with the
 * context, so a reader may hold one for the length of a computation (not for
 * minutes). Call from one thread at a time (the loop); readers on any thread.
 */
void astro_ctx_set_eop(struct astro_ctx *ctx, struct astro_eop *e);

/* The table in use, or NULL (borrowed; see astro_ctx_set_eop for how long). */
const struct astro_eop *astro_ctx_eop(const struct astro_ctx *ctx);

/*
 * Where astro_position_compute() places the topocentric observer: turned by the
 * apparent sidereal time about the true pole of date (true, the default: the real
 * Earth, and JPL Horizons), or by the mean sidereal time about the mean pole, as
 * libswe does (SEFLG_NONUT in its observer routine; false, to compare with
 * astro_position_compute_exact()). They differ by up to about 0.15" for the Moon
 * (the site moves by up to about 250 m), under 0.002" for the planets. Call before
 * the context is shared between threads.
 */
void astro_ctx_set_observer_nutation(struct astro_ctx *ctx, bool on);

/* ------------------------------------------------------------------------ */
/* Angles                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * Parse an angle in degrees: decimal ("48.93", "-0.0005", "1e-3") or sexagesimal
 * "D:M:S" / "D:M" ("48:55:48.5", "-0:30:00") as PyEphem accepted: integer degrees
 * and minutes, a fraction allowed on the last field only, minutes and seconds below
 * 60, the sign applying to the whole angle. No surrounding spaces.
 * OUT: *deg. Returns 0 or PT_E_INVALID. Range checks are the caller's. Thread-safe.
 */
int astro_angle_parse(struct pt_str text, double *deg);

/* ------------------------------------------------------------------------ */
/* Positions                                                                  */
/* ------------------------------------------------------------------------ */

struct astro_observer {
    double lat_deg;      /* geodetic (WGS84-like ellipsoid), north positive */
    double lon_deg;      /* east positive */
    double elev_m;       /* height above the ellipsoid */
    double pressure_hpa; /* 0 = airless (no refraction) */
    double temp_c;
};

struct astro_position {
    double az_deg;           /* from north through east, [0, 360) */
    double alt_deg;          /* apparent, refracted (airless if pressure 0) */
    double alt_airless_deg;  /* apparent, without refraction */
    double ra_deg;           /* apparent topocentric RA of date (true equinox), [0, 360) */
    double dec_deg;          /* apparent topocentric declination of date */
    double distance_au;      /* geocentric, light-time corrected */
    double distance_topo_au; /* topocentric, light-time corrected */
};

/* Limits astro_position_compute() accepts for an observer. */
#define ASTRO_ELEV_MIN_M (-1000.0)
#define ASTRO_ELEV_MAX_M 100000.0
#define ASTRO_PRESSURE_MAX_HPA 2000.0
#define ASTRO_TEMP_MIN_C (-100.0)
#define ASTRO_TEMP_MAX_C 100.0

/*
 * The apparent topocentric position of `body` for observer `obs` (borrowed) at
 * instant `t` (borrowed; jd_ut1 and jd_tt are used): light time, annual and diurnal
 * aberration, light deflection, precession and nutation, parallax on the ellipsoid;
 * the refracted altitude uses libswe's swe_refrac_extended formula (observer height,
 * lapse rate 0.0065 K/m). OUT: *out.
 * By the fast path (DESIGN.md §5, src/astro/fast.c): the observer-independent part
 * is computed by libswe once per body per 1.5-hour step, cached in the context and
 * interpolated; the result agrees with astro_position_compute_exact() to 0.001" or
 * better (tests/unit/astro/fast_test.c), at about 0.3 us per call once the step is
 * cached (a cold step costs about 30 us). With the Moshier fallback (no files) it is
 * the exact path.
 * Returns 0; PT_E_INVALID for an unknown body; PT_E_RANGE if a field of obs is
 * non-finite or outside |lat| <= 90, |lon| <= 360, ASTRO_ELEV_*, pressure in
 * [0, ASTRO_PRESSURE_MAX_HPA], ASTRO_TEMP_*, or t->jd_ut1 is outside
 * astro_ctx_jd_range(); PT_E_EPHEMERIS if libswe fails or answers from another
 * ephemeris than the context's (the reason is logged). Thread-safe: any thread may
 * call it at any time; the cache is shared and lock-free for readers.
 */
int astro_position_compute(const struct astro_ctx *ctx, enum astro_body body,
                           const struct astro_time *t, const struct astro_observer *obs,
                           struct astro_position *out);

/*
 * The same position computed by libswe itself for this one request (swe_set_topo,
 * swe_calc_ut with SEFLG_TOPOCTR, swe_azalt), with the same arguments, results and
 * errors as astro_position_compute(). It is the reference the fast path is tested
 * against, and costs about 11 us. Thread-safe.
 */
int astro_position_compute_exact(const struct astro_ctx *ctx, enum astro_body body,
                                 const struct astro_time *t, const struct astro_observer *obs,
                                 struct astro_position *out);

/*
 * astro_position_compute() for all ASTRO_BODY_COUNT bodies at one instant and one
 * observer, out[b] for body b; the observer's part (sidereal time, position and
 * velocity on the ellipsoid) is done once. OUT: out[0 .. ASTRO_BODY_COUNT-1].
 * Returns 0; PT_E_RANGE as astro_position_compute(); PT_E_EPHEMERIS (then out is
 * partly written). Thread-safe.
 */
int astro_position_compute_all(const struct astro_ctx *ctx, const struct astro_time *t,
                               const struct astro_observer *obs,
                               struct astro_position out[ASTRO_BODY_COUNT]);

/*
 * What those positions need of their instant alone (the frame of date, the Earth's
 * place and velocity, the sidereal angle): the same for every observer, so the
 * answers at one instant share it (an app_instant holds one per rendering thread).
 * Owned by its caller; not shared between threads while it is being set.
 */
struct astro_moment;

struct astro_moment *astro_moment_new(void);
void astro_moment_free(struct astro_moment *m);

/* Make m the instant t of ctx (a copy of t is kept). Returns 0, or the error the
 * positions at t would give (m then answers with it). */
int astro_moment_set(const struct astro_ctx *ctx, const struct astro_time *t,
                     struct astro_moment *m);

/* The instant m was set to. */
const struct astro_time *astro_moment_time(const struct astro_moment *m);

/* astro_position_compute() and astro_position_compute_all() at the instant m was set
 * to with ctx: the same results and errors, bit for bit. m also keeps the site of the
 * last observer (the sines and cosines of its place, moved by polar motion), which a
 * page or a controller asking again for its place reuses: one thread at a time. */
int astro_position_compute_at(const struct astro_ctx *ctx, struct astro_moment *m,
                              enum astro_body body, const struct astro_observer *obs,
                              struct astro_position *out);
int astro_position_compute_all_at(const struct astro_ctx *ctx, struct astro_moment *m,
                                  const struct astro_observer *obs,
                                  struct astro_position out[ASTRO_BODY_COUNT]);

/* ------------------------------------------------------------------------ */
/* Observing details                                                          */
/* ------------------------------------------------------------------------ */

/* What an observer wants to know besides the position (geocentric quantities). */
struct astro_details {
    double magnitude;               /* apparent visual magnitude (libswe's swe_pheno) */
    double phase;                   /* illuminated fraction of the disc, 0..1; Sun: 1 */
    double elongation_deg;          /* angle from the Sun seen from the Earth's centre; Sun: 0 */
    char constellation[4];          /* IAU abbreviation, "Leo", "UMi"; NUL-terminated */
    const char *constellation_name; /* "Leo", "Ursa Minor": a static string */
};

/*
 * Magnitude, phase, elongation and constellation of `body` at `t` (borrowed; jd_tt is
 * used). Magnitude, phase and elongation are libswe's swe_pheno (geocentric) at the
 * ends of the 1.5-hour cache step, interpolated linearly (the Moon's phase changes by
 * under 0.005 and its magnitude by under 0.01 in a step); the constellation is found
 * by Roman's method from the geocentric astrometric direction precessed to B1875.
 * OUT: *out. Returns 0; PT_E_INVALID for an unknown body; PT_E_RANGE outside
 * astro_ctx_jd_range(); PT_E_EPHEMERIS if libswe fails. Thread-safe.
 */
int astro_details_compute(const struct astro_ctx *ctx, enum astro_body body,
                          const struct astro_time *t, struct astro_details *out);

#define ASTRO_CONSTELLATION_COUNT 88

/*
 * The IAU constellation (Delporte boundaries, Roman 1987) that contains the direction
 * (ra_deg, dec_deg), given in the ICRS / mean equator and equinox of J2000 (degrees;
 * ra any value, dec in [-90, 90]). The direction is precessed to the boundaries'
 * equinox B1875 with the IAU 1976 precession (Lieske 1977; under 0.1" from IAU 2006
 * over that interval). Returns the constellation's index in
 * [0, ASTRO_CONSTELLATION_COUNT), ordered by abbreviation, or PT_E_RANGE for a
 * non-finite or out-of-range declination. Thread-safe.
 */
int astro_constellation_find(double ra_deg, double dec_deg);

/* IAU abbreviation ("UMi") of a constellation index, or NULL if out of range. */
const char *astro_constellation_abbr(int index);

/* Name ("Ursa Minor") of a constellation index, or NULL if out of range. */
const char *astro_constellation_name(int index);

/* ------------------------------------------------------------------------ */
/* Rise, transit, set                                                         */
/* ------------------------------------------------------------------------ */

enum astro_rise_status {
    ASTRO_RISES_SETS,  /* at least one rise or set in the window */
    ASTRO_CIRCUMPOLAR, /* above the horizon for the whole window */
    ASTRO_NEVER_RISES  /* below the horizon for the whole window */
};

/* "rises_sets", "circumpolar" or "never_rises"; NULL for an unknown value. */
const char *astro_rise_status_name(enum astro_rise_status s);

/* The events of one window. An event that does not happen in the window has
 * jd_ut1, jd_tt and unix_s NAN (astro_time_format_iso() then writes ""). */
struct astro_riseset {
    struct astro_time rise;    /* upper limb (Sun, Moon) or centre (planets) rises */
    struct astro_time transit; /* upper meridian transit (topocentric hour angle 0) */
    struct astro_time set;
    enum astro_rise_status status;
};

/* Longest range astro_events_range() accepts, days. */
#define ASTRO_EVENTS_MAX_DAYS 366

/*
 * The first rise, upper transit and set of `body` after `t` (borrowed) within 1.02 day
 * (the Moon: 1.06 day, its rising recurs every 24 h 50 min), seen by `obs` (borrowed;
 * latitude, longitude and elevation are used; pressure and temperature are not).
 * USNO conventions: a rise or set is the instant the upper limb of the Sun or the
 * Moon (the centre of a planet), seen topocentrically without atmosphere, is 34'
 * below the geometric horizon (standard refraction at the horizon); no dip for the
 * observer's height. Found on the fast path by hourly samples, a check of the
 * extrema between them (grazing risings near the poles), and root refinement to
 * 0.01 s. status is ASTRO_CIRCUMPOLAR or ASTRO_NEVER_RISES when neither a rise nor a
 * set happens in the window. OUT: *out.
 * Returns 0; PT_E_INVALID for an unknown body; PT_E_RANGE as astro_position_compute()
 * (also when the window leaves astro_ctx_jd_range()); PT_E_EPHEMERIS. Thread-safe.
 * Costs a few microseconds when the day's steps are cached, up to about 0.5 ms.
 */
int astro_riseset_next(const struct astro_ctx *ctx, enum astro_body body,
                       const struct astro_time *t, const struct astro_observer *obs,
                       struct astro_riseset *out);

/*
 * The events of `days` consecutive days: out[i] holds the first rise, transit and set
 * in [start + i days, start + i + 1 days) with that day's status, as the USNO yearly
 * tables list them (start is typically 0 h UT of the first day). Conventions as
 * astro_riseset_next(). days in [1, ASTRO_EVENTS_MAX_DAYS]. OUT: out[0 .. days-1].
 * Returns 0; PT_E_RANGE for days out of range or as astro_riseset_next();
 * PT_E_INVALID; PT_E_EPHEMERIS. Thread-safe and meant for an executor thread: 366
 * days of the Moon take tens of milliseconds (bench/RESULTS.md).
 */
int astro_events_range(const struct astro_ctx *ctx, enum astro_body body,
                       const struct astro_time *start, int days,
                       const struct astro_observer *obs, struct astro_riseset *out);

#endif /* PT_ASTRO_ASTRO_H */
