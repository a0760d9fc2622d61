// SPDX-License-Identifier: AGPL-3.0-or-later
//
// app.js -- the page's wiring. It decides which location to show (browser
// geolocation, typed coordinates, the session's saved location or Greenwich),
// says so in the status line, and feeds the snapshots of the live source (the
// /planets/stream event stream, polling GET /planets as a fallback: see source.js)
// to the table, the sky chart and the list of bodies below the horizon. The live
// indicator says how data arrives: Live (stream), Polling or Offline.
//
// The newest snapshot shown is kept in window.__lastSnapshot, for tests and for
// the curious (it is exactly what the server sent).

import { ApiError, saveLocation } from './api.js';
import { DASH, clock, displayZoneName, fixed, place, setDisplayZone } from './format.js';
import { FIELDS, GREENWICH, geolocate, round, sameLocation, validateLocation } from './location.js';
import { initNightToggle } from './night.js';
import { drawTicks, renderBelow, renderSky } from './skymap.js';
import { createSitesMenu } from './sites.js';
import { createLiveSource } from './source.js';
import { renderTable } from './table.js';
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
    mode: 'locating', // locating | browser | typed | site | fallback
    reason: null,     // why the browser's location is not used: {reason, message}
    wasReset: false,  // the fallback came from the reset button
    dirty: false,     // the user typed since the inputs were last filled
    locateToken: 0,   // bumps to forget a geolocation answer that arrives too late
    saveError: null,
    modeDetail: '',   // what the live indicator's tooltip says about the mode
};

const source = createLiveSource({ onData, onError, onMode, onSites: (doc) => sites.pushed(doc) });

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
    case 'site':
        text = `Using your saved site \u201c${sites.chosen?.name ?? ''}\u201d${coords}.`;
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

/** Show in the live indicator how data arrives (the source's mode). */
function showMode(mode = source.mode) {
    const [kind, text] = MODES[mode] ?? MODES.connecting;
    setLive(kind, text, state.modeDetail);
    ui.live.dataset.mode = mode ?? 'connecting';
}

/** The source changed how data arrives. */
function onMode(mode, detail) {
    state.modeDetail = detail;
    showMode(mode);
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

    updateStatus();
}

function onError(err, asked) {
    if (err instanceof ApiError && err.parameter in FIELDS) {
        showErrors({ [err.parameter]: err.message });
        // Go back to the last location the server accepted (unless that was this one).
        if (asked !== null && !sameLocation(asked, state.lastGood)) {
            state.location = state.lastGood;
            source.setLocation(state.lastGood);
        }
    }
    // A network failure already shows as Offline (the source's mode); a refusal that
    // no input explains (a server error) shows here until data flows again.
    else if (err instanceof ApiError) setLive('error', 'Error', err.message);
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
    else source.start();
});

source.start();
sites.load();
locateWithBrowser(false);
