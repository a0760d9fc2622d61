// SPDX-License-Identifier: AGPL-3.0-or-later
//
// tonight.js -- the "Tonight" card, drawn from GET /planets/tonight: a timeline of
// the night from sunset to sunrise (the whole day from the local noon when the Sun
// neither rises nor sets) with the sky's state in bands that darken from daylight
// through the civil, nautical and astronomical twilights to dark; hour ticks on the
// display zone's clock; one row per body (not the Sun) with the spans it is up, the
// spans it is well placed (15° up in at least nautical darkness) marked more
// strongly, and its best moment as a mark labelled with the server's verdict; then
// the night in words: sunset, darkness, sunrise (or polar night, midnight sun,
// white night), the Moon's phase, rise and set, and the hours of dark sky without it.
//
// The night is asked for once per place and night, not per snapshot: the page feeds
// every snapshot to update(), which works out which night it belongs to (as the
// server counts: from the local solar noon at or before the instant) and asks only
// when that night or the place changes. After the night's sunrise the card shows
// the coming night ("tonight" seen in the morning). One request at a time: a newer
// night or place aborts the one in flight.

import { fetchTonight } from './api.js';
import * as f from './format.js';

const HOUR = 3600e3;
const DAY = 24 * HOUR;
const RETRY_MS = 30000;   // a night the server could not give is asked again after this
const CACHE = 8;          // nights remembered (place and night)
const SKY = ['day', 'civil', 'nautical', 'astronomical', 'dark'];
const LEVELS = ['civil', 'nautical', 'astronomical'];
const SEEN = new Set(['naked_eye', 'binoculars', 'telescope']);

const ms = (iso) => (typeof iso === 'string' ? Date.parse(iso) : NaN);
const isoOf = (t) => new Date(t).toISOString();
const at = (t) => f.clock(isoOf(t));
const span = (a, b) => `${at(a)}\u2013${at(b)}`;

/**
 * The start of the night of instant `t` (ms) at longitude `lon` (degrees east): the
 * local solar noon at or before it, as GET /planets/tonight counts.
 */
export function nightAnchor(t, lon) {
    const off = (lon / 15) * HOUR;
    return Math.floor((t + off - 12 * HOUR) / DAY) * DAY + 12 * HOUR - off;
}

/**
 * The span the timeline covers: sunset to sunrise when the Sun sets and rises, else
 * the whole night window (local noon to local noon). {start, end, whole} in ms.
 */
export function nightRange(night) {
    const a = ms(night.sunset);
    const b = ms(night.sunrise);
    if (Number.isFinite(a) && Number.isFinite(b) && b > a) return { start: a, end: b, whole: false };
    return { start: ms(night.window_start), end: ms(night.window_end), whole: true };
}

/**
 * The sky's state over [start, end]: [{start, end, sky}] with sky one of SKY, from
 * the night's sunset, sunrise and twilight instants. The Sun goes one level deeper
 * at each dusk (sunset, then -6°, -12°, -18°) and one back up at each dawn.
 */
export function skyBands(night, start, end) {
    const events = [];
    const add = (iso, level, down) => {
        const t = ms(iso);
        if (Number.isFinite(t)) events.push({ t, level, down });
    };
    add(night.sunset, 0, true);
    add(night.sunrise, 0, false);
    LEVELS.forEach((k, i) => {
        add(night.dusk?.[k], i + 1, true);
        add(night.dawn?.[k], i + 1, false);
    });
    events.sort((a, b) => a.t - b.t);
    let depth;
    if (events.length > 0) depth = events[0].down ? events[0].level : events[0].level + 1;
    else if (night.status === 'midnight_sun') depth = 0;
    else if ((night.dark ?? []).length > 0) depth = 4;
    else depth = night.status === 'polar_night' ? 2 : 0;
    const bands = [];
    const push = (a, b, d) => {
        const s = Math.max(a, start);
        const e = Math.min(b, end);
        if (!(e > s)) return;
        const sky = SKY[Math.max(0, Math.min(4, d))];
        const last = bands.at(-1);
        if (last && last.sky === sky && last.end >= s) last.end = e;
        else bands.push({ start: s, end: e, sky });
    };
    let from = start;
    for (const ev of events) {
        push(from, ev.t, depth);
        from = Math.max(from, ev.t);
        depth = ev.down ? ev.level + 1 : ev.level;
    }
    push(from, end, depth);
    return bands;
}

