// SPDX-License-Identifier: AGPL-3.0-or-later
//
// format.js -- turn the API's numbers into the short strings the page shows.
// Every formatter returns DASH for a missing value (undefined, null or not finite),
// so the table can render bodies whatever fields the server sends.

export const DASH = '\u2014';
const MINUS = '\u2212';

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
const pad2 = (n) => String(n).padStart(2, '0');

/** A fixed-point number with a typographic minus sign. */
export function fixed(x, digits) {
    if (!isNum(x)) return DASH;
    const s = x.toFixed(digits);
    // -0.00 reads as noise: print it as 0.00.
    if (/^-0\.?0*$/.test(s)) return s.slice(1);
    return s.replace('-', MINUS);
}

/** Degrees with two decimals: "123.45°". */
export function degrees(x, digits = 2) {
    return isNum(x) ? `${fixed(x, digits)}\u00b0` : DASH;
}

const POINTS = ['N', 'NNE', 'NE', 'ENE', 'E', 'ESE', 'SE', 'SSE',
                'S', 'SSW', 'SW', 'WSW', 'W', 'WNW', 'NW', 'NNW'];

/** The 16-point compass direction of an azimuth (north through east): "SE". */
export function compass(az) {
    if (!isNum(az)) return '';
    return POINTS[Math.round((((az % 360) + 360) % 360) / 22.5) % 16];
}

/** Right ascension given in degrees, as hours: "14h 32m 05s". */
export function rightAscension(raDeg) {
    if (!isNum(raDeg)) return DASH;
    const total = Math.round((((raDeg % 360) + 360) % 360) / 15 * 3600) % 86400;
    const h = Math.floor(total / 3600);
    const m = Math.floor(total / 60) % 60;
    return `${pad2(h)}h ${pad2(m)}m ${pad2(total % 60)}s`;
}

/** Declination in degrees, sexagesimal with a sign: "+20° 06′ 12″". */
export function declination(decDeg) {
    if (!isNum(decDeg)) return DASH;
    const total = Math.round(Math.abs(decDeg) * 3600);
    const d = Math.floor(total / 3600);
    const m = Math.floor(total / 60) % 60;
    const sign = decDeg < 0 && total > 0 ? MINUS : '+';
    return `${sign}${pad2(d)}\u00b0 ${pad2(m)}\u2032 ${pad2(total % 60)}\u2033`;
}

const KM_PER_AU = 149597870.7;

/**
 * A number rounded to a whole one, commas between the thousands: "384,400" (as
 * Intl.NumberFormat en-US, without the cost of setting one up while the page starts).
 */
export function grouped(x) {
    const s = String(Math.round(Math.abs(x)));
    return `${Math.round(x) < 0 ? MINUS : ''}${s.replace(/\B(?=(\d{3})+$)/g, ',')}`;
}

/** A distance in AU; the Moon's (under 0.01 AU) in kilometres. */
export function distance(au) {
    if (!isNum(au)) return DASH;
    if (au < 0.01) return `${grouped(au * KM_PER_AU)} km`;
    return `${fixed(au, au < 10 ? 3 : 2)} AU`;
}

/** A visual magnitude with one decimal: "−2.5". */
export function magnitude(m) {
    return fixed(m, 1);
}

/**
 * The illuminated part of the disc. The API gives a fraction 0..1; a value above 1
 * is taken as already being a percentage.
 */
export function phase(p) {
    if (!isNum(p)) return DASH;
    const pct = p > 1 ? p : p * 100;
    return `${Math.round(pct)}%`;
}

/** Plain text, or DASH when missing or empty. */
export function text(s) {
    return typeof s === 'string' && s !== '' ? s : DASH;
}

function parseTime(iso) {
    if (typeof iso !== 'string' || iso === '') return null;
    const t = new Date(iso);
    return Number.isNaN(t.getTime()) ? null : t;
}

// The time zone times are shown in: a saved site's (an IANA name), or null for the
// browser's own. Set by the page when the observer changes (setDisplayZone).
let displayZone = null;
let zoneParts = null; // an Intl.DateTimeFormat for displayZone

/** Show times in `zone` (an IANA name), or in the browser's zone when null or unknown. */
export function setDisplayZone(zone) {
    let fmt = null;
    if (typeof zone === 'string' && zone !== '') {
        try {
            fmt = new Intl.DateTimeFormat('en-GB', {
                timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric',
                day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
            });
        } catch {
            fmt = null; // a zone this browser does not know: its own zone, still labelled
        }
    }
    displayZone = fmt ? zone : null;
    zoneParts = fmt;
}

/**
 * The browser's own time zone (its IANA name, null if unknown). Temporal tells it at
 * no cost; without it, the first Intl.DateTimeFormat a page sets up costs tens of
 * milliseconds (the locale's data): that answer is kept (a change of zone then shows
 * on the next visit).
 */
