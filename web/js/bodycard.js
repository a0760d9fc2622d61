// SPDX-License-Identifier: AGPL-3.0-or-later
//
// bodycard.js -- a body's card: tap or focus a body anywhere on the page (a row of
// the table, a mark of the chart, an entry of "What you can see now" or of the
// list below the horizon) for a dialog that says, in words, where to look
// ("south-south-west, 31° up"), its rise, transit and set on the display zone's
// clock, magnitude, constellation, phase (the Moon's by name: "waxing gibbous"), and
// whether it can be seen now and why. The card follows the live sky while it is
// open. Escape, the close button or a tap outside closes it; the focus goes back to
// what opened it (or, if the page redrew that, to the same body's element in the
// same place).

import * as f from './format.js';

const POINTS = ['north', 'north-north-east', 'north-east', 'east-north-east', 'east',
                'east-south-east', 'south-east', 'south-south-east', 'south',
                'south-south-west', 'south-west', 'west-south-west', 'west',
                'west-north-west', 'north-west', 'north-north-west'];

/** The 16-point compass direction of an azimuth, in words: "south-south-west". */
export function directionWords(az) {
    if (typeof az !== 'number' || !Number.isFinite(az)) return '';
    return POINTS[Math.round((((az % 360) + 360) % 360) / 22.5) % 16];
}

const VERDICTS = {
    naked_eye: 'Visible to the naked eye',
    binoculars: 'Visible in binoculars',
    telescope: 'Visible in a telescope',
    too_low: 'Too low to see',
    daylight: 'Not visible: daylight',
    glare: 'Not visible: lost in the Sun\u2019s glare',
    below_horizon: 'Not visible: below the horizon',
};

const SEEN = new Set(['naked_eye', 'binoculars', 'telescope']);

/** The verdict in words: "Visible now — naked eye: magnitude 0.7, 27° up." */
export function verdictLine(v) {
    if (!v?.verdict) return 'Whether it can be seen now: not known.';
    if (!v.reason) return `${VERDICTS[v.verdict] ?? v.verdict}.`;
    return `${SEEN.has(v.verdict) ? 'Visible now' : 'Not visible now'} \u2014 ${v.reason}.`;
}

const STATUS = { circumpolar: 'circumpolar: never sets', never_rises: 'does not rise' };

const isNum = (x) => typeof x === 'number' && Number.isFinite(x);
const DEG = Math.PI / 180;
const OBLIQUITY = 23.4393 * DEG; // of the ecliptic, J2000 (its drift changes no phase name)

/** The ecliptic longitude (degrees) of a body from its right ascension and declination. */
function eclipticLongitude(b) {
    const ra = b.ra * DEG;
    const dec = b.dec * DEG;
    const lon = Math.atan2(Math.sin(ra) * Math.cos(OBLIQUITY) + Math.tan(dec) * Math.sin(OBLIQUITY),
                           Math.cos(ra));
    return ((lon / DEG) % 360 + 360) % 360;
}

/**
 * The Moon's phase in words ("waxing gibbous"), as GET /planets/tonight names it:
 * from the lit fraction `moon.phase` (0..1), waxing while the Moon is east of the Sun
 * (its ecliptic longitude less the Sun's between 0° and 180°). Null without the
 * fraction, or without both bodies' RA and Dec past the new, full and quarter moons.
 */
export function moonPhaseName(moon, sun) {
    const k = moon?.phase;
    if (!isNum(k)) return null;
    if (k < 0.02) return 'new moon';
    if (k > 0.98) return 'full moon';
    if (![moon.ra, moon.dec, sun?.ra, sun?.dec].every(isNum)) return null;
    const waxing = ((eclipticLongitude(moon) - eclipticLongitude(sun)) % 360 + 360) % 360 < 180;
    if (Math.abs(k - 0.5) < 0.04) return waxing ? 'first quarter' : 'last quarter';
    if (k < 0.5) return waxing ? 'waxing crescent' : 'waning crescent';
    return waxing ? 'waxing gibbous' : 'waning gibbous';
}

function when(b, key, now) {
    if (typeof b[key] === 'string' && b[key] !== '') {
        const off = f.dayOffset(b[key], now);
        return `${f.clock(b[key])}${off ? ` (${off})` : ''}`;
    }
    if (key !== 'transit' && STATUS[b.status]) return STATUS[b.status];
    return f.DASH;
}

/** Where to look, in one line: "south-south-west, 31° up" or "below the horizon (12° under, north-east)". */
export function whereLine(b) {
    if (!isNum(b.alt) || !isNum(b.az)) return 'Position unknown.';
    const dir = directionWords(b.az);
    const up = typeof b.above_horizon === 'boolean' ? b.above_horizon : b.alt > 0;
    if (up) return `Look ${dir}, ${Math.round(b.alt)}\u00b0 up.`;
    return `Below the horizon: ${Math.round(Math.abs(b.alt))}\u00b0 under it, towards the ${dir}.`;
}