/** Spans [{start, end}] cut to [start, end]: [[a, b], ...] in ms, empty ones left out. */
function clip(spans, r) {
    return (spans ?? []).map((s) => [Math.max(ms(s.start), r.start), Math.min(ms(s.end), r.end)])
        .filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && b > a);
}

const when = (iso, ref) => {
    const off = f.dayOffset(iso, ref);
    return `${f.clock(iso)}${off ? ` (${off})` : ''}`;
};

/** The night in one sentence: sunset, dark and sunrise, or what kind of night it is. */
export function nightSentence(night) {
    const dark = (night.dark ?? []).map((s) => [ms(s.start), ms(s.end)]);
    switch (night.status) {
    case 'polar_night': {
        const head = 'Polar night: the Sun does not rise today';
        for (const k of LEVELS) {
            const dusk = ms(night.dusk?.[k]);
            const dawn = ms(night.dawn?.[k]);
            const parts = [];
            if (Number.isFinite(dusk)) parts.push(`until ${at(dusk)}`);
            if (Number.isFinite(dawn)) parts.push(`${parts.length ? 'again ' : ''}from ${at(dawn)}`);
            if (parts.length) return `${head}; ${k} twilight ${parts.join(' and ')}.`;
        }
        return dark.length ? `${head}; dark all day.` : `${head}.`;
    }
    case 'midnight_sun':
        return 'Midnight sun: no night; the Sun does not set today.';
    case 'no_astronomical_darkness': {
        // The darkest the sky gets: between the deepest dusk and its dawn.
        let darkest = 'civil twilight all night';
        for (let i = LEVELS.length - 1; i >= 0; i--) {
            const a = ms(night.dusk?.[LEVELS[i]]);
            const b = ms(night.dawn?.[LEVELS[i]]);
            if (Number.isFinite(a) && Number.isFinite(b)) {
                darkest = `at its darkest ${LEVELS[i + 1] ?? 'astronomical'} twilight ${span(a, b)}`;
                break;
            }
        }
        const parts = [night.sunset && `sunset ${f.clock(night.sunset)}`, darkest,
                       night.sunrise && `sunrise ${f.clock(night.sunrise)}`].filter(Boolean);
        return `White night: the sky never gets fully dark; ${parts.join(', ')}.`;
    }
    default: {
        const parts = [];
        if (night.sunset) parts.push(`Sunset ${f.clock(night.sunset)}`);
        if (dark.length) parts.push(`dark ${dark.map(([a, b]) => span(a, b)).join(' and ')}`);
        if (night.sunrise) parts.push(`sunrise ${f.clock(night.sunrise)}`);
        const s = parts.join(', ');
        return s ? `${s[0].toUpperCase()}${s.slice(1)}.` : '';
    }
    }
}

/** The Moon in one sentence: "Moon: waxing crescent, 38% lit; sets 23:20, rises 12:32 (+1d)." */
export function moonSentence(doc) {
    const m = doc.moon ?? {};
    const ref = doc.night.window_start;
    const lit = Number.isFinite(m.phase) ? `, ${Math.round(m.phase * 100)}% lit` : '';
    const events = [['rises', m.rise], ['sets', m.set]].filter(([, t]) => typeof t === 'string')
        .sort((a, b) => ms(a[1]) - ms(b[1])).map(([verb, t]) => `${verb} ${when(t, ref)}`);
    return `Moon: ${m.phase_name ?? 'phase unknown'}${lit}${events.length ? `; ${events.join(', ')}` : ''}.`;
}

/** The hours of dark sky without the Moon, in words. */
export function darkSentence(night) {
    if (!(night.dark ?? []).length) return 'No fully dark sky tonight (the Sun stays above \u221218\u00b0).';
    const hours = night.dark_without_moon_hours;
    const spans = (night.dark_without_moon ?? []).map((s) => span(ms(s.start), ms(s.end)));
    if (!(hours > 0)) return 'No dark sky without the Moon: it is up all through the dark hours.';
    return `${hours.toFixed(1)} h of dark sky without the Moon${spans.length ? ` (${spans.join(', ')})` : ''}.`;
}

