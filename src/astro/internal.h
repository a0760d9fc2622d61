/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * internal.h -- what only the astro layer's own files share: the layout of the
 * ephemeris context and the per-thread libswe set-up. Never include it outside
 * src/astro/ (and its unit tests).
 */
#ifndef PT_ASTRO_INTERNAL_H
#define PT_ASTRO_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "astro/astro.h"

/* libswe's AS_MAXCH: the longest path string it copies, NUL included. */
#define ASTRO__PATH_MAX 256

struct astro_cache; /* fast.c: the shared per-step cache, see there */

struct astro_ctx {
    char ephe_path[ASTRO__PATH_MAX];
    int32_t eph_flag; /* SEFLG_SWIEPH or SEFLG_MOSEPH, requested on every call */
    bool has_files;
    double jd_ut1_min; /* supported range, inclusive */
    double jd_ut1_max;
    pthread_key_t thread_key; /* set (to the context) in each thread configured for it */
    struct astro_cache *cache; /* fast path: mutable, internally synchronized; NULL = exact only */
    double bias[9];            /* ICRS -> mean J2000 frame-bias matrix (row major), as libswe's */
    _Atomic(struct astro_eop *) eop; /* Earth-orientation data, or NULL: see astro_ctx_set_eop */
    struct astro_eop *eop_retired;   /* the table eop replaced, freed at the next replacement */
    bool observer_nutation;          /* fast path: observer about the true pole (default) */
};

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
int64_t astro__days_from_civil(int64_t y, int m, int d);

/* Inverse of astro__days_from_civil. OUT: *y, *m, *d. */
void astro__civil_from_days(int64_t z, int64_t *y, int *m, int *d);

/*
 * Make sure the calling thread's copy of libswe is configured for ctx (ephemeris
 * path, sidereal-time model); does the set-up on a thread's first call. Must be
 * called before any libswe function. Thread-safe.
 */
void astro__thread_enter(const struct astro_ctx *ctx);

/* True if jd_ut1 is finite and inside ctx's supported range. */
bool astro__jd_in_range(const struct astro_ctx *ctx, double jd_ut1);

/* True if every field of obs is finite and inside the limits astro_position_compute()
 * documents. */
bool astro__observer_is_valid(const struct astro_observer *obs);

/* libswe's planet number for a body (SE_SUN ...). body must be valid. */
int astro__body_ipl(enum astro_body body);

/* TT - UT1 in days that libswe applies at jd_ut1 (thread already entered). */
double astro__deltat_days(const struct astro_ctx *ctx, double jd_ut1);

/*
 * Set up the fast path of ctx (fast.c): the frame-bias matrix and the empty cache. The
 * calling thread must have entered libswe. Returns 0 or PT_E_EPHEMERIS.
 */
int astro__fast_init(struct astro_ctx *ctx);

/* Release what astro__fast_init() allocated. */
void astro__fast_deinit(struct astro_ctx *ctx);

/*
 * An observer's place worked out once for every instant it is wanted at: where it
 * stands (the pole's offsets applied), the sines and cosines of its geodetic latitude
 * and longitude, and its distances from the Earth's axis and from the equator's plane
 * on libswe's ellipsoid (au).
 */
struct astro__site {
    struct astro_observer obs; /* moved by polar motion; its air as given */
    double sinlat, coslat;
    double sinlon, coslon;
    double rxy_au, z_au;
};

/*
 * The site of obs with the pole at (xp_as, yp_as) arcseconds (0, 0 for none): the
 * observer moved to the pole's frame, as ERFA's atco13 turns by W, and *daz_deg, the
 * turn from that frame's azimuth back to the crust's. obs must be valid. Thread-safe.
 */
void astro__site_init(const struct astro_observer *obs, double xp_as, double yp_as,
                      struct astro__site *out, double *daz_deg);

struct astro__moment;

/*
 * What a rise and set search needs of astro__fast_position(): the airless altitude,
 * the distances and the topocentric hour angle (degrees, in (-180, 180]); out's right
 * ascension, declination and azimuth are NaN (a planet at the Sun's limb, answered by
 * the exact path, has them all). scratch: the caller's, for a series of instants (a
 * search): the frame block of a step is read once for all the instants in it (a
 * step's block is the same whenever it is read). OUT: *out, *ha_deg, *scratch.
 * Returns 0 or PT_E_EPHEMERIS. Thread-safe.
 */
