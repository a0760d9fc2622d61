// SPDX-License-Identifier: AGPL-3.0-or-later
//
// location.js -- the observer's location: the Greenwich default, parsing and range
// checks of what the user types or pastes (decimal degrees, D:M:S, degrees with
// ° ′ ″, N/S/E/W letters, a pair "48.85, 2.35" in one go), and a promise around the
// browser's Geolocation API.
// A location is {lat, lon, elevation}: degrees (north and east positive) and metres.

/** The server's default observer, used when nothing else is known. */
export const GREENWICH = Object.freeze({ lat: 51.4769, lon: -0.0005, elevation: 0 });

/** What each input accepts, with the words used in error messages. */
export const FIELDS = Object.freeze({
    lat: { label: 'Latitude', min: -90, max: 90, unit: '\u00b0', angle: true },
    lon: { label: 'Longitude', min: -180, max: 180, unit: '\u00b0', angle: true },
    elevation: { label: 'Elevation', min: -500, max: 10000, unit: ' m', angle: false },
});

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)$/;
const SEXAGESIMAL = /^([+-]?)(\d+):(\d+(?:\.\d*)?)(?::(\d+(?:\.\d*)?))?$/;

/**
 * Parse a typed number. Angles also accept D:M or D:M:S ("48:51:24", as the original
 * app did), degrees-minutes-seconds with symbols ("48°51′24″") and a hemisphere
 * letter ("33.87 S", "W 0.0005"; see parseAngle). Returns a finite number, or NaN
 * when the text is not a number.
 */
export function parseField(text, angle) {
    const s = String(text).trim().replace('\u2212', '-').replace(',', '.');
    if (DECIMAL.test(s)) return Number(s);
    if (!angle) return NaN;
    const m = SEXAGESIMAL.exec(s);
    if (m === null) return parseAngle(text, null);
    const minutes = Number(m[3]);
    const seconds = m[4] === undefined ? 0 : Number(m[4]);
    if (minutes >= 60 || seconds >= 60) return NaN;
    const v = Number(m[2]) + minutes / 60 + seconds / 3600;
    return m[1] === '-' ? -v : v;
}

// ---- coordinates as people paste them --------------------------------------------

/**
 * `text` with the look-alike characters of pasted coordinates made plain: the
 * typographic minus, primes and quotes, the ordinal º used for a degree sign.
 */