function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
}

/** The hours (ms) at which the display zone's clock shows a full hour, within [start, end]. */
function fullHours(r) {
    const out = [];
    const w = f.wallParts(r.start);
    let t = r.start - (w.mi * 60 + w.s) * 1000 - (((r.start % 1000) + 1000) % 1000);
    if (t < r.start) t += HOUR;
    for (; t <= r.end && out.length < 30; t += HOUR) out.push(t);
    return out;
}

/**
 * The card over its elements (ui: card, date, summary, moon, dark, timeline, error).
 * update(snapshot, asked) with every snapshot shown (asked: the location it was asked
 * for, null for the session's); the night is fetched only when it changes. `store`
 * ({get(key), put(key, doc)}, optional) keeps the nights asked for: when the server
 * cannot be reached, a night kept from an earlier visit is shown.
 */
export function createTonight({ ui, fetchNight = fetchTonight, store = null }) {
    const cache = new Map();   // key -> the server's answer
    const failed = new Map();  // key -> when asking for it failed (Date.now())
    let inflight = null;       // {key, controller}
    let current = null;        // {t, lon, loc, locKey}: the last snapshot's instant and place
    let shown = null;          // {key, zone, width}: what the card draws
    let range = null;          // the drawn range, for the "now" line
    let nowLine = null;
    // The timeline's width and its name column's (px), as last measured where the
    // layout is up to date anyway (the ResizeObserver's callback): reading them while
    // a snapshot is being drawn would force a layout of the whole page every second.
    let box = null;            // {width, nameWidth}

    /**
     * What the night depends on: how it is asked for (a site, coordinates, the
     * session) and the observer the server used (a site's place, weather or horizon
     * may change under the same id).
     */
    function locKeyOf(loc, obs) {
        const asked = !loc ? 'session' : loc.site ? `site=${loc.site}`
            : `${loc.lat},${loc.lon},${loc.elevation ?? 0}`;
        const o = obs ?? {};
        return `${asked}|${[o.lat, o.lon, o.elevation, o.pressure, o.temperature, o.horizon_deg].join(',')}`;
    }

    const keyOf = (locKey, anchor) => `${locKey}|${Math.round(anchor / 60000)}`;

    function remember(key, doc) {
        cache.delete(key);
        cache.set(key, doc);
        while (cache.size > CACHE) cache.delete(cache.keys().next().value);
    }

    /** Whether instant t is after the night's end (its sunrise): the next night is "tonight". */
    function over(doc, t) {
        const n = doc.night;
        if (n.status === 'polar_night' || n.status === 'midnight_sun') return false;
        const end = ms(n.sunrise ?? n.window_end);
        return Number.isFinite(end) && t > end;
    }

    function ask(key, loc, locKey, timeIso) {
        if (inflight?.key === key) return;
        const since = failed.get(key);
        if (since !== undefined && Date.now() - since < RETRY_MS) return;
        inflight?.controller.abort();
        const controller = new AbortController();
        const mine = { key, controller };
        inflight = mine;
        ui.card.setAttribute('aria-busy', 'true');
        fetchNight(loc, timeIso, controller.signal).then((doc) => {
            if (inflight === mine) inflight = null;
            if (!doc?.night || !Array.isArray(doc.bodies)) throw new Error('The server sent no night.');
            failed.delete(key);
            remember(key, doc);
            store?.put(key, doc);
            // Also under the server's own start of the night (the same minute, but rounded
            // on its side).
            remember(keyOf(locKey, ms(doc.night.window_start)), doc);
            ui.error.hidden = true;
            refresh();
        }).catch((err) => {
            if (err?.name === 'AbortError') return;
            if (inflight === mine) inflight = null;
            const kept = store?.get(key);
            if (kept?.night && Array.isArray(kept.bodies)) {
                remember(key, kept);
                ui.error.hidden = true;
                refresh();
                return;
            }
            failed.set(key, Date.now());
            ui.card.removeAttribute('aria-busy');
            ui.error.textContent = `The night could not be computed: ${err.message}`;
            ui.error.hidden = false;
        });
    }

    /** Show the night of the current instant and place, asking for it if needed. */
    function refresh() {
        if (!current) return;
        const { t, lon, loc, locKey } = current;
        let anchor = nightAnchor(t, lon);
        let key = keyOf(locKey, anchor);
        let doc = cache.get(key);
        let timeIso = isoOf(t);
        if (doc && over(doc, t)) {
            anchor = ms(doc.night.window_end);
            key = keyOf(locKey, anchor);
            doc = cache.get(key);
            timeIso = isoOf(anchor + 60000); // a minute into that night
        }
        if (!doc) {
            ask(key, loc, locKey, timeIso);
            return;
        }
        ui.card.removeAttribute('aria-busy');
        const zone = f.displayZoneName();
        // Not measured yet (no ResizeObserver, or it has not reported): measured now, once.
        box ??= measure();
        const { width } = box;
        if (!shown || shown.key !== key || shown.zone !== zone || Math.abs(shown.width - width) > 1) {
            render(doc);
            shown = { key, zone, width };
        }
        placeNow(t);
    }

    /** The timeline's width and its name column's, read from the layout. */
    function measure() {
        const nameWidth = parseFloat(getComputedStyle(ui.timeline).getPropertyValue('--tl-name'));
        return { width: ui.timeline.clientWidth, nameWidth: nameWidth || 76 };
    }

    function setText(node, text) {
        if (node.textContent !== text) node.textContent = text;
    }

    function dateLine(n) {
        const a = ms(n.window_start);
        const b = ms(n.window_end);
        const wa = f.wallParts(a);
        const wb = f.wallParts(b);
        const days = wa.mo === wb.mo && wa.y === wb.y
            ? `${wa.d}\u2013${f.dayMonth(b)}` : `${f.dayMonth(a)} \u2013 ${f.dayMonth(b)}`;
        return `${days} \u00b7 ${f.displayZoneName()}`;
    }

    function render(doc) {
        const n = doc.night;
        const r = nightRange(n);
        range = r;
        ui.card.dataset.status = n.status;
        ui.card.dataset.night = n.date ?? '';
        setText(ui.date, dateLine(n));
        setText(ui.summary, nightSentence(n));
        setText(ui.moon, moonSentence(doc));
        setText(ui.dark, darkSentence(n));
        ui.dark.dataset.hours = String(n.dark_without_moon_hours ?? '');

        const pct = (t) => `${(((t - r.start) / (r.end - r.start)) * 100).toFixed(3)}%`;
        const place = (node, a, b) => {
            node.style.cssText = `left:${pct(a)};width:${(((b - a) / (r.end - r.start)) * 100).toFixed(3)}%`;
        };

        const plot = el('div', 'tl-plot');
        plot.setAttribute('aria-hidden', 'true');
        for (const band of skyBands(n, r.start, r.end)) {
            const b = el('span', 'tl-band');
            b.dataset.sky = band.sky;
            b.title = `${band.sky === 'day' ? 'Daylight' : band.sky === 'dark' ? 'Dark sky'
                : `${band.sky[0].toUpperCase()}${band.sky.slice(1)} twilight`} ${span(band.start, band.end)}`;
            place(b, band.start, band.end);
            plot.append(b);
        }
        const hours = fullHours(r);
        for (const h of hours) {
            const line = el('span', 'tl-hour');
            line.style.left = pct(h);
            plot.append(line);
        }
        nowLine = el('span', 'tl-now');
        nowLine.hidden = true;
        plot.append(nowLine);

        const rows = [];
        for (const b of doc.bodies) {
            if (b.name === 'sun') continue;
            const name = f.title(b.name);
            const row = el('div', 'tl-row');
            row.dataset.body = b.name;
            const label = el('span', 'tl-name');
            const dot = el('span', 'body-dot');
            dot.dataset.body = b.name;
            dot.setAttribute('aria-hidden', 'true');
            label.append(dot, el('span', 'tl-label', name));
            const track = el('span', 'tl-track');
            const up = clip(b.up, r);
            const well = clip(b.well_placed, r);
            for (const [a, z] of up) {
                const bar = el('span', 'tl-up');
                bar.title = `${name} up ${span(a, z)}`;
                place(bar, a, z);
                track.append(bar);
            }
            for (const [a, z] of well) {
                const bar = el('span', 'tl-well');
                bar.title = `${name} well placed ${span(a, z)}: 15\u00b0 up, the sky at least nautically dark`;
                place(bar, a, z);
                track.append(bar);
            }
            const said = [up.length ? `up ${up.map(([a, z]) => span(a, z)).join(', ')}`
                : 'not up tonight'];
            if (well.length) said.push(`well placed ${well.map(([a, z]) => span(a, z)).join(', ')}`);
            const best = b.best;
            const bt = ms(best?.time);
            if (best && bt >= r.start && bt <= r.end) {
                const mark = el('span', 'tl-best');
                mark.dataset.verdict = best.verdict ?? '';
                mark.dataset.time = best.time;
                if (!SEEN.has(best.verdict)) mark.classList.add('is-faint');
                mark.style.left = pct(bt);
                const text = `${name} at its best ${at(bt)}: ${best.reason ?? best.verdict}`;
                mark.setAttribute('role', 'img');
                mark.setAttribute('aria-label', text);
                mark.title = text;
                track.append(mark);
            }
            if (!up.length) {
                row.classList.add('is-down');
                track.append(el('span', 'tl-note', 'not up tonight'));
            }
            const sr = el('span', 'visually-hidden', `: ${said.join('; ')}.`);
            label.append(sr);
            row.append(label, track);
            rows.push(row);
        }

        const axis = el('div', 'tl-axis');
        axis.setAttribute('aria-hidden', 'true');
        const ticks = el('span', 'tl-ticks');
        axis.append(el('span', 'tl-axis-name', 'h'), ticks);
        // The track is the timeline less the name column (its width from the CSS, read back).
        const { width, nameWidth } = box;
        const trackPx = Math.max(120, (width || 340) - nameWidth);
        const perHour = trackPx / Math.max(1, (r.end - r.start) / HOUR);
        const step = [1, 2, 3, 4, 6, 12].find((s) => perHour * s >= 28) ?? 12;
        const long = perHour * step >= 48;
        for (const h of hours) {
            const w = f.wallParts(h);
            if (w.h % step !== 0) continue;
            const x = ((h - r.start) / (r.end - r.start)) * trackPx;
            const half = long ? 17 : 8;
            if (x + half > trackPx + 2) continue;
            const tick = el('span', 'tl-tick', long ? `${String(w.h).padStart(2, '0')}:00`
                : String(w.h).padStart(2, '0'));
            tick.style.left = pct(h);
            ticks.append(tick);
        }

        ui.timeline.replaceChildren(plot, ...rows, axis);
        ui.timeline.dataset.start = isoOf(r.start);
        ui.timeline.dataset.end = isoOf(r.end);
        ui.timeline.dataset.whole = String(r.whole);
        ui.timeline.setAttribute('aria-label', `The night hour by hour, ${span(r.start, r.end)}`);
    }

    function placeNow(t) {
        if (!nowLine || !range) return;
        const inside = t >= range.start && t <= range.end;
        nowLine.hidden = !inside;
        if (inside) {
            nowLine.style.left = `${(((t - range.start) / (range.end - range.start)) * 100).toFixed(2)}%`;
            nowLine.title = `The sky shown: ${at(t)}`;
        }
    }

    if (globalThis.ResizeObserver) {
        let pending = false;
        new ResizeObserver(() => {
            // The layout is up to date here: reading the sizes costs nothing.
            box = measure();
            if (pending || !shown || Math.abs(shown.width - box.width) <= 1) return;
            pending = true;
            requestAnimationFrame(() => {
                pending = false;
                refresh();
            });
        }).observe(ui.timeline);
    }

    return {
        /** A snapshot is shown (asked for `loc`): follow its instant and place. */
        update(snapshot, loc) {
            const t = ms(snapshot?.time);
            const lon = snapshot?.observer?.lon ?? loc?.lon;
            if (!Number.isFinite(t) || !Number.isFinite(lon)) return;
            current = { t, lon, loc, locKey: locKeyOf(loc, snapshot.observer) };
            refresh();
        },
    };
}
