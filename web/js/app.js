// SPDX-License-Identifier: AGPL-3.0-or-later
//
// app.js -- the page's wiring. It decides which location to show and says so, in
// a line under the header ("Your location (48.86° N, 2.35° E)", "Greenwich —
// location blocked: set yours", "Saved site “Home”") and in the location card's
// status; it feeds the snapshots of the live source (the /planets/stream event
// stream, polling GET /planets as a fallback: see source.js) to the table, the sky
// chart, the lists and the body card. The live indicator says how data arrives:
// Live (stream), Polling or Offline.
//
// Where: the address (lat/lon or site=), else the location the session saved, else
// Greenwich: the page never asks the browser where it is by itself, only when
// "Use my location" is tapped (and says so when the page is not served over HTTPS,
// where browsers never tell). Coordinates may be typed or pasted in one field
// ("48.85, 2.35", "33.87 S 151.21 E", D:M:S) or in the latitude and longitude
// inputs, whose N/S and E/W buttons set the sign (a phone's decimal keypad may have
// no minus key).
//
// The page shows now (live) or a chosen instant (timectl.js): away from now the
// stream is closed and GET /planets?time= is asked once per change of time or place
// (one request in flight, a newer one aborts it), and the live indicator says "Sky
// at 22:00 on 15 Dec (not live)". The Tonight card (tonight.js) follows the night of
// the instant shown. The address carries the state (history.replaceState):
// ?time=ISO away from now, lat/lon[/elevation] or site=ID.
//
// Offline (offline.js, and sw.js for the page itself): when the server cannot be
// reached the page shows the sky of the forecast it keeps for the next 24 hours,
// else the last snapshot it was sent ("as of 21:04, 3 min ago", dimmed once stale).
//
// The newest snapshot the server sent is kept in window.__lastSnapshot once the page
// has drawn it, for tests and for the curious (it is exactly what the server sent).

import { createAnnouncements } from './announce.js';
import { ApiError, fetchPlanets, saveLocation } from './api.js';
import { createBodyCard } from './bodycard.js';
import {
    DASH, browserZoneName, clock, displayZoneName, fixed, place, setDisplayZone,
} from './format.js';
import {
    FIELDS, GREENWICH, geolocate, parseCoordinates, round, sameLocation, validateLocation,
} from './location.js';
import { initNightToggle } from './night.js';
import {
    FORECAST_DELAY_MS, ago, forecastFor, keepSnapshot, lastSnapshot, makeForecast,
    needsForecast, nightStore, placeKey, skyAt,
} from './offline.js';
import { drawTicks, isSouthUp, orientChart, renderBelow, renderSky, setSouthUp } from './skymap.js';
import { createSitesMenu } from './sites.js';
import { createLiveSource } from './source.js';
import { renderTable } from './table.js';
import { createTimeControls, instantText } from './timectl.js';
import { createTonight } from './tonight.js';
import { renderVisible } from './visible.js';

const TYPING_PAUSE_MS = 500;
const STALE_MS = 60000;          // a sky older than this is dimmed
const FORECAST_RETRY_MS = 600000;
const SOUTH_UP_KEY = 'planettracker.southUp';

