// SPDX-License-Identifier: AGPL-3.0-or-later
//
// app.js -- the page's wiring. It decides which location to show (browser
// geolocation, typed coordinates, the session's saved location or Greenwich),
// says so in the status line, and feeds the snapshots of the live source (the
// /planets/stream event stream, polling GET /planets as a fallback: see source.js)
// to the table, the sky chart and the list of bodies below the horizon. The live
// indicator says how data arrives: Live (stream), Polling or Offline.
//
// The page shows now (live) or a chosen instant (timectl.js): away from now the
// stream is closed and GET /planets?time= is asked once per change of time or place
// (one request in flight, a newer one aborts it), and the live indicator says "Sky
// at 22:00 on 15 Dec (not live)". The Tonight card (tonight.js) follows the night of
// the instant shown. The address carries the state (history.replaceState):
// ?time=ISO away from now, lat/lon[/elevation] or site=ID; opening such an address
// shows that sky without asking the browser where it is.
//
// The newest snapshot shown is kept in window.__lastSnapshot, for tests and for
// the curious (it is exactly what the server sent).

import { ApiError, fetchPlanets, saveLocation } from './api.js';
import { DASH, clock, displayZoneName, fixed, place, setDisplayZone } from './format.js';
import { FIELDS, GREENWICH, geolocate, round, sameLocation, validateLocation } from './location.js';
import { initNightToggle } from './night.js';
import { drawTicks, renderBelow, renderSky } from './skymap.js';
import { createSitesMenu } from './sites.js';
import { createLiveSource } from './source.js';
import { renderTable } from './table.js';
import { createTimeControls, instantText } from './timectl.js';
import { createTonight } from './tonight.js';
import { renderVisible } from './visible.js';

const TYPING_PAUSE_MS = 500;

const $ = (id) => document.getElementById(id);
const ui = {
    form: $('location-form'),
    inputs: Object.fromEntries(Object.keys(FIELDS).map((k) => [k, $(k)])),
    errors: Object.fromEntries(Object.keys(FIELDS).map((k) => [k, $(`${k}-error`)])),
    reset: $('reset'),
    status: $('status'),
    live: $('live'),
    liveText: $('live-text'),
    updated: $('updated'),
    updatedBox: document.querySelector('.updated'),
    seeingTitle: $('seeing-title'),
    skyTitle: $('sky-title'),
    time: {
        now: $('time-now'),
        tonight: $('time-tonight'),
        slider: $('time-slider'),
        sliderOut: $('time-slider-out'),
        picker: $('time-picker'),
        zone: $('time-zone'),
        back: $('back-to-now'),
    },
    tonight: {
        card: $('tonight'),
        date: $('tonight-date'),
        summary: $('tonight-summary'),
        moon: $('tonight-moon'),
        dark: $('tonight-dark'),
        timeline: $('tonight-timeline'),
        error: $('tonight-error'),
    },
    table: $('sky-table'),
    skymap: $('skymap'),
    skyLayer: $('sky-bodies'),
    skySummary: $('sky-summary'),
    skyTicks: $('sky-ticks'),
    below: $('below-list'),
    seeing: {
        state: $('seeing-state'),
        seen: $('seeing-list'),
        others: $('seeing-others'),
        none: $('seeing-none'),
    },
    belowEmpty: $('below-empty'),
    night: $('night-toggle'),
    sites: {
        select: $('site-select'),
        name: $('site-name'),
        save: $('site-save'),
        rename: $('site-rename'),
        remove: $('site-delete'),
        message: $('site-message'),
    },
    facts: {
        pressure: $('fact-pressure'),
        temperature: $('fact-temperature'),
        ephemeris: $('fact-ephemeris'),
        zone: $('fact-zone'),
        zoneLabel: $('fact-zone-label'),
    },
};