int astro__fast_topo(const struct astro_ctx *ctx, enum astro_body body, double jd_ut1, double jd_tt,
                     const struct astro__site *site, struct astro__moment *scratch,
                     struct astro_position *out, double *ha_deg);

/*
 * A cheap altitude for bracketing rise and set: the body's geocentric apparent place
 * at the whole UT1 hour `hour` (jd_ut1 = hour / 24, jd_tt = jd_ut1 + dt_days), cached
 * and shared by every observer, moved to obs by the parallax of its site. Within about
 * 1" of astro__fast_topo() (diurnal aberration and the light time from the site are
 * left out). OUT: airless *alt_deg, topocentric *ha_deg in (-180, 180], *dist_topo_au.
 * Returns 0, 1 when only astro__fast_topo() is right there (a planet at the Sun's
 * limb), or PT_E_EPHEMERIS. Thread-safe.
 */
int astro__fast_topo_hour(const struct astro_ctx *ctx, enum astro_body body, int64_t hour,
                          double dt_days, const struct astro__site *site, double *alt_deg,
                          double *ha_deg, double *dist_topo_au);

/* Words of the frame block (fast.c): the frame of date and the Earth over one step. */
#define ASTRO__FRAME_WORDS 68

/*
 * What a fast position needs of its instant alone: the frame block, the Earth's place
 * and velocity, N·P·B and P^T interpolated to jd_tt, and the sidereal angle the site
 * turns by. The same for every observer, so the answers at one instant can share it
 * (astro_moment_set). Filled by astro__moment_init; read-only after.
 */
struct astro__moment {
    double jd_ut1, jd_tt;
    bool have_frame;               /* fw holds the block of step frame_step */
    int64_t frame_step;
    double fw[ASTRO__FRAME_WORDS]; /* the frame block */
    double s;                      /* position of jd_tt in the step, [0, 1) */
    double e[3], ev[3];            /* Earth, barycentric ICRS, au and au/day, at jd_tt */
    double npb[9], pt[9];          /* N·P·B and P^T at jd_tt */
    double cos_th, sin_th;         /* the sidereal angle the site is turned by */
    double turn_rad;               /* from it to swe_azalt's local apparent sidereal time */
};

/* m for the instant (jd_ut1, jd_tt) of ctx. Returns 0 or PT_E_EPHEMERIS. Thread-safe. */
int astro__moment_init(const struct astro_ctx *ctx, double jd_ut1, double jd_tt,
                       struct astro__moment *m);

/*
 * The fast path of astro_position_compute() at the prepared instant m (body, observer
 * and range already validated; ctx->cache not NULL), and the same for every body with
 * the observer's part done once. OUT: *out, out[ASTRO_BODY_COUNT]. Returns 0 or
 * PT_E_EPHEMERIS. Thread-safe.
 */
int astro__fast_position(const struct astro_ctx *ctx, const struct astro__moment *m,
                         enum astro_body body, const struct astro__site *site,
                         struct astro_position *out);
int astro__fast_position_all(const struct astro_ctx *ctx, const struct astro__moment *m,
                             const struct astro__site *site,
                             struct astro_position out[ASTRO_BODY_COUNT]);

/*
 * Geocentric quantities that change slowly, interpolated from the per-step cache:
 * magnitude, illuminated fraction, elongation (degrees), and the geocentric astrometric
 * J2000 (ICRS) direction (unit vector). OUT: *pheno (4 doubles), dir[3].
 * Returns 0 or PT_E_EPHEMERIS. Thread-safe.
 */
int astro__fast_pheno(const struct astro_ctx *ctx, enum astro_body body, double jd_tt,
                      double pheno[4], double dir[3]);

/* One row of Roman's constellation table (constellations_table.c, generated). */
struct astro__constellation_bound {
    double ra_lo_h;  /* B1875 right ascension, hours, inclusive */
    double ra_hi_h;  /* exclusive */
    double dec_lo_deg; /* B1875 declination, degrees, inclusive lower bound */
    int index;       /* into the two name arrays */
};

extern const char *const astro__constellation_abbrs[ASTRO_CONSTELLATION_COUNT];
extern const char *const astro__constellation_names[ASTRO_CONSTELLATION_COUNT];
extern const struct astro__constellation_bound astro__constellation_bounds[];
extern const size_t astro__constellation_bound_count;

#endif /* PT_ASTRO_INTERNAL_H */