const $ = (id) => document.getElementById(id);
const ui = {
    form: $('location-form'),
    inputs: Object.fromEntries(Object.keys(FIELDS).map((k) => [k, $(k)])),
    errors: Object.fromEntries(Object.keys(FIELDS).map((k) => [k, $(`${k}-error`)])),
    coords: $('coords'),
    coordsError: $('coords-error'),
    signs: {
        lat: [$('lat-n'), $('lat-s')],
        lon: [$('lon-e'), $('lon-w')],
    },
    locate: $('locate'),
    geoHttps: $('geo-https'),
    status: $('status'),
    whose: $('whose-sky'),
    whoseText: $('whose-sky-text'),
    whoseChange: $('whose-sky-change'),
    pill: $('status-pill'),
    live: $('live'),
    liveText: $('live-text'),
    asof: $('asof'),
    updated: $('updated'),
    updatedBox: document.querySelector('.updated'),
    main: document.querySelector('main'),
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
    skyFlip: $('sky-flip'),
    skyCaption: $('sky-caption'),
    below: $('below-list'),
    seeing: {
        state: $('seeing-state'),
        seen: $('seeing-list'),
        others: $('seeing-others'),
        none: $('seeing-none'),
    },
    belowEmpty: $('below-empty'),
    night: $('night-toggle'),
    nightAuto: $('night-auto'),
    announcement: $('announcement'),
    card: {
        dialog: $('body-card'),
        name: $('body-card-name'),
        dot: document.querySelector('#body-card-title .body-dot'),
        where: $('body-card-where'),
        verdict: $('body-card-verdict'),
        facts: $('body-card-facts'),
        note: $('body-card-note'),
        close: $('body-card-close'),
    },
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
    observer: null,   // the observer of the last snapshot shown
    // Where the location comes from: start (the server's choice, not known yet),
    // session, default (Greenwich), browser, typed, link, site.
    mode: 'start',
    locating: false,  // asking the browser now
    reason: null,     // why the browser's location is not used: {reason, message}
    dirty: false,     // the user typed since the inputs were last filled
    locateToken: 0,   // bumps to forget a geolocation answer that arrives too late
    saveError: null,
    modeDetail: '',   // what the live indicator's tooltip says about the mode
    time: null,       // the instant shown (ms), or null: now, live
    shown: null,      // the snapshot shown (the server's, or one worked out offline)
    offline: null,    // while the server cannot be reached: {timer}
};

const atNow = () => state.time === null;

const source = createLiveSource({
    onData, onError, onMode,
    onSites: (doc) => sites.pushed(doc),
    onAnnouncement: (a) => announcements.show(a),
});
const tonight = createTonight({ ui: ui.tonight, store: nightStore });
const timeControls = createTimeControls({ ui: ui.time, onChange: setTime });
const announcements = createAnnouncements({
    region: ui.announcement,
    onDismiss: () => ui.whoseChange.focus({ preventScroll: true }),
});

const sites = createSitesMenu({
    ui: ui.sites,
    currentLocation() {
        const loc = state.lastGood ?? state.location;
        if (!loc || !Number.isFinite(loc.lat)) return null;
        // The browser's zone is the zone of the place only when the browser located it.
        const zone = state.mode === 'browser' ? browserZoneName() ?? undefined : undefined;
        return { lat: loc.lat, lon: loc.lon, elevation: loc.elevation ?? 0, zone };
    },
    onChoose: chooseSite,
    onNewOwner: () => source.reopen(),
});

const bodyCard = createBodyCard({
    ui: ui.card,
    findOpener(name, kind) {
        const sel = {
            table: `#sky-table .table-open[data-body="${name}"]`,
            chart: `#sky-bodies .sky-body[data-body="${name}"]`,
            seeing: `.visible-open[data-body="${name}"]`,
            below: `.below-open[data-body="${name}"]`,
        };
        return document.querySelector(sel[kind] ?? '') ??
            document.querySelector(`.body-open[data-body="${name}"]`) ??
            document.querySelector(`#sky-bodies .sky-body[data-body="${name}"]`);
    },
});

// ---- where: the location line and the status -------------------------------------

function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
}

const REASONS = {
    denied: 'Location access is blocked',
    unavailable: 'Your browser could not find your location',
    timeout: 'Your browser took too long to find your location',
    insecure: 'Your browser shares its location only with pages served over HTTPS, and ' +
        'this one came over plain HTTP',
    unsupported: 'This browser cannot share its location',
};

const SHORT_REASONS = {
    denied: 'location blocked',
    unavailable: 'location not found',
    timeout: 'location not found in time',
    insecure: 'location needs HTTPS',
    unsupported: 'no location from this browser',
};