const state = {
    location: null,   // what the page asks for; null: the server's choice (session, else Greenwich)
    lastGood: null,   // the last location the server accepted
    observer: null,   // the observer of the last snapshot
    mode: 'locating', // locating | browser | typed | link | site | fallback
    reason: null,     // why the browser's location is not used: {reason, message}
    wasReset: false,  // the fallback came from the reset button
    dirty: false,     // the user typed since the inputs were last filled
    locateToken: 0,   // bumps to forget a geolocation answer that arrives too late
    saveError: null,
    modeDetail: '',   // what the live indicator's tooltip says about the mode
    time: null,       // the instant shown (ms), or null: now, live
};

const atNow = () => state.time === null;

const source = createLiveSource({ onData, onError, onMode, onSites: (doc) => sites.pushed(doc) });
const tonight = createTonight({ ui: ui.tonight });
const timeControls = createTimeControls({ ui: ui.time, onChange: setTime });

const sites = createSitesMenu({
    ui: ui.sites,
    currentLocation() {
        const loc = state.lastGood ?? state.location;
        if (!loc || !Number.isFinite(loc.lat)) return null;
        // The browser's zone is the zone of the place only when the browser located it.
        const zone = state.mode === 'browser'
            ? Intl.DateTimeFormat().resolvedOptions().timeZone : undefined;
        return { lat: loc.lat, lon: loc.lon, elevation: loc.elevation ?? 0, zone };
    },
    onChoose: chooseSite,
    onNewOwner: () => source.reopen(),
});

// ---- status line ---------------------------------------------------------------

function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
}

const REASONS = {
    denied: 'Location access is blocked',
    unavailable: 'Your browser could not find your location',
    timeout: 'Your browser took too long to find your location',
};

function describe(where) {
    if (!where) return 'the default location';
    const name = sameLocation(where, GREENWICH) ? 'Greenwich, the default'
        : 'the location saved for this browser';
    return `${name} (${place(where)})`;
}

function updateStatus() {
    const where = state.location ?? state.observer;
    const coords = where ? ` (${place(where)})` : '';
    let text;
    switch (state.mode) {
    case 'locating':
        text = `Asking your browser for your location\u2026${where ? ` Meanwhile showing ${describe(where)}.` : ''}`;
        break;
    case 'browser':
        text = `Using your browser\u2019s location${coords}.`;
        break;
    case 'typed':
        text = `Using the coordinates you typed${coords}.`;
        break;
    case 'link':
        text = `Using the coordinates in the page\u2019s address${coords}.`;
        break;
    case 'site':
        text = sites.chosen ? `Using your saved site \u201c${sites.chosen.name}\u201d${coords}.`
            : `Using a saved site${coords}.`;
        break;
    default: {
        const why = REASONS[state.reason?.reason] ?? state.reason?.message?.replace(/\.$/, '') ??
            'Your browser did not share its location';
        text = state.wasReset
            ? `${why}: reset to Greenwich, the default${coords}.`
            : `${why}: using ${describe(where)}. Type a latitude and longitude to change it.`;
    }
    }
    if (state.saveError) text += ` It could not be saved for your next visit (${state.saveError}).`;
    setText(ui.status, text); // unchanged text is not re-announced by screen readers
    ui.status.dataset.source = state.mode;
    if (state.reason) ui.status.dataset.reason = state.reason.reason;
    else delete ui.status.dataset.reason;
}

// ---- inputs --------------------------------------------------------------------

function fillInputs(loc) {
    ui.inputs.lat.value = String(round(loc.lat, 6));
    ui.inputs.lon.value = String(round(loc.lon, 6));
    ui.inputs.elevation.value = String(round(loc.elevation ?? 0, 1));
    state.dirty = false;
}

function showErrors(errors) {
    for (const key of Object.keys(FIELDS)) {
        const msg = errors[key] ?? '';
        ui.errors[key].textContent = msg;
        ui.errors[key].hidden = msg === '';
        ui.inputs[key].setAttribute('aria-invalid', msg === '' ? 'false' : 'true');
    }
}

function inputsFocused() {
    return Object.values(ui.inputs).includes(document.activeElement);
}

