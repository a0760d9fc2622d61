/* SPDX-License-Identifier: AGPL-3.0-or-later */
/*
 * truth_ref.c -- test tool: the reference sky position of a request computed by
 * libswe itself with the time data the request used, so that the API's answers
 * can be compared with the reference cases of tests/data/ whatever TT-UT1 and
 * polar motion the server applied (tests/integration/test_50_api.py).
 *
 * Reads CSV lines "jd_ut1,body,lat_deg,lon_deg,elev_m,pressure_hpa,temp_c,deltat_s,xp_as,yp_as"
 * on stdin; writes "az_deg,alt_airless_deg,alt_refr_deg,ra_deg,dec_deg" per line.
 * The computation is the reference cases' own: DE431-derived files, the IERS 2010
 * sidereal-time model, TT - UT1 given per case (swe_set_delta_t_userdef),
 * swe_set_topo and swe_calc_ut(SEFLG_TOPOCTR | SEFLG_EQUATORIAL), swe_azalt; with
 * polar motion the observer is first moved (lat' = lat + x cos lon - y sin lon,
 * lon' = lon + (x sin lon + y cos lon) tan lat) and the azimuth then turned by
 * -(x sin lon + y cos lon) / cos lat, the first-order form of the IERS rotation W.
 *
 * Build: cc -O2 -o truth_ref tests/tools/truth_ref.c -lswe -lm   (make all-tests does)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <swephexp.h>

static int body_number(const char *name)
{
    static const char *const names[] = {"sun",     "moon",   "mercury", "venus",   "mars",
                                        "jupiter", "saturn", "uranus",  "neptune", "pluto"};
    static const int ipl[] = {SE_SUN,     SE_MOON,   SE_MERCURY, SE_VENUS,   SE_MARS,
                              SE_JUPITER, SE_SATURN, SE_URANUS,  SE_NEPTUNE, SE_PLUTO};
    for (int i = 0; i < 10; i++)
        if (strcmp(name, names[i]) == 0)
            return ipl[i];
    return -1;
}

int main(void)
{
    const char *path = getenv("EPHE_PATH");
    char ephe[AS_MAXCH];
    snprintf(ephe, sizeof(ephe), "%s", path != NULL && *path ? path : "/usr/share/libswe/ephe");
    swe_set_ephe_path(ephe);
    swe_set_astro_models("0,0,0,0,0,0,0,3", 0);
    char line[512];
    while (fgets(line, sizeof(line), stdin) != NULL) {
        double jd, lat, lon, elev, press, temp, dt, xp, yp;
        char body[32];
        if (sscanf(line, "%lf,%31[a-z],%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &jd, body, &lat, &lon,
                   &elev, &press, &temp, &dt, &xp, &yp) != 10) {
            fprintf(stderr, "truth_ref: bad line: %s", line);
            return 2;
        }
        int ipl = body_number(body);
        if (ipl < 0) {
            fprintf(stderr, "truth_ref: unknown body %s\n", body);
            return 2;
        }
        const double as2r = M_PI / 180.0 / 3600.0, d2r = M_PI / 180.0;
        double x = xp * as2r, y = yp * as2r, la = lat * d2r, lo = lon * d2r;
        double w = x * sin(lo) + y * cos(lo);
        double lat_m = lat + (x * cos(lo) - y * sin(lo)) / d2r;
        double lon_m = lon + w * tan(la) / d2r;
        double daz = -w / cos(la) / d2r;
        swe_set_delta_t_userdef(dt / 86400.0);
        swe_set_topo(lon_m, lat_m, elev);
        double xx[6], xaz[3];
        char serr[AS_MAXCH];
        int32 fl = SEFLG_SWIEPH | SEFLG_TOPOCTR | SEFLG_EQUATORIAL;
        int32 rc = swe_calc_ut(jd, ipl, fl, xx, serr);
        if (rc < 0 || !(rc & SEFLG_SWIEPH)) {
            fprintf(stderr, "truth_ref: libswe: %s\n", serr);
            return 1;
        }
        double geopos[3] = {lon_m, lat_m, elev};
        swe_azalt(jd, SE_EQU2HOR, geopos, press, temp, xx, xaz);
        double az = fmod(fmod(xaz[0] + 180.0 + daz, 360.0) + 360.0, 360.0);
        printf("%.12f,%.12f,%.12f,%.12f,%.12f\n", az, xaz[1], xaz[2], xx[0], xx[1]);
    }
    return 0;
}