/** "48.86° N, 2.35° E": a place in a few characters. */
function shortPlace(where) {
    if (!where || !Number.isFinite(where.lat) || !Number.isFinite(where.lon)) return '';
    const lat = `${Math.abs(where.lat).toFixed(2)}\u00b0 ${where.lat < 0 ? 'S' : 'N'}`;
    const lon = `${Math.abs(where.lon).toFixed(2)}\u00b0 ${where.lon < 0 ? 'W' : 'E'}`;
    return `${lat}, ${lon}`;
}

function describe(where) {
    if (!where) return 'the default location';
    if (state.mode === 'default' || (state.mode !== 'session' && sameLocation(where, GREENWICH))) {
        return `Greenwich, the default (${place(where)})`;
    }
    return `the location saved for this browser (${place(where)})`;
}

/** The line under the header: whose sky this is, in a few words, never empty. */
function whoseSky() {
    const where = state.observer ?? state.location;
    const coords = shortPlace(where) ? ` (${shortPlace(where)})` : '';
    const short = SHORT_REASONS[state.reason?.reason] ?? (state.reason ? 'no location' : '');
    let text;
    let link = 'change';
    switch (state.mode) {
    case 'browser': text = `Your location${coords}`; break;
    case 'typed': text = `Typed location${coords}`; break;
    case 'link': text = `Location from the link${coords}`; break;
    case 'site':
        text = sites.chosen ? `Saved site \u201c${sites.chosen.name}\u201d` : `A saved site${coords}`;
        break;
    case 'session':
        text = `Your saved location${coords}${short ? ` \u2014 ${short}` : ''}`;
        break;
    case 'default':
        text = `Greenwich \u2014 ${short || 'the default'}:`;
        link = 'set yours';
        break;
    default:
        text = 'Your saved location, else Greenwich\u2026';
    }
    if (state.locating) text = `Finding your location\u2026 (showing ${text.replace(/:$/, '')})`;
    setText(ui.whoseText, text);
    setText(ui.whoseChange, link);
    ui.whose.dataset.source = state.locating ? 'locating' : state.mode;
    ui.whose.title = text;
}

function updateStatus() {
    const where = state.location?.lat !== undefined ? state.location : state.observer ?? state.location;
    const coords = where && Number.isFinite(where.lat) ? ` (${place(where)})` : '';
    let text;
    switch (state.mode) {
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
    case 'session':
    case 'default':
        text = `Using ${describe(where)}. Tap \u201cUse my location\u201d, or type or paste coordinates.`;
        break;
    default:
        text = 'Showing the location saved for this browser, else Greenwich\u2026';
    }
    if (state.locating) {
        text = `Asking your browser for your location\u2026 Meanwhile ${text[0].toLowerCase()}${text.slice(1)}`;
    } else if (state.reason) {
        const why = REASONS[state.reason.reason] ?? state.reason.message?.replace(/\.$/, '') ??
            'Your browser did not share its location';
        text = `${why}: still ${text[0].toLowerCase()}${text.slice(1)}`;
    }
    if (state.saveError) text += ` It could not be saved for your next visit (${state.saveError}).`;
    setText(ui.status, text); // unchanged text is not re-announced by screen readers
    ui.status.dataset.source = state.locating ? 'locating' : state.mode;
    if (state.reason) ui.status.dataset.reason = state.reason.reason;
    else delete ui.status.dataset.reason;
    whoseSky();
}

// ---- inputs --------------------------------------------------------------------

/** The N/S and E/W buttons show the sign of what the latitude and longitude inputs hold. */
function syncSigns() {
    for (const key of ['lat', 'lon']) {
        const text = ui.inputs[key].value.trim().toUpperCase();
        const negative = /^[-\u2212]/.test(text) || /[SW]/.test(text);
        setPressed(ui.signs[key][0], !negative);
        setPressed(ui.signs[key][1], negative);
    }
}

function setPressed(button, on) {
    if (button.getAttribute('aria-pressed') !== String(on)) button.setAttribute('aria-pressed', String(on));
}

function setValue(input, text) {
    if (input.value !== text) input.value = text;
}