/** Make `loc` the location shown and remembered by the session. */
function useLocation(loc, mode, reason = null) {
    if (mode !== 'site') {
        sites.deselect();
        setDisplayZone(null);
    }
    state.location = loc;
    state.mode = mode;
    state.reason = reason;
    state.saveError = null;
    source.setLocation(loc);
    if (!atNow()) fetchFixed();
    writeUrl();
    updateStatus();
    saveLocation(loc).catch((err) => {
        if (state.location !== loc) return;
        if (err instanceof ApiError && err.parameter in FIELDS) {
            showErrors({ [err.parameter]: err.message });
        }
        state.saveError = err.message;
        updateStatus();
    });
}

/**
 * The sites menu chose a site (the sky follows it: its place, weather and time zone)
 * or none (removed: the site that was deleted, whose coordinates stay shown).
 */
function chooseSite(site, { removed } = {}) {
    clearTimeout(typingTimer);
    state.locateToken++; // a pending geolocation answer must not override the choice
    if (site) {
        fillInputs(site);
        showErrors({});
        setDisplayZone(site.timezone);
        useLocation({ site: site.id, lat: site.lat, lon: site.lon,
                      elevation: site.elevation }, 'site');
        return;
    }
    const from = removed ?? state.lastGood ?? state.location;
    if (from) useLocation({ lat: from.lat, lon: from.lon, elevation: from.elevation ?? 0 },
                          'typed');
}

let typingTimer = null;

function applyTyped() {
    clearTimeout(typingTimer);
    typingTimer = null;
    const { location, errors } = validateLocation(
        Object.fromEntries(Object.entries(ui.inputs).map(([k, input]) => [k, input.value])));
    showErrors(errors);
    if (location === null) return;
    if (state.mode === 'typed' && sameLocation(location, state.location)) return;
    useLocation(location, 'typed');
}

function onTyping() {
    state.dirty = true;
    state.locateToken++; // typing wins over a pending geolocation answer
    clearTimeout(typingTimer);
    typingTimer = setTimeout(applyTyped, TYPING_PAUSE_MS);
}

async function locateWithBrowser(isReset) {
    const token = ++state.locateToken;
    state.mode = 'locating';
    state.wasReset = false;
    updateStatus();
    ui.reset.setAttribute('aria-busy', 'true');
    try {
        const loc = await geolocate(isReset ? 0 : 60000);
        if (token !== state.locateToken) return;
        clearTimeout(typingTimer);
        fillInputs(loc);
        showErrors({});
        useLocation(loc, 'browser');
    } catch (err) {
        if (token !== state.locateToken) return;
        const reason = { reason: err.reason ?? 'unavailable', message: err.message };
        if (isReset) {
            clearTimeout(typingTimer);
            fillInputs(GREENWICH);
            showErrors({});
            state.wasReset = true;
            useLocation({ ...GREENWICH }, 'fallback', reason);
        } else {
            state.mode = 'fallback';
            state.reason = reason;
            updateStatus();
        }
    } finally {
        if (token === state.locateToken) ui.reset.removeAttribute('aria-busy');
    }
}

// ---- snapshots -----------------------------------------------------------------

function setLive(kind, text, detail = '') {
    ui.live.dataset.state = kind;
    setText(ui.liveText, text);
    ui.live.title = detail;
}

const MODES = {
    connecting: ['connecting', 'Connecting\u2026'],
    live: ['live', 'Live'],
    reconnecting: ['connecting', 'Reconnecting\u2026'],
    polling: ['polling', 'Polling'],
    offline: ['error', 'Offline'],
};

/** Show in the live indicator how data arrives (the source's mode), or the instant shown. */
function showMode(mode = source.mode) {
    if (!atNow()) {
        setLive('fixed', `Sky at ${instantText(state.time)} (not live)`,
                'A chosen instant: the sky does not move. \u201cBack to now\u201d shows it live.');
        ui.live.dataset.mode = 'fixed';
        return;
    }
    const [kind, text] = MODES[mode] ?? MODES.connecting;
    setLive(kind, text, state.modeDetail);
    ui.live.dataset.mode = mode ?? 'connecting';
}

/** The source changed how data arrives. */
function onMode(mode, detail) {
    state.modeDetail = detail;
    if (atNow()) showMode(mode);
}

// ---- the instant shown: now (live) or a chosen one ------------------------------

