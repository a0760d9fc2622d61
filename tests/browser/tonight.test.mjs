// SPDX-License-Identifier: AGPL-3.0-or-later
//
// tonight.test.mjs -- the Tonight card and the time controls in a real browser,
// against the real server: a page opened at an address that carries an instant and
// a place shows that sky (not live, without asking the browser where it is) and its
// night from GET /planets/tonight (Tromsø's polar night, a December night in Paris
// with the planets on the timeline); the slider moves the sky and the address, with
// one request in flight at a time, and "Back to now" goes live again; a saved site
// in the address; a phone screenshot in night mode, its text at least 4.5:1 on
// black. Every wait is for a condition (WAIT_MS deadline), never a fixed sleep.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    ARTIFACTS, assertCleanShutdown, getJson, liveIndicator, openPage, openStreams, pageLog,
    startSuite, stopSuite, waitForObserver, waitUntil,
} from './harness.mjs';

const TIMEOUT = { timeout: 120000 };
const TROMSO = { lat: 69.65, lon: 18.96 };
const PARIS = { lat: 48.85, lon: 2.35 };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
                deviceScaleFactor: 2 };

let server;
let browser;

before(async () => {
    ({ server, browser } = await startSuite());
    fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(() => stopSuite(server, browser));

/** "HH:MM" of an ISO instant on the clock of `zone`. */
function hhmm(iso, zone) {
    return new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit',
                                              hourCycle: 'h23' }).format(new Date(iso));
}

/** The night's start as the server counts it (local solar noon at or before t). */
function nightAnchor(t, lon) {
    const off = lon / 15 * 3600e3;
    return Math.floor((t + off - 43200e3) / 86400e3) * 86400e3 + 43200e3 - off;
}

/** Count the page's calls of the browser's geolocation (none must be made). */
function countGeolocation() {
    window.__geoCalls = 0;
    const geo = navigator.geolocation;
    if (!geo) return;
    const real = geo.getCurrentPosition.bind(geo);
    geo.getCurrentPosition = (...args) => {
        window.__geoCalls++;
        return real(...args);
    };
}

/**
 * Requests of the page to GET /planets?time= (the sky away from now), measured in the
 * page: how many were in flight at once (one is in flight from the call until its
 * answer's head arrives or it is aborted), and the instants asked for.
 */
function countSkyRequests() {
    const inner = window.fetch;
    const s = { inFlight: 0, max: 0, times: [] };
    window.__sky = s;
    window.fetch = (input, init) => {
        const url = new URL(String(input instanceof Request ? input.url : input), location.href);
        if (!url.pathname.endsWith('/planets') || !url.searchParams.has('time')) return inner(input, init);
        let open = true;
        const done = () => {
            if (open) {
                open = false;
                s.inFlight--;
            }
        };
        s.inFlight++;
        s.max = Math.max(s.max, s.inFlight);
        s.times.push(url.searchParams.get('time'));
        init?.signal?.addEventListener('abort', done);
        const p = inner(input, init);
        p.then(done, done);
        return p;
    };
}

/** Wait until the Tonight card has drawn a night (its rows) of `status`. */
async function waitForNight(page, status) {
    await waitUntil(page, `the Tonight card to show a night of status ${status}`, (st) => {
        const card = document.getElementById('tonight');
        return card.dataset.status === st && !card.hasAttribute('aria-busy') &&
            card.querySelectorAll('.tl-row').length > 0;
    }, status);
}

