// SPDX-License-Identifier: AGPL-3.0-or-later
//
// location.js -- the observer's location: the Greenwich default, parsing and range
// checks of what the user types, and a promise around the browser's Geolocation API.
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
 * app did). Returns a finite number, or NaN when the text is not a number.
 */
export function parseField(text, angle) {
    const s = String(text).trim().replace('\u2212', '-').replace(',', '.');
    if (DECIMAL.test(s)) return Number(s);
    const m = angle ? SEXAGESIMAL.exec(s) : null;
    if (m === null) return NaN;
    const minutes = Number(m[3]);
    const seconds = m[4] === undefined ? 0 : Number(m[4]);
    if (minutes >= 60 || seconds >= 60) return NaN;
    const v = Number(m[2]) + minutes / 60 + seconds / 3600;
    return m[1] === '-' ? -v : v;
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
        const v = text === '' ? NaN : parseField(text, f.angle);
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
 * is 'denied', 'unavailable', 'timeout' or 'unsupported'.
 */
export function geolocate(maxAgeMs = 60000, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
        const fail = (reason, message) => reject(Object.assign(new Error(message), { reason }));
        if (!window.isSecureContext) {
            fail('unsupported', 'Browsers share their location only with HTTPS pages.');
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