function normalise(text) {
    return String(text)
        .replace(/[\u2212\u2012\u2013\u2014\ufe63\uff0d]/g, '-')
        .replace(/[\u00ba\u02da]/g, '\u00b0')
        .replace(/[\u2032\u2019\u2018\u02b9\u00b4`]/g, "'")
        .replace(/[\u2033\u201d\u201c\u02ba]|''/g, '"')
        .toUpperCase();
}

const TOKEN = /\s*(?:(\d+(?:\.\d*)?|\.\d+)|([NSEW])(?![A-Z])|(\u00b0|DEG(?![A-Z]))|(')|(")|(:)|([,;/])|([+-])|(M)(?![A-Z])|(\S))/y;

/** Split normalised text into tokens: {t: 'num'|'hemi'|'deg'|'min'|'sec'|'colon'|'sep'|'sign'|'m', v}. */
function tokens(s) {
    const out = [];
    TOKEN.lastIndex = 0;
    let m;
    while (TOKEN.lastIndex < s.length && (m = TOKEN.exec(s)) !== null) {
        if (m[0].trim() === '') break;
        if (m[1] !== undefined) out.push({ t: 'num', v: Number(m[1]) });
        else if (m[2] !== undefined) out.push({ t: 'hemi', v: m[2] });
        else if (m[3] !== undefined) out.push({ t: 'deg' });
        else if (m[4] !== undefined) out.push({ t: 'min' });
        else if (m[5] !== undefined) out.push({ t: 'sec' });
        else if (m[6] !== undefined) out.push({ t: 'colon' });
        else if (m[7] !== undefined) out.push({ t: 'sep' });
        else if (m[8] !== undefined) out.push({ t: 'sign', v: m[8] });
        else if (m[9] !== undefined) out.push({ t: 'm' });
        else return null; // a character no coordinate has
    }
    return out;
}

/**
 * The angles written in `text`, in order: [{value, axis}] with axis 'lat' (N/S
 * given), 'lon' (E/W given) or null; a trailing plain number after two angles, with
 * an optional "m", is an elevation ({value, axis: 'elevation'}). Null when the text
 * is not a list of angles. Each angle is decimal degrees ("48.85", "-33.87"),
 * D:M[:S] ("48:51:24"), or degrees with ° and optional minutes ′ and seconds ″
 * ("48°51′24″", "48° 51.4′"), with an optional hemisphere letter before or after
 * ("S 33.87", "33.87 S"). Minutes and seconds must be under 60.
 */
export function scanAngles(text) {
    const toks = tokens(normalise(text));
    if (toks === null) return null;
    const out = [];
    let i = 0;
    const peek = (k = 0) => toks[i + k];
    const is = (t, k = 0) => toks[i + k]?.t === t;
    while (i < toks.length) {
        if (is('sep')) {
            i++;
            continue;
        }
        let hemi = null;
        let prefixed = false;
        let sign = 1;
        if (is('hemi')) {
            hemi = peek().v;
            prefixed = true;
            i++;
        }
        if (is('sign')) {
            if (peek().v === '-') sign = -1;
            i++;
        }
        if (!is('num')) return null;
        let value = peek().v;
        const whole = Number.isInteger(value);
        i++;
        let minutes = null;
        let seconds = null;
        if (is('colon')) {
            if (!whole || !is('num', 1)) return null;
            minutes = peek(1).v;
            i += 2;
            if (is('colon')) {
                if (!is('num', 1)) return null;
                seconds = peek(1).v;
                i += 2;
            }
        } else if (is('deg')) {
            i++;
            // Minutes: a number marked ′ (or directly followed by the hemisphere).
            if (is('num') && (is('min', 1) || is('hemi', 1) || (is('num', 1) && is('sec', 2)))) {
                if (!whole) return null;
                minutes = peek().v;
                i += is('min', 1) ? 2 : 1;
                // Seconds: a number marked ″, or ending the angle.
                if (is('num') && (is('sec', 1) || is('hemi', 1) || is('sep', 1) ||
                                  i + 1 === toks.length)) {
                    seconds = peek().v;
                    i += is('sec', 1) ? 2 : 1;
                }
            }
        }
        if (minutes !== null && (minutes >= 60 || (seconds ?? 0) >= 60)) return null;
        if (minutes !== null && seconds !== null && !Number.isInteger(minutes)) return null;
        if (minutes !== null) value += minutes / 60 + (seconds ?? 0) / 3600;
        if (!prefixed && is('hemi')) {
            hemi = peek().v;
            i++;
        }
        // A plain number with an optional "m" after two angles: the elevation.
        if (out.length === 2 && hemi === null && minutes === null) {
            if (is('m')) i++;
            if (i < toks.length && !is('sep')) return null;
            out.push({ value: sign * value, axis: 'elevation' });
            continue;
        }
        if (is('m')) return null;
        if (hemi === 'S' || hemi === 'W') sign = -1;
        out.push({ value: sign * value, axis: hemi === null ? null : 'NS'.includes(hemi) ? 'lat' : 'lon' });
    }
    return out;
}

/**
 * One angle as typed in the latitude (axis 'lat') or longitude ('lon') input:
 * a number as parseField takes it, or with a hemisphere letter that must fit the
 * axis ("33.87 S" is a latitude, not a longitude). NaN when it is not one.
 */
export function parseAngle(text, axis) {
    const s = String(text).trim().replace('\u2212', '-').replace(',', '.');
    if (DECIMAL.test(s) || SEXAGESIMAL.test(s)) return parseField(s, true);
    const a = scanAngles(text);
    if (a && a.length === 1 && a[0].axis !== 'elevation' &&
        (a[0].axis === null || axis === null || a[0].axis === axis)) return a[0].value;
    return NaN;
}

/**
 * A pair of coordinates as people paste them: "48.85, 2.35", "48.85° N, 2.35° E",
 * "33.87 S 151.21 E", "151.21 E, 33.87 S" (the letters say which is which),
 * "48:51:24, 2:21:07", "48°51′24″N 2°21′07″E", "48,85; 2,35" (decimal commas), an
 * optional elevation after them ("48.85, 2.35, 35 m"), "geo:48.85,2.35" and a map
 * link with "@48.85,2.35". Returns {location: {lat, lon, elevation?}} or {error}.
 */
export function parseCoordinates(text) {
    let s = String(text).trim();
    if (s === '') return { error: 'Paste or type a latitude and a longitude.' };
    const at = /@(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)/.exec(s);
    if (at) s = `${at[1]}, ${at[2]}`;
    s = s.replace(/^geo:/i, '').replace(/[?;]z=.*$|;u=.*$/i, '');
    // Decimal commas: "48,85; 2,35" or "48,85 2,35".
    if (s.includes(';')) s = s.replace(/(\d),(\d)/g, '$1.$2').replace(/;/g, ',');
    else if (/^\s*[-+\u2212]?\d+,\d+\s+[-+\u2212]?\d+,\d+\s*$/.test(s)) s = s.replace(/(\d),(\d)/g, '$1.$2');
    const angles = scanAngles(s);
    const help = 'Write a latitude and a longitude, as in \u201c48.85, 2.35\u201d or \u201c33.87 S, 151.21 E\u201d.';
    if (angles === null) return { error: `These are not coordinates. ${help}` };
    const pair = angles.filter((a) => a.axis !== 'elevation');
    if (pair.length !== 2) {
        return { error: pair.length < 2 ? `A longitude is missing. ${help}` : `Too many numbers. ${help}` };
    }
    let [a, b] = pair;
    if (a.axis === 'lon' || b.axis === 'lat') [a, b] = [b, a];
    if (a.axis === 'lon' || b.axis === 'lat') {
        return { error: 'Give one latitude (N or S) and one longitude (E or W).' };
    }
    const location = { lat: a.value, lon: b.value };
    if (!(Math.abs(location.lat) <= 90)) return { error: 'The latitude must be between 90° S and 90° N.' };
    if (!(Math.abs(location.lon) <= 180)) return { error: 'The longitude must be between 180° W and 180° E.' };
    const elev = angles.find((x) => x.axis === 'elevation');
    if (elev) {
        if (elev.value < FIELDS.elevation.min || elev.value > FIELDS.elevation.max) {
            return { error: 'The elevation must be between \u2212500 and 10000 m.' };
        }
        location.elevation = elev.value;
    }
    return { location };
}

/**
 * Check the three typed values. `raw` maps lat/lon/elevation to strings; an empty
 * elevation means 0 m. Returns {location, errors}: `location` is null when any field
 * is wrong, and `errors` maps each wrong field to a sentence saying what is allowed.
 */
export function validateLocation(raw) {
    const location = {};
    const errors = {};
    for (const [key, f] of Object.entries(FIELDS)) {
        const text = String(raw[key] ?? '').trim();
        if (text === '' && key === 'elevation') {
            location[key] = 0;
            continue;
        }
        const range = `between ${fmt(f.min)}${f.angle ? f.unit : ''} and ${fmt(f.max)}${f.unit}`;
        const v = text === '' ? NaN : f.angle ? parseAngle(text, key) : parseField(text, false);
        if (text === '') errors[key] = `Enter a ${f.label.toLowerCase()} ${range}.`;
        else if (Number.isNaN(v)) errors[key] = `${f.label} must be a number ${range}.`;
        else if (v < f.min || v > f.max) errors[key] = `${f.label} must be ${range}.`;
        else location[key] = v;
    }
    return Object.keys(errors).length ? { location: null, errors } : { location, errors };
}

function fmt(n) {
    return String(n).replace('-', '\u2212');
}

/** Two locations are the same place (to about a centimetre / a millimetre). */
export function sameLocation(a, b) {
    if (!a || !b) return false;
    return Math.abs(a.lat - b.lat) < 1e-7 && Math.abs(a.lon - b.lon) < 1e-7 &&
        Math.abs((a.elevation ?? 0) - (b.elevation ?? 0)) < 1e-3;
}

/** Round to `digits` decimals without printing artefacts like 48.856600000000004. */
export function round(x, digits) {
    const k = 10 ** digits;
    return Math.round(x * k) / k;
}

/**
 * Ask the browser where we are, accepting a position up to `maxAgeMs` old (0: a
 * fresh one). Resolves with a location (4 decimals, about 10 m; elevation from the
 * device's altitude when it has one, else 0). Rejects with an Error whose `reason`
 * is 'denied', 'unavailable', 'timeout', 'insecure' (the page did not come over
 * HTTPS: browsers then never share the location) or 'unsupported'.
 */
export function geolocate(maxAgeMs = 60000, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
        const fail = (reason, message) => reject(Object.assign(new Error(message), { reason }));
        if (!window.isSecureContext) {
            fail('insecure', 'Browsers share their location only with HTTPS pages.');
            return;
        }
        if (!('geolocation' in navigator)) {
            fail('unsupported', 'This browser cannot share its location.');
            return;
        }
        navigator.geolocation.getCurrentPosition((pos) => {
            const c = pos.coords;
            const alt = typeof c.altitude === 'number' && Number.isFinite(c.altitude)
                ? Math.min(FIELDS.elevation.max, Math.max(FIELDS.elevation.min, c.altitude))
                : 0;
            resolve({ lat: round(c.latitude, 4), lon: round(c.longitude, 4),
                      elevation: round(alt, 0) });
        }, (err) => {
            if (err.code === err.PERMISSION_DENIED) fail('denied', 'Location access was denied.');
            else if (err.code === err.TIMEOUT) fail('timeout', 'The browser took too long to find the location.');
            else fail('unavailable', 'The browser could not find the location.');
        }, { enableHighAccuracy: false, timeout: timeoutMs, maximumAge: maxAgeMs });
    });
}