/** What the Tonight card shows, read at once. */
function readTonight(page) {
    return page.evaluate(() => {
        const tl = document.getElementById('tonight-timeline');
        const pct = (el) => Number.parseFloat(el.style.left);
        return {
            status: document.getElementById('tonight').dataset.status,
            date: document.getElementById('tonight-date').textContent,
            summary: document.getElementById('tonight-summary').textContent,
            moon: document.getElementById('tonight-moon').textContent,
            dark: document.getElementById('tonight-dark').textContent,
            start: tl.dataset.start,
            end: tl.dataset.end,
            whole: tl.dataset.whole,
            bands: [...tl.querySelectorAll('.tl-band')].map((b) => ({ sky: b.dataset.sky, left: pct(b),
                width: Number.parseFloat(b.style.width) })),
            ticks: [...tl.querySelectorAll('.tl-tick')].map((t) => t.textContent),
            now: (() => {
                const n = tl.querySelector('.tl-now');
                return n && !n.hidden ? pct(n) : null;
            })(),
            rows: [...tl.querySelectorAll('.tl-row')].map((r) => ({
                body: r.dataset.body,
                name: r.querySelector('.tl-label').textContent,
                said: r.querySelector('.tl-name .visually-hidden').textContent,
                up: [...r.querySelectorAll('.tl-up')].map((b) => [pct(b), Number.parseFloat(b.style.width)]),
                well: [...r.querySelectorAll('.tl-well')].map((b) => [pct(b), Number.parseFloat(b.style.width)]),
                best: [...r.querySelectorAll('.tl-best')].map((m) => ({
                    left: pct(m), label: m.getAttribute('aria-label'), title: m.title,
                    verdict: m.dataset.verdict, role: m.getAttribute('role') })),
                note: r.querySelector('.tl-note')?.textContent ?? null,
            })),
        };
    });
}

/** Where instant `iso` falls on a timeline from `start` to `end`, in percent. */
function at(iso, start, end) {
    return (Date.parse(iso) - Date.parse(start)) / (Date.parse(end) - Date.parse(start)) * 100;
}

test('Tromsø in December, opened by its address: the polar night, named', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, {
        timezoneId: 'Europe/Oslo', permissions: ['geolocation'],
        geolocation: { latitude: 48.8566, longitude: 2.3522 }, // must not be asked for
    });
    await context.addInitScript(countGeolocation);
    const time = '2026-12-15T12:00:00Z';
    await page.goto(`${server.base}?time=${time}&lat=${TROMSO.lat}&lon=${TROMSO.lon}`);
    await waitForObserver(page, TROMSO.lat, TROMSO.lon);
    await waitForNight(page, 'polar_night');
    const api = await getJson(server.base,
                              `planets/tonight?lat=${TROMSO.lat}&lon=${TROMSO.lon}&time=${time}`);
    const n = api.night;
    assert.equal(n.status, 'polar_night');
    const shown = await readTonight(page);
    const dusk = hhmm(n.dusk.civil, 'Europe/Oslo');
    const dawn = hhmm(n.dawn.civil, 'Europe/Oslo');
    assert.deepEqual([dusk, dawn], ['13:53', '09:26']);
    assert.equal(shown.summary,
                 `Polar night: the Sun does not rise today; civil twilight until ${dusk} and again from ${dawn}.`);
    // No sunset to sunrise: the timeline is the whole day from the local noon, in the
    // twilights and the dark (never daylight).
    assert.equal(shown.whole, 'true');
    assert.equal(Date.parse(shown.start), Date.parse(n.window_start));
    assert.equal(Date.parse(shown.end), Date.parse(n.window_end));
    assert.deepEqual(shown.bands.map((b) => b.sky), ['civil', 'nautical', 'astronomical', 'dark',
                                                     'astronomical', 'nautical', 'civil']);
    assert.ok(Math.abs(shown.bands[1].left - at(n.dusk.civil, n.window_start, n.window_end)) < 0.01);
    assert.match(shown.dark, /^9\.2 h of dark sky without the Moon \(\d\d:\d\d–\d\d:\d\d\)\.$/);
    assert.equal(shown.moon.startsWith(`Moon: ${api.moon.phase_name}, `), true, shown.moon);
    // The Moon is up in the afternoon; Pluto never.
    assert.ok(shown.rows.find((r) => r.body === 'moon').up.length > 0);
    assert.equal(shown.rows.find((r) => r.body === 'pluto').note, 'not up tonight');
    assert.equal(shown.rows.some((r) => r.body === 'sun'), false, 'no row for the Sun');

    // The sky of that instant, not live; the browser was not asked where it is.
    const snap = await page.evaluate(() => window.__lastSnapshot);
    assert.equal(snap.time, '2026-12-15T12:00:00.000Z');
    const live = await liveIndicator(page);
    assert.equal(live.text, 'Sky at 13:00 on 15 Dec (not live)');
    assert.equal(live.mode, 'fixed');
    assert.equal(await page.isVisible('#back-to-now'), true);
    assert.equal(await page.evaluate(() => window.__geoCalls), 0);
    assert.equal(await page.getAttribute('#status', 'data-source'), 'link');
    assert.equal(await page.inputValue('#lat'), '69.65');
    const log = await pageLog(page);
    assert.equal(log.streams.length, 0, 'no live stream away from now');
    const skies = log.fetches.filter((f) => new URL(f.url).pathname.endsWith('/planets'));
    assert.equal(skies.length, 1, skies.map((f) => f.url).join(' '));
    assert.equal(new URL(skies[0].url).searchParams.get('time'), time);
    const nights = log.fetches.filter((f) => new URL(f.url).pathname.endsWith('/planets/tonight'));
    assert.equal(nights.length, 1, nights.map((f) => f.url).join(' '));
    // The address keeps the state as it was opened.
    assert.equal(await page.evaluate(() => location.search), `?time=${time}&lat=69.65&lon=18.96`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'tonight-tromso.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await context.close();
});