/** The coordinates field shows the location in its own words (unless being typed in). */
function fillCoords(loc) {
    if (document.activeElement === ui.coords) return;
    const text = `${place({ lat: loc.lat, lon: loc.lon })}`;
    if (ui.coords.value !== text) ui.coords.value = text;
    ui.coordsError.hidden = true;
    if (ui.coords.getAttribute('aria-invalid') !== 'false') ui.coords.setAttribute('aria-invalid', 'false');
}

function fillInputs(loc) {
    setValue(ui.inputs.lat, String(round(loc.lat, 6)));
    setValue(ui.inputs.lon, String(round(loc.lon, 6)));
    setValue(ui.inputs.elevation, String(round(loc.elevation ?? 0, 1)));
    fillCoords(loc);
    syncSigns();
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

function showCoordsError(msg) {
    ui.coordsError.textContent = msg ?? '';
    ui.coordsError.hidden = !msg;
    ui.coords.setAttribute('aria-invalid', msg ? 'true' : 'false');
}

function inputsFocused() {
    return [...Object.values(ui.inputs), ui.coords].includes(document.activeElement);
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
    else if (state.offline) showOfflineSky();
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
    state.locating = false;
    if (site) {
        fillInputs(site);
        showErrors({});
        setDisplayZone(site.timezone);
        announcements.refresh();
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
    syncSigns();
    if (location === null) return;
    fillCoords(location);
    if (state.mode === 'typed' && sameLocation(location, state.location)) return;
    useLocation(location, 'typed');
}

/** The coordinates field: "48.85, 2.35" and the rest (see parseCoordinates). */
function applyCoords() {
    clearTimeout(typingTimer);
    typingTimer = null;
    const text = ui.coords.value.trim();
    if (text === '') {
        showCoordsError('');
        return;
    }
    const { location, error } = parseCoordinates(text);
    showCoordsError(error);
    if (!location) return;
    const loc = { lat: location.lat, lon: location.lon,
                  elevation: location.elevation ?? (Number(ui.inputs.elevation.value) || 0) };
    const { location: checked, errors } = validateLocation({
        lat: String(loc.lat), lon: String(loc.lon), elevation: String(loc.elevation) });
    if (!checked) {
        showErrors(errors);
        return;
    }
    ui.inputs.lat.value = String(round(checked.lat, 6));
    ui.inputs.lon.value = String(round(checked.lon, 6));
    ui.inputs.elevation.value = String(round(checked.elevation, 1));
    showErrors({});
    syncSigns();
    if (state.mode === 'typed' && sameLocation(checked, state.location)) return;
    useLocation(checked, 'typed');
}

function typed(apply) {
    state.dirty = true;
    state.locateToken++; // typing wins over a pending geolocation answer
    state.locating = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(apply, TYPING_PAUSE_MS);
}

/**
 * A pasted pair in the latitude, longitude or elevation input ("48.85, 2.35") fills
 * both and applies at once; anything else is pasted as usual.
 */
function onPaste(ev) {
    const text = ev.clipboardData?.getData('text') ?? '';
    const { location } = parseCoordinates(text);
    if (!location) return;
    ev.preventDefault();
    ui.coords.value = text.trim();
    applyCoords();
}

/** N/S, E/W: give the latitude or longitude the sign of the button. */
function setSign(key, sign) {
    const input = ui.inputs[key];
    let text = input.value.trim();
    const letters = key === 'lat' ? ['N', 'S'] : ['E', 'W'];
    const negative = /^[-\u2212]/.test(text) || new RegExp(letters[1], 'i').test(text);
    if ((sign < 0) !== negative) {
        if (new RegExp(`[${letters.join('')}]`, 'i').test(text)) {
            text = text.replace(new RegExp(`[${letters.join('')}]`, 'i'),
                                (c) => (c.toUpperCase() === letters[0] ? letters[1] : letters[0]));
        } else if (negative) {
            text = text.replace(/^[-\u2212]\s*/, '');
        } else {
            text = `-${text.replace(/^\+/, '')}`;
        }
        input.value = text;
    }
    syncSigns();
    state.dirty = true;
    state.locateToken++;
    // A sign on an empty input waits for the digits, typed after it; otherwise it
    // applies at once.
    if (/\d/.test(text)) {
        applyTyped();
    } else {
        input.focus();
        input.setSelectionRange(text.length, text.length);
    }
}

async function locateWithBrowser() {
    const token = ++state.locateToken;
    state.locating = true;
    state.reason = null;
    updateStatus();
    ui.locate.setAttribute('aria-busy', 'true');
    try {
        const loc = await geolocate(0);
        if (token !== state.locateToken) return;
        state.locating = false;
        clearTimeout(typingTimer);
        fillInputs(loc);
        showErrors({});
        useLocation(loc, 'browser');
    } catch (err) {
        if (token !== state.locateToken) return;
        state.locating = false;
        state.reason = { reason: err.reason ?? 'unavailable', message: err.message };
        if (state.reason.reason === 'insecure') ui.geoHttps.hidden = false;
        updateStatus();
    } finally {
        if (token === state.locateToken) ui.locate.removeAttribute('aria-busy');
    }
}

// ---- the live indicator ----------------------------------------------------------

function setLive(kind, text, detail = '', aside = '') {
    ui.live.dataset.state = kind;
    ui.pill.dataset.state = kind;
    // `aside`: said after the text, which a phone's narrow pill leaves to screen readers.
    if (ui.liveText.textContent !== text + aside) {
        if (aside) {
            const span = document.createElement('span');
            span.className = 'live-aside';
            span.textContent = aside;
            ui.liveText.replaceChildren(text, span);
        } else {
            ui.liveText.textContent = text;
        }
    }
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
        setLive('fixed', `Sky at ${instantText(state.time)}`,
                'A chosen instant: the sky does not move. \u201cBack to now\u201d shows it live.',
                ' (not live)');
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
    if (mode === 'offline' && atNow()) goOffline();
}

// ---- offline: the forecast, else the last snapshot ----------------------------------

/** The place of the sky shown, as offline.js keys it (null: whatever was shown last). */
function currentKey() {
    return placeKey(state.location, state.observer);
}

/** The sky to show without the server at instant t: {snapshot, kind, asOf} or null. */
function cachedSky(t) {
    const key = currentKey();
    const fc = forecastFor(key);
    const fromForecast = skyAt(fc, t);
    if (fromForecast) return { snapshot: fromForecast, kind: 'forecast', asOf: fc.made };
    const last = lastSnapshot(key);
    if (last && atNow()) return { snapshot: last.snapshot, kind: 'frozen', asOf: Date.parse(last.snapshot.time) };
    return null;
}

/** Show the cached sky for now (or the instant shown), and say how old it is. */
function showOfflineSky() {
    const sky = cachedSky(atNow() ? Date.now() : state.time);
    if (!sky) {
        // Nothing kept for this place (or instant): what is shown is not its sky.
        if (state.offline && state.shown && placeKey(state.location, null) !== null &&
            currentKey() !== placeKey(null, state.shown.observer)) {
            setText(ui.asof, 'no sky saved for this place');
            ui.asof.dataset.kind = 'frozen';
            ui.asof.hidden = false;
            ui.main.dataset.stale = 'true';
        } else {
            ui.asof.hidden = true;
            delete ui.main.dataset.stale;
        }
        return false;
    }
    render(sky.snapshot, state.location, sky.kind);
    const when = clock(new Date(sky.asOf).toISOString());
    setText(ui.asof, `as of ${when}, ${ago(sky.asOf)}`);
    ui.asof.title = sky.kind === 'forecast'
        ? `The server cannot be reached: positions worked out from the forecast saved at ${when}`
        : `The server cannot be reached: the sky as it was sent at ${when}`;
    ui.asof.dataset.kind = sky.kind;
    ui.asof.hidden = false;
    const stale = sky.kind === 'frozen' && Date.now() - sky.asOf > STALE_MS;
    if (stale) ui.main.dataset.stale = 'true';
    else delete ui.main.dataset.stale;
    return true;
}

function goOffline() {
    if (state.offline) return;
    state.offline = { timer: setInterval(() => {
        if (atNow()) showOfflineSky();
    }, 1000) };
    showOfflineSky();
}

function backOnline() {
    if (!state.offline) return;
    clearInterval(state.offline.timer);
    state.offline = null;
    ui.asof.hidden = true;
    delete ui.asof.dataset.kind;
    delete ui.main.dataset.stale;
}

const forecast = { key: null, timer: null, controller: null, failedAt: 0 };

function stopForecast() {
    clearTimeout(forecast.timer);
    forecast.timer = null;
    forecast.controller?.abort();
    forecast.controller = null;
    forecast.key = null;
}

/**
 * After a live snapshot for place `key`: once the page has stayed live there for a
 * few seconds, ask for its forecast if it has none of today.
 */
function planForecast(key, asked, observer) {
    if (key === forecast.key) return;
    stopForecast();
    forecast.key = key;
    if (!key || !needsForecast(key) || Date.now() - forecast.failedAt < FORECAST_RETRY_MS) return;
    const loc = asked?.site ? { site: asked.site }
        : { lat: observer.lat, lon: observer.lon, elevation: observer.elevation ?? 0 };
    forecast.timer = setTimeout(() => {
        forecast.timer = null;
        if (!atNow() || document.hidden || forecast.key !== key) return;
        const controller = new AbortController();
        forecast.controller = controller;
        makeForecast(key, loc, controller.signal).then(() => {
            if (forecast.controller === controller) forecast.controller = null;
        }, (err) => {
            if (forecast.controller === controller) forecast.controller = null;
            if (err?.name !== 'AbortError') forecast.failedAt = Date.now();
        });
    }, FORECAST_DELAY_MS);
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
        stopForecast(); // before asking for the instant: one request at a time
        source.stop();
        backOnline();
        fetchFixed();
    }
    showInstant();
    writeUrl();
}

// ---- snapshots -----------------------------------------------------------------

const nightAuto = initNightToggle(ui.night, ui.nightAuto);

/**
 * Show `snapshot` (asked for `asked`) everywhere: from the server (`cached` null) or
 * worked out offline ('forecast', 'frozen'). In three parts (the table; the lists and
 * the chart; the rest): render() draws them at once, the page's start one task each.
 */
function renderParts(snapshot, asked, cached = null) {
    return [() => {
        // The server's choice of place, when the page asked for none: the session's or Greenwich.
        if (state.location === null && (state.mode === 'start' || state.mode === 'session' ||
                                        state.mode === 'default')) {
            const src = snapshot.observer?.source;
            if (src === 'session' || src === 'default') state.mode = src;
        }
        state.shown = snapshot;
        state.observer = snapshot.observer ?? asked;
        if (state.location === null && !state.dirty && !inputsFocused() && state.observer) {
            fillInputs(state.observer);
        }
        if (ui.live.dataset.state === 'error' && !cached) showMode(); // data flows again after a refusal
        renderTable(ui.table.tBodies[0], snapshot);
    }, () => {
        renderVisible(ui.seeing, snapshot);
        const up = renderSky(ui.skymap, ui.skyLayer, snapshot);
        const below = renderBelow(ui.below, snapshot);
        ui.belowEmpty.hidden = below > 0;
        setText(ui.skySummary, `${up} of ${snapshot.bodies.length} above the horizon`);
        bodyCard.update(snapshot);
    }, () => {
        const obs = state.observer;
        ui.table.dataset.time = snapshot.time;
        if (cached) ui.table.dataset.cached = cached;
        else delete ui.table.dataset.cached;
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
        if (atNow()) nightAuto.sun(snapshot.bodies.find((b) => b.name === 'sun')?.alt);
        if (!atNow()) showInstant(); // in the zone of a site chosen meanwhile
        updateStatus();
    }];
}

function render(snapshot, asked, cached = null) {
    for (const part of renderParts(snapshot, asked, cached)) part();
}

/**
 * Let the browser handle what waits (input, a frame) before the page goes on: work
 * cut so, task by task, never holds the page for long (scheduler.yield() where there
 * is one: the page then goes on before other tasks; else a timer).
 */
function breathe() {
    if (globalThis.scheduler?.yield) return globalThis.scheduler.yield();
    return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Go on once the browser has drawn a frame (its style and layout of what was just
 * added: each part of the first sky laid out apart, not all at once when the page
 * shows). A page in the background draws none: a timer then.
 */
function afterFrame() {
    return new Promise((resolve) => {
        let done = false;
        const go = () => {
            if (done) return;
            done = true;
            setTimeout(resolve, 0);
        };
        requestAnimationFrame(go);
        setTimeout(go, 100);
    });
}

/**
 * A snapshot from the server, for `asked`: shown, a part per task (the page's first,
 * `first`, with a frame between parts), unless a newer one is drawn meanwhile, and
 * kept for offline use. Every second on a busy phone, one long task less.
 */
async function onData(snapshot, asked, { first = false } = {}) {
    const obs = snapshot.observer ?? asked;
    state.lastGood = obs ? { lat: obs.lat, lon: obs.lon, elevation: obs.elevation ?? 0 } : asked;
    backOnline();
    const parts = renderParts(snapshot, asked);
    for (let i = 0; i < parts.length; i++) {
        if (i > 0 && state.shown !== snapshot) return; // a newer one was drawn meanwhile
        parts[i]();
        if (i < parts.length - 1) await (first ? afterFrame() : breathe());
    }
    window.__lastSnapshot = snapshot; // drawn
    if (atNow()) {
        const key = placeKey(asked, obs);
        keepSnapshot(key, snapshot);
        // Only while the stream is healthy: a struggling server is not asked for more.
        if (obs && source.mode === 'live') planForecast(key, asked, obs);
    }
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
    // Away from now there is no source to say so; the forecast may know that instant.
    else if (!atNow()) {
        setLive('error', 'Offline', err.message);
        showOfflineSky();
    }
}

// ---- the chart's orientation ------------------------------------------------------

const CAPTIONS = {
    north: 'Looking up, north at the top: <east> is on the left, as on a planisphere held ' +
        'overhead (face south, S at the bottom). The centre is straight up; bigger dots are ' +
        'brighter. Tap a body for its card.',
    south: 'Looking up, south at the top: <east> is on the right, as when you face north ' +
        'with N at the bottom. The centre is straight up; bigger dots are brighter. Tap a ' +
        'body for its card.',
};

function showOrientation() {
    const south = isSouthUp();
    orientChart(ui.skymap);
    ui.skyFlip.setAttribute('aria-pressed', String(south));
    const [before, after] = CAPTIONS[south ? 'south' : 'north'].split('<east>');
    const strong = document.createElement('strong');
    strong.textContent = 'east';
    ui.skyCaption.replaceChildren(before, strong, after);
    if (state.shown) renderSky(ui.skymap, ui.skyLayer, state.shown);
}

function flipChart() {
    setSouthUp(!isSouthUp());
    try {
        localStorage.setItem(SOUTH_UP_KEY, isSouthUp() ? '1' : '0');
    } catch {
        // storage blocked: for this page only
    }
    showOrientation();
}

// ---- start ---------------------------------------------------------------------

for (const [key, input] of Object.entries(ui.inputs)) {
    input.addEventListener('input', () => {
        if (key !== 'elevation') syncSigns();
        typed(applyTyped);
    });
    input.addEventListener('paste', onPaste);
    // Enter applies at once (the form has no submit button, so it would not submit).
    input.addEventListener('keydown', (ev) => {
        if (ev.key === 'Enter') {
            ev.preventDefault();
            applyTyped();
        }
    });
}
ui.coords.addEventListener('input', (ev) => {
    if (ev.inputType === 'insertFromPaste' || ev.inputType === 'insertFromDrop') {
        state.dirty = true;
        state.locateToken++;
        applyCoords();
    } else {
        typed(applyCoords);
    }
});
ui.coords.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter') {
        ev.preventDefault();
        applyCoords();
    }
});
for (const key of ['lat', 'lon']) {
    for (const button of ui.signs[key]) {
        button.addEventListener('click', () => setSign(key, Number(button.dataset.sign)));
    }
}
ui.form.addEventListener('submit', (ev) => ev.preventDefault());
ui.locate.addEventListener('click', () => locateWithBrowser());
ui.whoseChange.addEventListener('click', (ev) => {
    ev.preventDefault();
    ui.coords.scrollIntoView({ block: 'center' });
    ui.coords.focus({ preventScroll: true });
});
if (!window.isSecureContext) ui.geoHttps.hidden = false;