/** An instant (ms) as the address and the API take it: "2026-12-15T22:00:00Z". */
function isoTime(t) {
    return new Date(t).toISOString().replace('.000Z', 'Z');
}

const fixedSky = { controller: null, seq: 0 };

/**
 * Away from now: ask GET /planets?time= for the instant and place shown. One request
 * at a time: a newer instant or place aborts the one in flight (the last one wins).
 */
function fetchFixed() {
    fixedSky.controller?.abort();
    const controller = new AbortController();
    fixedSky.controller = controller;
    const mine = ++fixedSky.seq;
    const loc = state.location;
    fetchPlanets(loc, controller.signal, isoTime(state.time)).then((snapshot) => {
        if (mine !== fixedSky.seq) return;
        fixedSky.controller = null;
        if (!snapshot || !Array.isArray(snapshot.bodies)) return;
        onData(snapshot, loc);
        showMode(); // after an error, the instant again
    }, (err) => {
        if (mine !== fixedSky.seq || err.name === 'AbortError') return;
        fixedSky.controller = null;
        onError(err, loc);
    });
}

function stopFixed() {
    fixedSky.seq++;
    fixedSky.controller?.abort();
    fixedSky.controller = null;
}

/** Write the state in the address: ?time=ISO (away from now), then the place. */
function writeUrl() {
    const parts = [];
    if (!atNow()) parts.push(`time=${isoTime(state.time)}`);
    const loc = state.location;
    if (loc?.site) {
        parts.push(`site=${encodeURIComponent(loc.site)}`);
    } else if (loc && Number.isFinite(loc.lat) && Number.isFinite(loc.lon)) {
        parts.push(`lat=${round(loc.lat, 6)}`, `lon=${round(loc.lon, 6)}`);
        if (loc.elevation) parts.push(`elevation=${round(loc.elevation, 1)}`);
    }
    const search = parts.length ? `?${parts.join('&')}` : '';
    if (search !== window.location.search) {
        history.replaceState(history.state, '',
                             `${window.location.pathname}${search}${window.location.hash}`);
    }
}

/** The state an address carries: {time (ms or null), location (or null), site (or null)}. */
function readUrl() {
    const q = new URLSearchParams(window.location.search);
    const out = { time: null, location: null, site: null };
    const t = q.get('time');
    if (t) {
        const v = /^-?\d+(\.\d+)?$/.test(t) ? Number(t) * 1000 : Date.parse(t);
        if (Number.isFinite(v)) out.time = Math.round(v / 1000) * 1000;
    }
    if (q.get('site')) {
        out.site = q.get('site');
    } else if (q.has('lat') && q.has('lon')) {
        out.location = validateLocation({ lat: q.get('lat'), lon: q.get('lon'),
                                          elevation: q.get('elevation') ?? '' }).location;
    }
    return out;
}

/** The headings and the header say which instant is shown. */
function showInstant() {
    setText(ui.seeingTitle, atNow() ? 'What you can see now'
        : `What you can see at ${instantText(state.time)}`);
    setText(ui.skyTitle, atNow() ? 'Sky now' : `Sky at ${instantText(state.time)}`);
    ui.updatedBox.hidden = !atNow();
    timeControls.show(state.time);
    showMode();
}

/** Show the instant `t` (ms), or now (null): live from the stream, else asked once. */
function setTime(t) {
    const next = t === null || !Number.isFinite(t) ? null : Math.round(t / 1000) * 1000;
    if (next === state.time) return;
    state.time = next;
    if (atNow()) {
        stopFixed();
        if (!document.hidden) source.start();
    } else {
        source.stop();
        fetchFixed();
    }
    showInstant();
    writeUrl();
}