test('a December night in Paris: the planets on the timeline, Saturn well placed', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base,
                                                       { timezoneId: 'Europe/Paris' });
    const time = '2026-12-15T22:00:00Z';
    await page.goto(`${server.base}?time=${time}&lat=${PARIS.lat}&lon=${PARIS.lon}`);
    await waitForNight(page, 'normal');
    const api = await getJson(server.base, `planets/tonight?lat=${PARIS.lat}&lon=${PARIS.lon}&time=${time}`);
    const n = api.night;
    const z = (iso) => hhmm(iso, 'Europe/Paris');
    const shown = await readTonight(page);

    // Sunset to sunrise, the twilights in bands darker and darker, then back.
    assert.equal(Date.parse(shown.start), Date.parse(n.sunset));
    assert.equal(Date.parse(shown.end), Date.parse(n.sunrise));
    assert.deepEqual(shown.bands.map((b) => b.sky), ['civil', 'nautical', 'astronomical', 'dark',
                                                     'astronomical', 'nautical', 'civil']);
    assert.ok(Math.abs(shown.bands[3].left - at(n.dark[0].start, n.sunset, n.sunrise)) < 0.01);
    assert.equal(shown.summary, `Sunset ${z(n.sunset)}, dark ${z(n.dark[0].start)}\u2013` +
                 `${z(n.dark[0].end)}, sunrise ${z(n.sunrise)}.`);
    assert.equal(shown.date, '15\u201316 Dec \u00b7 Europe/Paris');
    // Hour ticks on Paris's clock, from 17 h to 08 h.
    assert.ok(shown.ticks.length >= 6, shown.ticks.join(' '));
    assert.ok(shown.ticks.every((t) => /^\d\d(:00)?$/.test(t)), shown.ticks.join(' '));
    assert.ok(['17', '18', '17:00', '18:00'].includes(shown.ticks[0]), shown.ticks.join(' '));

    // One row per body but the Sun, in the server's order.
    assert.deepEqual(shown.rows.map((r) => r.body),
                     ['moon', 'mercury', 'venus', 'mars', 'jupiter', 'saturn', 'uranus', 'neptune', 'pluto']);
    assert.deepEqual(shown.rows.map((r) => r.name), shown.rows.map((r) => r.body[0].toUpperCase() +
                                                                    r.body.slice(1)));
    const saturn = shown.rows.find((r) => r.body === 'saturn');
    const sat = api.bodies.find((b) => b.name === 'saturn');
    assert.equal(saturn.well.length, 1, 'Saturn has a well-placed span');
    assert.ok(saturn.well[0][1] > 5, `a visible span: ${saturn.well[0][1]}%`);
    assert.ok(Math.abs(saturn.well[0][0] - at(sat.well_placed[0].start, n.sunset, n.sunrise)) < 0.01);
    // Its up bar starts at sunset (it is up then) and is clipped to the night.
    assert.ok(saturn.up[0][0] === 0 && saturn.up[0][1] > saturn.well[0][1]);
    assert.equal(saturn.best.length, 1);
    assert.equal(saturn.best[0].verdict, 'naked_eye');
    assert.equal(saturn.best[0].role, 'img');
    assert.equal(saturn.best[0].label, `Saturn at its best ${z(sat.best.time)}: ${sat.best.reason}`);
    assert.equal(saturn.best[0].title, saturn.best[0].label);
    assert.ok(Math.abs(saturn.best[0].left - at(sat.best.time, n.sunset, n.sunrise)) < 0.01);
    // Every planet but the never-well-placed ones has its well-placed mark.
    for (const b of api.bodies.filter((x) => x.name !== 'sun')) {
        const row = shown.rows.find((r) => r.body === b.name);
        assert.equal(row.well.length, b.well_placed.length, `${b.name} well placed`);
    }

    // The Moon and the hours of dark sky without it.
    assert.equal(n.dark_without_moon_hours, 7.41);
    assert.equal(shown.dark, `7.4 h of dark sky without the Moon (${z(n.dark_without_moon[0].start)}` +
                 `\u2013${z(n.dark_without_moon[0].end)}).`);
    assert.equal(shown.moon, `Moon: ${api.moon.phase_name}, ${Math.round(api.moon.phase * 100)}% lit; ` +
                 `sets ${z(api.moon.set)}, rises ${z(api.moon.rise)} (+1d).`);
    // The instant shown, marked on the night.
    assert.ok(Math.abs(shown.now - at(time, n.sunset, n.sunrise)) < 0.01, `now line at ${shown.now}%`);
    assert.equal((await liveIndicator(page)).text, 'Sky at 23:00 on 15 Dec (not live)');
    assert.equal(await page.textContent('#seeing-title'), 'What you can see at 23:00 on 15 Dec');
    await page.locator('#tonight').screenshot({ path: path.join(ARTIFACTS, 'tonight-desktop.png') });
    assert.deepEqual(problems, []);
    await context.close();
});