// A body's card: from the table, the chart, the lists.
document.addEventListener('click', (ev) => {
    const el = ev.target.closest?.('.body-open, .sky-body');
    if (!el || !el.dataset.body) return;
    const kind = el.classList.contains('sky-body') ? 'chart'
        : el.classList.contains('table-open') ? 'table'
            : el.classList.contains('visible-open') ? 'seeing' : 'below';
    bodyCard.open(el.dataset.body, el, kind);
});
ui.skyLayer.addEventListener('keydown', (ev) => {
    const el = ev.target.closest?.('.sky-body');
    if (!el || (ev.key !== 'Enter' && ev.key !== ' ')) return;
    ev.preventDefault();
    bodyCard.open(el.dataset.body, el, 'chart');
});

try {
    setSouthUp(localStorage.getItem(SOUTH_UP_KEY) === '1');
} catch {
    setSouthUp(false);
}
showOrientation();
ui.skyFlip.addEventListener('click', flipChart);
drawTicks(ui.skyTicks);
document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
        source.stop();
        stopForecast();
    } else if (atNow()) {
        source.start();
    }
});

// The address says what to show: an instant, coordinates or a saved site; else the
// server's choice (the session's location, else Greenwich). Never the browser's
// location without a tap on "Use my location".
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
updateStatus();

