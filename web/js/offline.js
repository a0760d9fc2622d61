// SPDX-License-Identifier: AGPL-3.0-or-later
//
// offline.js -- the sky without the server. The page keeps, in localStorage:
//
//  - the last snapshot shown for each of a few places (written at most every 15 s),
//    so a page that cannot reach the server shows the sky as it last was ("as of
//    21:04, 3 min ago");
//  - a forecast: GET /planets at 25 hourly steps from the hour before now, asked
//    once per place and day, after the page has been live for a few seconds; from
//    it the sky of any instant of the next 24 hours is worked out (skyAt), so the
//    chart goes on through a night without the server;
//  - the last nights of the Tonight card (GET /planets/tonight answers).
//
// Between two forecast steps each body's right ascension and declination are
// interpolated and turned into azimuth and altitude for the instant (sidereal time
// from the clock), corrected by what the server's own airless values differ from
// that at the two steps (the real Earth's orientation), then refracted: within a
// few hundredths of a degree of the server's. The rest of a body (magnitude,
// phase, visibility) is the nearer step's, its next rise, transit and set the first
// ones after the instant.
//
// A place is a key: "site:<id>" for a saved site, else its rounded coordinates.
// Storage blocked or full: nothing is kept, the page works as before.

import { fetchPlanets } from './api.js';

const PREFIX = 'planettracker.';
const LAST_KEY = `${PREFIX}sky.last`;
const FORECAST_KEY = `${PREFIX}sky.forecast`;
const NIGHTS_KEY = `${PREFIX}tonight`;
const HOUR = 3600e3;
const PLACES = 3;           // places kept (last snapshots, forecasts)
const NIGHTS = 6;           // nights kept
const SAVE_EVERY_MS = 15000;
const FORECAST_STEPS = 26;  // from the hour before now to 24 h after the next hour
const FORECAST_AGE_MS = 20 * HOUR; // asked again for a place after this
export const FORECAST_DELAY_MS = 5000; // live for this long at a place before asking
const DEG = Math.PI / 180;

function read(key) {
    try {
        const v = localStorage.getItem(key);
        return v ? JSON.parse(v) : null;
    } catch {
        return null;
    }
}

/**
 * Run `fn` when the browser has nothing else to do (soon in any case): the writes
 * below re-read, merge and rewrite kept skies and nights, not worth a busy moment.
 */
function whenIdle(fn) {
    if (globalThis.requestIdleCallback) requestIdleCallback(() => fn(), { timeout: 2000 });
    else setTimeout(fn, 50);
}

function write(key, value) {
    try {
        localStorage.setItem(key, JSON.stringify(value));
        return true;
    } catch {
        return false; // blocked or full: not kept
    }
}

/** The key of a place: what the page asked for (`loc`), else the observer it got. */
export function placeKey(loc, observer) {
    if (loc?.site) return `site:${loc.site}`;
    const p = loc && Number.isFinite(loc.lat) ? loc : observer;
    if (!p || !Number.isFinite(p.lat) || !Number.isFinite(p.lon)) return null;
    return `${p.lat.toFixed(4)},${p.lon.toFixed(4)},${Math.round(p.elevation ?? 0)}`;
}

/** Keep the newest `n` entries of a list of {key, ...}, `entry` first. */
function upsert(list, entry, n) {
    return [entry, ...(Array.isArray(list) ? list : []).filter((e) => e.key !== entry.key)].slice(0, n);
}

// ---- the last snapshot ---------------------------------------------------------

let lastWrite = { key: null, at: 0 };

/**
 * Remember `snapshot`, shown for place `key` (at most every 15 s per place; written
 * when the browser is idle).
 */
export function keepSnapshot(key, snapshot, now = Date.now()) {
    if (!key || !snapshot || !Array.isArray(snapshot.bodies)) return;
    if (lastWrite.key === key && now - lastWrite.at < SAVE_EVERY_MS) return;
    lastWrite = { key, at: now };
    whenIdle(() => write(LAST_KEY, upsert(read(LAST_KEY), { key, saved: now, snapshot }, PLACES)));
}

/** The last snapshot kept for place `key` (null: the newest of any place): {key, saved, snapshot}. */
export function lastSnapshot(key) {
    const list = read(LAST_KEY);
    if (!Array.isArray(list) || list.length === 0) return null;
    return key === null ? list[0] : list.find((e) => e.key === key) ?? null;
}