test('the slider moves the sky and the address; Back to now goes live again', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base,
                                                       { timezoneId: 'Europe/Paris' });
    await context.addInitScript(countSkyRequests);
    await page.goto(`${server.base}?lat=${PARIS.lat}&lon=${PARIS.lon}`);
    await waitForObserver(page, PARIS.lat, PARIS.lon);
    await page.waitForSelector('#live[data-mode="live"]');
    await waitUntil(page, 'the Tonight card', () => document.querySelectorAll('.tl-row').length > 0);
    assert.equal(await page.isHidden('#back-to-now'), true);
    assert.equal(await page.getAttribute('#time-now', 'aria-pressed'), 'true');
    const streamsAtNow = (await pageLog(page)).streams.length;

    // Drag the slider across (an input event per step it passes), then step it with
    // the keyboard: the last position wins.
    const box = await page.locator('#time-slider').boundingBox();
    const y = box.y + box.height / 2;
    await page.mouse.move(box.x + 4, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, y, { steps: 25 });
    await page.mouse.up();
    await page.locator('#time-slider').press('ArrowRight');
    await page.locator('#time-slider').press('ArrowRight');
    const instant = await page.getAttribute('#time-slider', 'data-time');
    assert.ok(instant, 'the slider has an instant');
    assert.equal(Date.parse(instant) % 600000, 0, `${instant} is on a 10-minute step`);
    await waitUntil(page, `the sky of the slider's instant ${instant}`, (t) => {
        const s = window.__lastSnapshot;
        return s && Date.parse(s.time) === Date.parse(t) &&
            new URLSearchParams(location.search).get('time') !== null;
    }, instant);
    const search = new URLSearchParams(await page.evaluate(() => location.search));
    assert.equal(Date.parse(search.get('time')), Date.parse(instant));
    assert.equal(search.get('lat'), String(PARIS.lat));
    assert.equal(search.get('lon'), String(PARIS.lon));
    assert.equal(await openStreams(page), 0, 'the live stream is closed away from now');
    const live = await liveIndicator(page);
    const parisClock = hhmm(instant, 'Europe/Paris');
    assert.match(live.text, new RegExp(`^Sky at ${parisClock} on \\d{1,2} [A-Z][a-z]{2} \\(not live\\)$`));
    assert.equal(live.mode, 'fixed');
    assert.equal(await page.isVisible('#back-to-now'), true);
    assert.equal(await page.getAttribute('#time-now', 'aria-pressed'), 'false');
    assert.match(await page.textContent('#time-slider-out'), new RegExp(`^${parisClock} on `));

    // Never two requests in flight; the last one asked for the slider's instant.
    const sky = await page.evaluate(() => window.__sky);
    assert.ok(sky.times.length >= 3, `${sky.times.length} requests while sliding`);
    assert.equal(sky.max, 1, `${sky.max} requests in flight at once`);
    assert.equal(Date.parse(sky.times.at(-1)), Date.parse(instant));
    // The night is asked once per night and place, not per position.
    const nights = (await pageLog(page)).fetches
        .filter((f) => new URL(f.url).pathname.endsWith('/planets/tonight'))
        .map((f) => nightAnchor(Date.parse(new URL(f.url).searchParams.get('time')), PARIS.lon));
    assert.equal(new Set(nights).size, nights.length, `a night asked twice: ${nights.join(' ')}`);
    assert.ok(nights.length <= 3, `${nights.length} nights asked for`);

    // Back to now: the address loses its time, the stream reopens, Live again.
    await page.click('#back-to-now');
    await waitUntil(page, 'the live stream to reopen', (n) => window.__pt.streams.length > n,
                    streamsAtNow);
    await page.waitForSelector('#live[data-mode="live"]');
    const after = new URLSearchParams(await page.evaluate(() => location.search));
    assert.equal(after.has('time'), false);
    assert.equal(after.get('lat'), String(PARIS.lat));
    assert.equal((await liveIndicator(page)).text, 'Live');
    assert.equal(await page.isHidden('#back-to-now'), true);
    assert.equal(await page.getAttribute('#time-slider', 'data-time'), '');
    assert.equal(await openStreams(page), 1);
    assert.equal(await page.textContent('#seeing-title'), 'What you can see now');
    // Live pushes carry the time now again.
    await waitUntil(page, 'a live push', () => {
        const s = window.__lastSnapshot;
        return Math.abs(Date.parse(s.time) - Date.now()) < 60000;
    });
    assert.deepEqual(problems, []);
    await context.close();
});