let intlZone = null;

export function browserZoneName() {
    try {
        const zone = globalThis.Temporal?.Now?.timeZoneId?.();
        if (zone) return zone;
    } catch {
        // no Temporal: Intl below
    }
    intlZone ??= Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    return intlZone || null;
}

/** The zone times are shown in: the site's, or the browser's own (its IANA name). */
export function displayZoneName() {
    return displayZone ?? browserZoneName() ?? 'local time';
}

/** The wall-clock fields of instant t in the display zone. */
function wall(t) {
    if (!zoneParts) {
        return { y: t.getFullYear(), mo: t.getMonth(), d: t.getDate(), h: t.getHours(),
                 mi: t.getMinutes(), s: t.getSeconds() };
    }
    const p = Object.fromEntries(zoneParts.formatToParts(t).map((x) => [x.type, x.value]));
    return { y: Number(p.year), mo: Number(p.month) - 1, d: Number(p.day),
             h: Number(p.hour) % 24, mi: Number(p.minute), s: Number(p.second) };
}

/**
 * The wall-clock fields of an instant (ms since the epoch, or a Date) in the display
 * zone: {y, mo (0-11), d, h, mi, s}.
 */
export function wallParts(ms) {
    return wall(ms instanceof Date ? ms : new Date(ms));
}

/**
 * The instant (ms since the epoch) when the display zone's clock reads y-mo-d h:mi
 * (mo 0-11). In a gap of a daylight-saving change, a time next to it.
 */
export function zonedTime(y, mo, d, h, mi) {
    const want = Date.UTC(y, mo, d, h, mi);
    let t = want;
    for (let i = 0; i < 3; i++) {
        const w = wall(new Date(t));
        const diff = Date.UTC(w.y, w.mo, w.d, w.h, w.mi) - want;
        if (diff === 0) break;
        t -= diff;
    }
    return t;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov',
                'Dec'];

/** The date of an ISO instant (or ms) in the display zone, "15 Dec". */
export function dayMonth(iso) {
    const t = typeof iso === 'number' ? new Date(iso) : parseTime(iso);
    if (t === null || Number.isNaN(t.getTime())) return DASH;
    const w = wall(t);
    return `${w.d} ${MONTHS[w.mo]}`;
}

/** An instant (ms) as the value of an <input type="datetime-local"> in the display zone. */
export function localInputValue(ms) {
    const w = wall(new Date(ms));
    return `${String(w.y).padStart(4, '0')}-${pad2(w.mo + 1)}-${pad2(w.d)}T${pad2(w.h)}:${pad2(w.mi)}`;
}

/** The instant (ms) of a datetime-local value "2026-12-15T22:00" in the display zone, or NaN. */
export function parseLocalInput(value) {
    const m = /^(\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(String(value));
    if (m === null) return NaN;
    return zonedTime(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]));
}

/** Wall-clock time of an ISO instant in the display zone, "08:30" (or "08:30:05"). */
export function clock(iso, withSeconds = false) {
    const t = parseTime(iso);
    if (t === null) return DASH;
    const w = wall(t);
    const s = `${pad2(w.h)}:${pad2(w.mi)}`;
    return withSeconds ? `${s}:${pad2(w.s)}` : s;
}

/**
 * How many days (in the display zone) the instant `iso` falls after the sky time
 * `nowIso` ("+1d", "−1d"), or '' on the same day or when either is missing.
 */
export function dayOffset(iso, nowIso) {
    const t = parseTime(iso);
    const now = parseTime(nowIso);
    if (t === null || now === null) return '';
    const day = (d) => {
        const w = wall(d);
        return Date.UTC(w.y, w.mo, w.d) / 86400000;
    };
    const diff = day(t) - day(now);
    return diff === 0 ? '' : `${diff > 0 ? '+' : MINUS}${Math.abs(diff)}d`;
}

/** A location for people: "48.8566° N, 2.3522° E, 35 m". */
export function place(loc) {
    if (!loc || !isNum(loc.lat) || !isNum(loc.lon)) return DASH;
    const lat = `${Math.abs(loc.lat).toFixed(4)}\u00b0 ${loc.lat < 0 ? 'S' : 'N'}`;
    const lon = `${Math.abs(loc.lon).toFixed(4)}\u00b0 ${loc.lon < 0 ? 'W' : 'E'}`;
    const elev = isNum(loc.elevation) ? `, ${fixed(loc.elevation, 0)} m` : '';
    return `${lat}, ${lon}${elev}`;
}

/** "mars" -> "Mars". */
export function title(name) {
    return typeof name === 'string' && name !== '' ? name[0].toUpperCase() + name.slice(1) : DASH;
}