function onData(snapshot, asked) {
    state.observer = snapshot.observer ?? asked;
    const obs = state.observer;
    state.lastGood = obs ? { lat: obs.lat, lon: obs.lon, elevation: obs.elevation ?? 0 } : asked;
    if (state.location === null && !state.dirty && !inputsFocused() && state.observer) {
        fillInputs(state.observer);
    }
    window.__lastSnapshot = snapshot;
    if (ui.live.dataset.state === 'error') showMode(); // data flows again after a refusal
    renderTable(ui.table.tBodies[0], snapshot);
    renderVisible(ui.seeing, snapshot);
    const up = renderSky(ui.skymap, ui.skyLayer, snapshot);
    const below = renderBelow(ui.below, snapshot);
    ui.belowEmpty.hidden = below > 0;
    setText(ui.skySummary, `${up} of ${snapshot.bodies.length} above the horizon`);

    ui.table.dataset.time = snapshot.time;
    if (obs) {
        ui.table.dataset.observerLat = obs.lat;
        ui.table.dataset.observerLon = obs.lon;
        ui.table.dataset.observerElevation = obs.elevation ?? 0;
    }
    ui.updated.dateTime = snapshot.time;
    ui.updated.textContent = clock(snapshot.time, true);
    ui.updated.title = `Positions computed for ${snapshot.time}`;

    setText(ui.facts.pressure, Number.isFinite(obs?.pressure)
        ? (obs.pressure > 0 ? `${fixed(obs.pressure, 0)} hPa` : 'none (airless)') : DASH);
    setText(ui.facts.temperature, Number.isFinite(obs?.temperature)
        ? `${fixed(obs.temperature, 1)} \u00b0C` : DASH);
    setText(ui.facts.ephemeris, snapshot.ephemeris ?? DASH);
    // Times are shown in this zone: the site's when it has one, else the browser's.
    setText(ui.facts.zone, displayZoneName());
    setText(ui.facts.zoneLabel, sites.chosen?.timezone ? 'Site\u2019s time zone'
        : 'Your time zone');
    ui.facts.zone.title = `Times on this page are in ${displayZoneName()}`;

    tonight.update(snapshot, asked);
    if (!atNow()) showInstant(); // in the zone of a site chosen meanwhile
    updateStatus();
}

function onError(err, asked) {
    if (err instanceof ApiError && err.parameter in FIELDS) {
        showErrors({ [err.parameter]: err.message });
        // Go back to the last location the server accepted (unless that was this one).
        if (asked !== null && !sameLocation(asked, state.lastGood)) {
            state.location = state.lastGood;
            source.setLocation(state.lastGood);
            if (!atNow()) fetchFixed();
            writeUrl();
        }
    }
    // A network failure already shows as Offline (the source's mode); a refusal that
    // no input explains (a server error) shows here until data flows again.
    else if (err instanceof ApiError) setLive('error', 'Error', err.message);
    // Away from now there is no source to say so.
    else if (!atNow()) setLive('error', 'Offline', err.message);
}

// ---- start ---------------------------------------------------------------------

for (const input of Object.values(ui.inputs)) {
    input.addEventListener('input', onTyping);
    // Enter applies at once (the form has no submit button, so it would not submit).
    input.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') {
            ev.preventDefault();
            applyTyped();
        }
    });
}
ui.form.addEventListener('submit', (ev) => ev.preventDefault());
ui.reset.addEventListener('click', () => locateWithBrowser(true));
initNightToggle(ui.night);
drawTicks(ui.skyTicks);
document.addEventListener('visibilitychange', () => {
    if (document.hidden) source.stop();
    else if (atNow()) source.start();
});

// The address says what to show: an instant, coordinates or a saved site.
const start = readUrl();
state.time = start.time;
if (start.location) {
    fillInputs(start.location);
    useLocation(start.location, 'link');
} else if (start.site) {
    state.location = { site: start.site };
    state.mode = 'site';
    source.setLocation(state.location);
}
showInstant();
if (atNow()) source.start();
else if (!start.location) fetchFixed(); // (useLocation asked already)
writeUrl();
if (start.site) {
    sites.load().then(() => {
        if (sites.select(start.site)) return;
        // Not one of this browser's sites (deleted, or someone else's): where we are.
        state.location = null;
        source.setLocation(null);
        if (!atNow()) fetchFixed();
        writeUrl();
        locateWithBrowser(false);
    });
} else {
    sites.load();
    if (!start.location) locateWithBrowser(false);
}