test('"Tonight 22:00" and the date-time picker choose the instant', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base,
                                                       { timezoneId: 'America/New_York' });
    await page.goto(`${server.base}?lat=40.71&lon=-74.01`);
    await page.waitForSelector('#live[data-mode="live"]');
    await page.click('#time-tonight');
    await waitUntil(page, 'the sky at 22:00 New York time', () => {
        const s = window.__lastSnapshot;
        return s && new Intl.DateTimeFormat('en-GB', { timeZone: 'America/New_York', hour: '2-digit',
            minute: '2-digit', hourCycle: 'h23' }).format(new Date(s.time)) === '22:00';
    });
    assert.match((await liveIndicator(page)).text, /^Sky at 22:00 on \d{1,2} [A-Z][a-z]{2} \(not live\)$/);
    await page.fill('#time-picker', '2026-12-24T23:30');
    await waitUntil(page, 'the sky at the picked instant',
                    () => window.__lastSnapshot?.time === '2026-12-25T04:30:00.000Z');
    assert.equal(new URLSearchParams(await page.evaluate(() => location.search)).get('time'),
                 '2026-12-25T04:30:00Z');
    assert.equal((await liveIndicator(page)).text, 'Sky at 23:30 on 24 Dec (not live)');
    await waitUntil(page, 'the night of Christmas Eve',
                    () => /^24\u201325 Dec/.test(document.getElementById('tonight-date').textContent));
    await page.click('#time-now');
    await page.waitForSelector('#live[data-mode="live"]');
    assert.deepEqual(problems, []);
    await context.close();
});