// ---- the forecast --------------------------------------------------------------

/** The forecast kept for place `key` (null: the newest): {key, made, steps}, or null. */
export function forecastFor(key) {
    const list = read(FORECAST_KEY);
    if (!Array.isArray(list) || list.length === 0) return null;
    return key === null ? list[0] : list.find((e) => e.key === key) ?? null;
}

/** Whether place `key` needs a forecast (none, or one made too long ago). */
export function needsForecast(key, now = Date.now()) {
    if (!key) return false;
    const fc = forecastFor(key);
    return !fc || now - fc.made > FORECAST_AGE_MS || Date.parse(fc.steps.at(-1)?.time) < now + 12 * HOUR;
}

/**
 * Ask the server for the forecast of `loc` (key `key`): GET /planets at each hourly
 * step, one request at a time, and keep it (once the browser is idle). Resolves with
 * it; rejects when a step fails or `signal` aborts (nothing is kept then).
 */
export async function makeForecast(key, loc, signal, now = Date.now(), fetchSnapshot = fetchPlanets) {
    const first = Math.floor(now / HOUR) * HOUR - HOUR;
    const steps = [];
    for (let i = 0; i < FORECAST_STEPS; i++) {
        const iso = new Date(first + i * HOUR).toISOString().replace('.000Z', 'Z');
        const snap = await fetchSnapshot(loc, signal, iso);
        if (!snap || !Array.isArray(snap.bodies)) throw new Error('The server sent no sky.');
        steps.push(snap);
    }
    const fc = { key, made: now, steps };
    // Kept when the browser is idle (a few hundred kilobytes of JSON). Too big for what
    // is left of the storage: this place's only.
    await new Promise((resolve) => whenIdle(resolve));
    if (signal?.aborted) throw new DOMException('The forecast was not wanted any more.', 'AbortError');
    if (!write(FORECAST_KEY, upsert(read(FORECAST_KEY), fc, PLACES))) write(FORECAST_KEY, [fc]);
    return fc;
}

const wrap360 = (x) => ((x % 360) + 360) % 360;
const wrap180 = (x) => ((((x + 180) % 360) + 360) % 360) - 180;

/** Greenwich mean sidereal time (degrees) at instant `t` (ms; UTC taken for UT1). */
function gmst(t) {
    const d = t / 86400e3 + 2440587.5 - 2451545.0;
    return wrap360(280.46061837 + 360.98564736629 * d);
}

/** Azimuth (from north through east) and altitude, degrees, of RA/Dec at `t` from (lat, lon). */
export function horizontal(raDeg, decDeg, lat, lon, t) {
    const h = (gmst(t) + lon - raDeg) * DEG;
    const d = decDeg * DEG;
    const p = lat * DEG;
    const sinAlt = Math.sin(p) * Math.sin(d) + Math.cos(p) * Math.cos(d) * Math.cos(h);
    const alt = Math.asin(Math.max(-1, Math.min(1, sinAlt)));
    const az = Math.atan2(-Math.cos(d) * Math.sin(h),
                          Math.sin(d) * Math.cos(p) - Math.cos(d) * Math.sin(p) * Math.cos(h));
    return { az: wrap360(az / DEG), alt: alt / DEG };
}

const num = (x) => typeof x === 'number' && Number.isFinite(x);

/**
 * Refraction (degrees) of a body at true altitude `h` (degrees) for pressure `p`
 * (hPa) and temperature `temp` (°C): Saemundsson's formula, as the server's (libswe)
 * within a hundredth of a degree; none when the body would still look below the
 * horizon (as the server does).
 */
export function refraction(h, p = 1010, temp = 15) {
    if (!(p > 0) || h < -2) return 0;
    const r = (1.02 / Math.tan((h + 10.3 / (h + 5.11)) * DEG)) / 60 * (p / 1010) * (283 / (273 + temp));
    return h + r < 0 ? 0 : r;
}