/** The Phase line: "38% lit", the Moon's with its name ("waxing crescent, 38% lit"). */
function phaseLine(b, sun) {
    if (b.name === 'sun' || !isNum(b.phase)) return f.DASH;
    const name = b.name === 'moon' ? moonPhaseName(b, sun) : null;
    return `${name ? `${name}, ` : ''}${f.phase(b.phase)} lit`;
}

/** The facts of the card: [[term, description], ...] (`sun`: the Sun of the same sky). */
export function facts(b, now, sun = null) {
    const out = [];
    out.push(['Direction', isNum(b.az) ? `${directionWords(b.az)} (azimuth ${f.degrees(b.az, 1)})` : f.DASH]);
    out.push(['Altitude', isNum(b.alt) ? `${f.degrees(b.alt, 1)} ${b.alt >= 0 ? 'above' : 'below'} the horizon` : f.DASH]);
    out.push(['Rise', when(b, 'rise', now)]);
    out.push(['Transit', when(b, 'transit', now)]);
    out.push(['Set', when(b, 'set', now)]);
    out.push(['Magnitude', f.magnitude(b.magnitude)]);
    out.push(['Constellation', f.text(b.constellation_name ?? b.constellation)]);
    out.push(['Phase', phaseLine(b, sun)]);
    if (b.name !== 'sun') out.push(['From the Sun', isNum(b.elongation) ? f.degrees(b.elongation, 1) : f.DASH]);
    out.push(['Distance', f.distance(b.distance_au)]);
    return out;
}

/**
 * The card over the <dialog> `ui.dialog` (ui: dialog, name, dot, where, verdict,
 * facts, note, close). open(name, opener) shows body `name` of the last snapshot
 * given to update(snapshot); `findOpener(name, kind)` finds the element to give the
 * focus back to when `opener` was redrawn meanwhile.
 */
export function createBodyCard({ ui, findOpener = () => null }) {
    let snapshot = null;
    let shown = null;      // the body's name while open
    let opener = null;     // {el, name, kind}

    function setText(node, text) {
        if (node.textContent !== text) node.textContent = text;
    }

    function render() {
        if (!shown || !snapshot) return;
        const b = snapshot.bodies.find((x) => x.name === shown);
        if (!b) return;
        setText(ui.name, f.title(b.name));
        ui.dot.dataset.body = b.name;
        ui.dialog.dataset.body = b.name;
        setText(ui.where, whereLine(b));
        const v = b.visibility;
        ui.verdict.dataset.verdict = v?.verdict ?? '';
        setText(ui.verdict, verdictLine(v));
        const rows = facts(b, snapshot.time, snapshot.bodies.find((x) => x.name === 'sun'));
        const key = rows.map((r) => r.join('\u0001')).join('\u0002');
        if (ui.facts.dataset.key !== key) {
            ui.facts.dataset.key = key;
            ui.facts.replaceChildren(...rows.map(([term, desc]) => {
                const div = document.createElement('div');
                const dt = document.createElement('dt');
                const dd = document.createElement('dd');
                dt.textContent = term;
                dd.textContent = desc;
                div.dataset.term = term.toLowerCase();
                div.append(dt, dd);
                return div;
            }));
        }
        const at = snapshot.forecast ? ' (worked out offline from the saved forecast)' : '';
        setText(ui.note, `The sky at ${f.clock(snapshot.time)} on ${f.dayMonth(snapshot.time)}${at}; ` +
                `times in ${f.displayZoneName()}.`);
    }

    function close() {
        if (ui.dialog.open) ui.dialog.close();
    }

    ui.dialog.addEventListener('close', () => {
        const was = opener;
        shown = null;
        opener = null;
        if (!was) return;
        const target = was.el?.isConnected ? was.el : findOpener(was.name, was.kind);
        target?.focus({ preventScroll: false });
    });
    ui.close.addEventListener('click', close);
    // A tap on the backdrop (outside the card's box) closes it.
    ui.dialog.addEventListener('click', (ev) => {
        if (ev.target !== ui.dialog) return;
        const r = ui.dialog.getBoundingClientRect();
        const inside = ev.clientX >= r.left && ev.clientX <= r.right && ev.clientY >= r.top &&
            ev.clientY <= r.bottom;
        if (!inside) close();
    });

    return {
        /** Open the card of body `name`; `el` (of `kind`: table, chart, seeing, below) opened it. */
        open(name, el = null, kind = null) {
            if (!snapshot?.bodies.some((b) => b.name === name)) return;
            shown = name;
            opener = { el: el ?? document.activeElement, name, kind };
            render();
            if (!ui.dialog.open) ui.dialog.showModal();
            ui.close.focus();
        },
        /** A new snapshot: the open card follows it. */
        update(snap) {
            snapshot = snap;
            render();
        },
        close,
        get shown() {
            return shown;
        },
    };
}