test('a saved site in the address: its sky at that instant, on its clock', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base,
                                                       { timezoneId: 'Europe/Paris' });
    const r = await context.request.post(new URL('api/sites', server.base).href, {
        data: { name: 'Tromsø', lat: TROMSO.lat, lon: TROMSO.lon, timezone: 'Europe/Oslo' } });
    assert.equal(r.status(), 201);
    const site = await r.json();
    const time = '2026-12-15T12:00:00Z';
    await page.goto(`${server.base}?time=${time}&site=${site.id}`);
    await waitForObserver(page, TROMSO.lat, TROMSO.lon);
    await waitForNight(page, 'polar_night');
    assert.equal(await page.inputValue('#site-select'), String(site.id));
    await waitUntil(page, 'the site\u2019s clock',
                    () => document.getElementById('fact-zone').textContent === 'Europe/Oslo');
    const log = await pageLog(page);
    const asked = log.fetches.filter((f) => /\/planets(\/tonight)?$/.test(new URL(f.url).pathname))
        .map((f) => new URL(f.url).searchParams);
    assert.ok(asked.length >= 2 && asked.every((q) => q.get('site') === String(site.id) &&
                                               !q.has('lat')), 'asked by site id');
    assert.equal(log.streams.length, 0);
    assert.match(await page.textContent('#tonight-summary'), /civil twilight until 13:53 and again from 09:26/);
    assert.equal(await page.evaluate(() => location.search), `?time=${time}&site=${site.id}`);
    assert.deepEqual(problems, []);
    await context.close();
});

test('midnight sun and white nights are named in words', TIMEOUT, async () => {
    const cases = [
        [TROMSO, 'Europe/Oslo', '2026-06-21T12:00:00Z', 'midnight_sun',
         /^Midnight sun: no night; the Sun does not set today\.$/, 'tonight-midnight-sun-phone.png'],
        [{ lat: 59.94, lon: 30.31 }, 'Europe/Moscow', '2026-06-21T20:00:00Z', 'no_astronomical_darkness',
         /^White night: the sky never gets fully dark; sunset 22:25, at its darkest nautical twilight 00:10\u201301:50, sunrise 03:35\.$/,
         'tonight-white-night-phone.png'],
    ];
    for (const [where, zone, time, status, sentence, file] of cases) {
        const { context, page, problems } = await openPage(browser, server.base,
                                                           { ...PHONE, timezoneId: zone });
        await context.addInitScript(() => localStorage.setItem('planettracker.night', '1'));
        await page.goto(`${server.base}?time=${time}&lat=${where.lat}&lon=${where.lon}`);
        await waitForNight(page, status);
        const shown = await readTonight(page);
        assert.match(shown.summary, sentence);
        if (status === 'midnight_sun') {
            assert.equal(shown.whole, 'true', 'no sunset to sunrise: the whole day');
            assert.deepEqual(shown.bands.map((b) => b.sky), ['day']);
            assert.match(shown.dark, /^No fully dark sky tonight/);
        } else {
            assert.deepEqual(shown.bands.map((b) => b.sky), ['civil', 'nautical', 'civil']);
            assert.equal(shown.whole, 'false');
        }
        await page.locator('#tonight').screenshot({ path: path.join(ARTIFACTS, file) });
        assert.deepEqual(problems, []);
        await context.close();
    }
});