/**
 * The server put the first sky into the page (this address's, or the session's):
 * the page shows it at once, before the stream or the first request answers (not
 * for a site= address: the page does not carry the site's sky). Null: none to show.
 */
function firstSky() {
    const block = document.getElementById('pt-first-snapshot');
    if (!block || start.site) return null;
    try {
        const first = JSON.parse(block.textContent);
        // A page kept by the service worker carries an old sky: only a fresh one counts
        // (or the instant the address asks for).
        if (start.time || Math.abs(Date.parse(first.time) - Date.now()) < 60000) return first;
    } catch {
        // a garbled block: the stream or the request brings the sky
    }
    return null;
}

/**
 * The rest of the start, a piece per task (a phone's main thread is never held long):
 * the first sky drawn (while the cards are still invisible: nothing moves on the
 * screen), then shown; then the live stream (or the instant's request); then the
 * saved sites.
 */
async function boot() {
    const first = firstSky();
    if (first) {
        await breathe();
        await onData(first, state.location, { first: true });
        await afterFrame();
    }
    // Everything is drawn (with the first sky when the page carried a fresh one): show
    // it, once its style is worked out with the class still there (no transition from
    // the empty page, style.css).
    void getComputedStyle(ui.skymap).color;
    document.documentElement.classList.remove('booting');
    await breathe();
    if (atNow()) source.start();
    else if (!start.location) fetchFixed(); // (useLocation asked already)
    writeUrl();
    await breathe();
    if (start.site) {
        sites.load().then(() => {
            if (sites.select(start.site)) return;
            // Not one of this browser's sites (deleted, or someone else's): the server's choice.
            state.location = null;
            state.mode = 'start';
            source.setLocation(null);
            if (!atNow()) fetchFixed();
            writeUrl();
            updateStatus();
        });
    } else {
        sites.load();
    }
}
boot();

// The service worker keeps the page and its files for offline visits (HTTPS and
// localhost only: browsers have none elsewhere).
if ('serviceWorker' in navigator && window.isSecureContext) {
    window.addEventListener('load', () => {
        navigator.serviceWorker.register('sw.js', { scope: './' }).catch(() => {
            // No service worker (blocked, private mode): the page works online as before.
        });
    });
}