/** One body at instant t between the same body at two steps (a at ta, b at tb). */
function between(a, b, ta, tb, t, obs) {
    const k = tb > ta ? (t - ta) / (tb - ta) : 0;
    const near = k < 0.5 ? a : b;
    const out = { ...near };
    if (num(a.ra) && num(b.ra) && num(a.dec) && num(b.dec) && num(a.az) && num(b.az)) {
        const ra = wrap360(a.ra + k * wrap180(b.ra - a.ra));
        const dec = a.dec + k * (b.dec - a.dec);
        const here = horizontal(ra, dec, obs.lat, obs.lon, t);
        const ha = horizontal(a.ra, a.dec, obs.lat, obs.lon, ta);
        const hb = horizontal(b.ra, b.dec, obs.lat, obs.lon, tb);
        // What the server adds to that (the real Earth's orientation), carried over;
        // then the refraction for the altitude of the instant.
        const dAz = wrap180(a.az - ha.az) * (1 - k) + wrap180(b.az - hb.az) * k;
        out.ra = ra;
        out.dec = dec;
        out.az = wrap360(here.az + dAz);
        if (num(a.alt_airless) && num(b.alt_airless)) {
            const airless = here.alt + (a.alt_airless - ha.alt) * (1 - k) + (b.alt_airless - hb.alt) * k;
            out.alt_airless = airless;
            out.alt = airless + refraction(airless, obs.pressure ?? 1010, obs.temperature ?? 15);
        } else {
            out.alt = here.alt + (a.alt - ha.alt) * (1 - k) + (b.alt - hb.alt) * k;
        }
    } else if (num(a.alt) && num(b.alt)) {
        out.alt = a.alt + k * (b.alt - a.alt);
        if (num(a.az) && num(b.az)) out.az = wrap360(a.az + k * wrap180(b.az - a.az));
    }
    if (typeof a.above_horizon === 'boolean' && a.above_horizon === b.above_horizon) {
        out.above_horizon = a.above_horizon;
    } else if (num(out.alt)) {
        out.above_horizon = out.alt > 0;
    }
    // The next events after t: a's unless already past, then b's.
    for (const key of ['rise', 'transit', 'set']) {
        const ea = Date.parse(a[key]);
        out[key] = Number.isFinite(ea) && ea >= t ? a[key] : b[key] ?? a[key] ?? null;
    }
    return out;
}

/**
 * The sky at instant `t` (ms) from forecast `fc`: a snapshot as the server sends
 * them (with `forecast: {made}`), or null when t is outside the forecast.
 */
export function skyAt(fc, t) {
    const steps = fc?.steps ?? [];
    if (steps.length === 0) return null;
    const times = steps.map((s) => Date.parse(s.time));
    if (!(t >= times[0] && t <= times.at(-1))) return null;
    let i = times.findIndex((x) => x > t) - 1;
    if (i < 0) i = times.length - 2;
    i = Math.max(0, i);
    const a = steps[i];
    const b = steps[Math.min(i + 1, steps.length - 1)];
    const ta = times[i];
    const tb = times[Math.min(i + 1, steps.length - 1)];
    const obs = a.observer ?? {};
    const byName = new Map(b.bodies.map((x) => [x.name, x]));
    const bodies = a.bodies.map((x) => between(x, byName.get(x.name) ?? x, ta, tb, t, obs));
    return { ...(t - ta < tb - t ? a : b), time: new Date(t).toISOString(), bodies,
             forecast: { made: fc.made } };
}

// ---- nights (the Tonight card) -----------------------------------------------------

/** A store of nights for tonight.js: get(key) and put(key, doc) (written when idle). */
export const nightStore = {
    get(key) {
        return (read(NIGHTS_KEY) ?? []).find((e) => e.key === key)?.doc ?? null;
    },
    put(key, doc) {
        whenIdle(() => write(NIGHTS_KEY, upsert(read(NIGHTS_KEY), { key, doc }, NIGHTS)));
    },
};

/** "3 min ago", "just now", "2 h ago", "yesterday"... of an instant (ms). */
export function ago(t, now = Date.now()) {
    const s = Math.max(0, Math.round((now - t) / 1000));
    if (s < 45) return 'just now';
    const min = Math.round(s / 60);
    if (min < 60) return `${min} min ago`;
    const h = Math.round(min / 60);
    if (h < 36) return `${h} h ago`;
    return `${Math.round(h / 24)} days ago`;
}