/** Colour `css` as [r, g, b, a]. */
function contrastCheck() {
    const parse = (css) => {
        const m = css.match(/rgba?\(([^)]+)\)/);
        if (!m) return [0, 0, 0, 0];
        const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
        return [r, g, b, a];
    };
    const over = (top, under) => [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3]));
    const lum = (c) => {
        const [r, g, b] = c.map((v) => {
            const x = v / 255;
            return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const backgroundOf = (el) => {
        const chain = [];
        for (let e = el; e; e = e.parentElement) chain.unshift(e);
        let bg = [0, 0, 0];
        for (const e of chain) bg = over(parse(getComputedStyle(e).backgroundColor), bg);
        return bg;
    };
    const out = [];
    const roots = document.querySelectorAll('#tonight, .timecard, #live, #back-to-now');
    for (const root of roots) {
        for (const el of [root, ...root.querySelectorAll('*')]) {
            const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
            if (!own || !el.getClientRects().length || el.closest('.visually-hidden')) continue;
            const style = getComputedStyle(el);
            if (style.visibility === 'hidden') continue;
            const bg = backgroundOf(el);
            const fg = over(parse(style.color), bg);
            const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
            out.push({ text: el.textContent.trim().slice(0, 40), color: style.color,
                       ratio: (hi + 0.05) / (lo + 0.05) });
        }
    }
    return out;
}

test('phone, night mode: the Tonight card legible, red on black', TIMEOUT, async () => {
    for (const [file, night, time] of [['tonight-night-phone.png', true, '2026-12-15T22:00:00Z'],
                                       ['tonight-phone.png', false, '2026-12-15T22:00:00Z']]) {
        const { context, page, problems } = await openPage(browser, server.base,
                                                           { ...PHONE, timezoneId: 'Europe/Paris' });
        if (night) await context.addInitScript(() => localStorage.setItem('planettracker.night', '1'));
        await page.goto(`${server.base}?time=${time}&lat=${PARIS.lat}&lon=${PARIS.lon}`);
        await waitForNight(page, 'normal');
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= 390, `${file}: the page is ${width} px wide`);
        // The tick labels do not run into each other.
        const ticks = await page.$$eval('.tl-tick', (ts) => ts.map((t) => t.getBoundingClientRect())
            .map((r) => [r.left, r.right]));
        assert.ok(ticks.length >= 4);
        for (let i = 1; i < ticks.length; i++) {
            assert.ok(ticks[i][0] >= ticks[i - 1][1] + 2, `ticks ${i - 1} and ${i} overlap`);
        }
        const card = await page.locator('#tonight').boundingBox();
        assert.ok(card.x >= 0 && card.x + card.width <= 390, `the card spans ${card.x}..${card.x + card.width}`);
        if (night) {
            assert.equal(await page.evaluate(() => document.documentElement.classList.contains('night')), true);
            const texts = await page.evaluate(contrastCheck);
            assert.ok(texts.length > 20, `${texts.length} texts checked`);
            for (const t of texts) {
                assert.ok(t.ratio >= 4.5, `"${t.text}" (${t.color}) at ${t.ratio.toFixed(2)}:1`);
                const [r, g, b] = t.color.match(/\d+(\.\d+)?/g).map(Number);
                assert.ok(r >= 80 && g <= 0.35 * r && b <= 0.35 * r, `"${t.text}" is not red: ${t.color}`);
            }
        }
        await page.screenshot({ path: path.join(ARTIFACTS, file.replace('.png', '-top.png')) });
        await page.locator('#tonight').screenshot({ path: path.join(ARTIFACTS, file) });
        await page.locator('.timecard').screenshot({
            path: path.join(ARTIFACTS, file.replace('tonight', 'time')) });
        assert.deepEqual(problems, []);
        await context.close();
    }
});

test('the server shuts down cleanly, with no sanitizer report', TIMEOUT, async (t) => {
    await browser.close();
    browser = null;
    await assertCleanShutdown(t, server, assert);
});
