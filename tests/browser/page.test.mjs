// SPDX-License-Identifier: AGPL-3.0-or-later
//
// page.test.mjs -- the PlanetTracker page in a real browser: Debian's chromium
// driven by playwright-core, against the real server binary (PT_BINARY, default
// build/planettracker) started on a free loopback port. Run: node --test tests/browser/
//
// Timing checks (the 500 ms typing pause) are measured with the page's own clock
// from instrumentation installed before the page's scripts (see harness.mjs): lower
// bounds in milliseconds (a slow machine only makes things later), upper bounds
// against the page's own event order (a reference timer, the key being handled), so
// a busy machine does not make them flaky. Every wait is for a condition, with a
// generous deadline (WAIT_MS). Values that must not be applied half-typed are set
// with one input event (fill()), since a stalled machine may pause for the page's
// 500 ms between two simulated key presses. The page's data
// arrives through the /planets/stream event stream: a new location shows as a new
// EventSource. The page asks the browser where it is only on a tap of "Use my
// location" (never on load: the address, the session's location, else Greenwich).
// live.test.mjs tests the stream and its fallback, sky.test.mjs the chart and night
// mode, location.test.mjs the location line and the coordinates field.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    ARTIFACTS, BODIES, GREENWICH, KEY_REF_MS, WAIT_MS, angleDiff, assertCleanShutdown,
    countGeolocation, getJson, openPage, openStreams, pageLog, readSnapshot, readTable, sleep,
    startSuite, stopSuite, useMyLocation, waitForObserver, waitForRefresh, waitUntil,
} from './harness.mjs';

const PARIS = { latitude: 48.8566, longitude: 2.3522 };
const TOKYO = { latitude: 35.6762, longitude: 139.6503 };
const TIMEOUT = { timeout: 120000 };

let server;
let browser;

before(async () => {
    ({ server, browser } = await startSuite());
});

after(() => stopSuite(server, browser));

/** Every request for positions: the streams opened and any GET /planets (polling). */
function planetsRequests(log) {
    const polls = log.fetches.filter((f) => new URL(f.url).pathname.endsWith('/planets'));
    return [...log.streams, ...polls].sort((a, b) => a.t - b.t);
}

function queryOf(f) {
    return new URL(f.url).searchParams;
}

/** Select what an input holds and type `text` key by key, as a person would. */
async function typeInto(page, id, text, delay = 60) {
    const input = page.locator(`#${id}`);
    await input.click();
    await input.press('ControlOrMeta+a');
    await input.pressSequentially(text, { delay });
}

test('the page loads with a title, labelled inputs and a table of 10 bodies', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    const resp = await page.goto(server.base);
    assert.equal(resp.status(), 200);
    assert.match(await page.title(), /PlanetTracker/);
    await page.waitForFunction(() => document.querySelectorAll('#sky-table tbody tr').length === 10);

    const rows = await readTable(page);
    assert.deepEqual(rows.map((r) => r.name), BODIES);
    for (const r of rows) {
        assert.match(r.azText, /^\d{1,3}\.\d\d°$/, `${r.name} azimuth "${r.azText}"`);
        assert.match(r.altText, /^\u2212?\d{1,2}\.\d\d°$/, `${r.name} altitude "${r.altText}"`);
        assert.ok(r.az >= 0 && r.az < 360 && r.alt >= -90 && r.alt <= 90);
    }
    const headers = await page.$$eval('#sky-table thead th[scope="col"]', (ths) => ths.map((t) => t.textContent.trim()));
    for (const h of ['Body', 'Azimuth', 'Altitude', 'RA', 'Dec', 'Distance']) assert.ok(headers.includes(h), h);
    assert.equal(await page.locator('#sky-table tbody th[scope="row"]').count(), 10);

    // Every input has a label; "Use my location" is reachable by its name.
    for (const name of ['Latitude', 'Longitude', 'Elevation', 'Coordinates']) {
        assert.equal(await page.getByLabel(name).count(), 1, name);
    }
    assert.equal(await page.getByRole('button', { name: /use my location/i }).count(), 1);
    // Nothing told: Greenwich, and the line under the header says so.
    await page.waitForSelector('#whose-sky[data-source="default"]');
    assert.equal(await page.textContent('#whose-sky-text'), 'Greenwich \u2014 the default:');
    assert.equal(await page.textContent('#whose-sky-change'), 'set yours');
    // The assets come from /static/ with usable types.
    const css = await fetch(new URL('static/css/style.css', server.base));
    assert.match(css.headers.get('content-type'), /text\/css/);
    const js = await fetch(new URL('static/js/app.js', server.base));
    assert.match(js.headers.get('content-type'), /javascript/);
    assert.deepEqual(problems, []);
    await context.close();
});

test('with geolocation granted at Paris, "Use my location": the table matches the API', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, {
        permissions: ['geolocation'], geolocation: PARIS,
    });
    await context.addInitScript(countGeolocation);
    await page.goto(server.base);
    // Not on load, even with the permission granted: Greenwich until the tap.
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    await page.waitForSelector('#status[data-source="default"]');
    assert.equal(await page.evaluate(() => window.__geoCalls), 0, 'geolocation asked on load');
    await useMyLocation(page, PARIS.latitude, PARIS.longitude);
    assert.equal(await page.evaluate(() => window.__geoCalls), 1);
    assert.equal(await page.getAttribute('#status', 'data-source'), 'browser');
    assert.match(await page.textContent('#status'), /browser/i);
    assert.equal(await page.textContent('#whose-sky-text'), 'Your location (48.86\u00b0 N, 2.35\u00b0 E)');
    assert.equal(await page.inputValue('#lat'), '48.8566');
    assert.equal(await page.inputValue('#lon'), '2.3522');

    // The API asked about the very instant the table shows (however long that took).
    const { time, rows } = await readSnapshot(page);
    const api = await Promise.all(BODIES.map((b) => getJson(server.base,
        `planets/${b}?lat=${PARIS.latitude}&lon=${PARIS.longitude}&time=${encodeURIComponent(time)}`)));
    for (const [i, r] of rows.entries()) {
        assert.equal(api[i].name, r.name);
        assert.ok(angleDiff(r.az, api[i].az) < 0.05, `${r.name} az page ${r.az} api ${api[i].az}`);
        assert.ok(Math.abs(r.alt - api[i].alt) < 0.05, `${r.name} alt page ${r.alt} api ${api[i].alt}`);
        assert.equal(r.up, api[i].above_horizon ?? api[i].alt > 0, `${r.name} highlighted iff up`);
    }

    // The stream was reopened for Paris; only that one is still open.
    const log = await pageLog(page);
    const last = log.streams.at(-1);
    assert.match(new URL(last.url).pathname, /\/planets\/stream$/);
    assert.equal(queryOf(last).get('lat'), '48.8566');
    assert.equal(queryOf(last).get('lon'), '2.3522');
    assert.equal(await openStreams(page), 1);

    // The session was told about the new location.
    const post = log.fetches.find((f) => f.method === 'POST' && f.url.endsWith('/geo_location'));
    assert.ok(post, 'POST /geo_location was sent');
    const form = new URLSearchParams(post.body);
    assert.equal(form.get('lat'), '48.8566');
    assert.equal(form.get('lon'), '2.3522');
    assert.deepEqual(problems, []);
    await context.close();
});

test('with geolocation denied: Greenwich, said so; typing applies after a 500 ms pause', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    await useMyLocation(page);
    await page.waitForSelector('#status[data-reason="denied"]');
    assert.equal(await page.getAttribute('#status', 'data-source'), 'default');
    assert.match(await page.textContent('#status'), /blocked.*Greenwich/i);
    assert.equal(await page.textContent('#whose-sky-text'), 'Greenwich \u2014 location blocked:');
    assert.equal(await page.textContent('#whose-sky-change'), 'set yours');
    assert.equal(await page.inputValue('#lat'), String(GREENWICH.lat));

    await typeInto(page, 'lat', '-33.8688');
    // ~200 ms after the last key the table still shows Greenwich (checked only if
    // this test process really got there in time; the page-clock check below is exact).
    // The sleep only picks a moment inside the pause: a late one skips the check.
    await sleep(200);
    const early = await page.evaluate(() => ({
        since: performance.now() - window.__pt.keys.at(-1),
        lat: document.getElementById('sky-table').dataset.observerLat,
    }));
    if (early.since < 450) assert.equal(Number(early.lat), GREENWICH.lat, 'changed before the pause ended');

    await waitForObserver(page, -33.8688, GREENWICH.lon);
    // Until the reference timer armed at the last key has fired (see harness.mjs).
    await waitUntil(page, 'the reference timer of the last key',
                    () => window.__pt.keyRefs[window.__pt.keys.length - 1] !== undefined);
    const log = await pageLog(page);
    const lastKey = log.keys.at(-1);
    const sent = planetsRequests(log).filter((f) => queryOf(f).has('lat') && queryOf(f).get('lat') !== String(GREENWICH.lat));
    assert.ok(sent.length > 0);
    // No request within the pause after a key: so nothing was asked for the half-typed
    // values (unless the keys themselves paused that long, which only a stalled machine
    // does, and then asking was right), and the typed one only after the pause.
    for (const f of sent) {
        const before = log.keys.filter((k) => k < f.t).at(-1);
        assert.ok(f.t - before >= 450, `${f.url} asked ${(f.t - before).toFixed(0)} ms after a key ` +
                  `(keys at ${log.keys.map((k) => k.toFixed(0)).join(' ')})`);
    }
    const typed = sent.findIndex((f) => queryOf(f).get('lat') === '-33.8688');
    assert.ok(typed >= 0 && sent.slice(typed).every((f) => queryOf(f).get('lat') === '-33.8688'),
              `the typed value is not the last one asked for: ${sent.map((f) => f.url).join(' ')}`);
    const delay = sent[typed].t - lastKey;
    assert.ok(delay >= 450, `the request ${delay.toFixed(0)} ms after the last key`);
    // ...and not much later: before a KEY_REF_MS timer armed at the last key fired.
    assert.ok(sent[typed].t < log.keyRefs[log.keys.length - 1],
              `the request came after a ${KEY_REF_MS} ms timer armed at the last key`);
    const changed = log.observers.find((o) => Number(o.lat) === -33.8688);
    assert.ok(changed.t - lastKey >= 450, `table changed ${(changed.t - lastKey).toFixed(0)} ms after the last key`);

    assert.equal(await page.getAttribute('#status', 'data-source'), 'typed');
    const { time, rows: [sun] } = await readSnapshot(page);
    const api = await getJson(server.base, `planets/sun?lat=-33.8688&lon=${GREENWICH.lon}` +
                                           `&time=${encodeURIComponent(time)}`);
    assert.ok(Math.abs(sun.alt - api.alt) < 0.05, `sun alt page ${sun.alt} api ${api.alt}`);
    assert.deepEqual(problems, []);
    await context.close();
});

test('an invalid latitude shows an inline error and changes nothing', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);

    // One input event: typed key by key, "1" and "12" are valid latitudes that a
    // machine stalled between two keys for the 500 ms pause would rightly apply.
    await page.locator('#lat').fill('123');
    await page.waitForSelector('#lat-error:not([hidden])', { timeout: WAIT_MS });
    assert.match(await page.textContent('#lat-error'), /between \u221290° and 90°/);
    assert.equal(await page.getAttribute('#lat', 'aria-invalid'), 'true');
    assert.equal(await page.getAttribute('#lon', 'aria-invalid'), 'false');
    // The error shows in the same task that would have sent the request, so it is
    // already logged if there is one. The 1.5 s only give a wrong later request (a
    // second timer, a retry) the chance to show: a slow machine can only make this
    // pass more easily, never fail it.
    await sleep(1500);
    const log = await pageLog(page);
    assert.deepEqual(log.fetches.filter((f) => f.url.includes('123') || f.body.includes('123')), []);
    assert.deepEqual(log.streams.filter((f) => f.url.includes('123')), []);
    assert.equal(Number(await page.getAttribute('#sky-table', 'data-observer-lat')), GREENWICH.lat);
    // Still Greenwich's sky: the API's for the instant the table shows.
    const { time, rows: now } = await readSnapshot(page);
    const api = await getJson(server.base, `planets?lat=${GREENWICH.lat}&lon=${GREENWICH.lon}` +
                                           `&time=${encodeURIComponent(time)}`);
    for (const [i, r] of now.entries()) {
        assert.ok(Math.abs(r.alt - api.bodies[i].alt) < 0.05, `${r.name} alt page ${r.alt} api ${api.bodies[i].alt}`);
    }

    // Other fields are checked the same way; fixing the value applies it.
    await typeInto(page, 'elevation', 'high');
    await page.waitForSelector('#elevation-error:not([hidden])', { timeout: WAIT_MS });
    assert.match(await page.textContent('#elevation-error'), /number between \u2212500 and 10000 m/);
    await typeInto(page, 'elevation', '35');
    await typeInto(page, 'lat', '45.5');
    await waitForObserver(page, 45.5, GREENWICH.lon);
    assert.equal(await page.isHidden('#lat-error'), true);
    assert.equal(await page.isHidden('#elevation-error'), true);
    assert.equal(await page.getAttribute('#lat', 'aria-invalid'), 'false');
    assert.equal(Number(await page.getAttribute('#sky-table', 'data-observer-elevation')), 35);
    assert.deepEqual(problems, []);
    await context.close();
});

test('Enter applies typed coordinates at once', TIMEOUT, async (t) => {
    const { context, page, problems } = await openPage(browser, server.base);
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    // Enter pressed within the pause after the last digit (page clock): the stream for
    // the value must be opened while the Enter key is handled, not later by the pause.
    // A machine that stalled for the whole pause between the digit and Enter let the
    // pause apply it first: that attempt proves nothing and is made again.
    let checked = false;
    for (const lat of ['12.5', '13.5', '14.5', '15.5', '16.5']) {
        await typeInto(page, 'lat', lat);
        await page.locator('#lat').press('Enter');
        await waitForObserver(page, Number(lat), GREENWICH.lon);
        const log = await pageLog(page);
        const [lastDigit, enter] = log.keys.slice(-2);
        if (enter - lastDigit >= 450) {
            t.diagnostic(`Enter came ${(enter - lastDigit).toFixed(0)} ms after the last digit: again`);
            continue;
        }
        const first = planetsRequests(log).find((f) => queryOf(f).get('lat') === lat);
        assert.equal(first.cause, 'keydown:Enter', `the stream for ${lat} was opened by "${first.cause}" ` +
                     `${(first.t - enter).toFixed(0)} ms after Enter`);
        checked = true;
        break;
    }
    assert.ok(checked, 'Enter never came within 450 ms of the last digit');
    assert.deepEqual(problems, []);
    await context.close();
});

test('"Use my location" with geolocation denied keeps the typed location and says why', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    await typeInto(page, 'lat', '10');
    await typeInto(page, 'lon', '20');
    await waitForObserver(page, 10, 20);

    await useMyLocation(page);
    await page.waitForSelector('#status[data-reason="denied"]');
    assert.equal(await page.getAttribute('#status', 'data-source'), 'typed');
    assert.match(await page.textContent('#status'), /blocked: still using the coordinates you typed/i);
    assert.equal(await page.inputValue('#lat'), '10');
    assert.equal(await page.inputValue('#lon'), '20');
    assert.equal(Number(await page.getAttribute('#sky-table', 'data-observer-lat')), 10);
    assert.equal(await page.textContent('#whose-sky-text'), 'Typed location (10.00\u00b0 N, 20.00\u00b0 E)');
    assert.deepEqual(problems, []);
    await context.close();
});

test('"Use my location" with geolocation granted asks the browser again', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, {
        permissions: ['geolocation'], geolocation: PARIS,
    });
    await page.goto(server.base);
    await useMyLocation(page, PARIS.latitude, PARIS.longitude);
    await typeInto(page, 'lat', '-10');
    await waitForObserver(page, -10, PARIS.longitude);

    await context.setGeolocation(TOKYO);
    await useMyLocation(page, TOKYO.latitude, TOKYO.longitude);
    assert.equal(await page.getAttribute('#status', 'data-source'), 'browser');
    assert.equal(await page.inputValue('#lat'), String(TOKYO.latitude));
    assert.deepEqual(problems, []);
    await context.close();
});

test('server refusals show inline and the page goes back to the last good location', TIMEOUT, async () => {
    // No service worker: once it controls the page (it claims it as soon as it is
    // active, which a slow first load may let happen before the routes below), the
    // page's requests reach the network through it and page.route never sees them.
    const { context, page, problems } = await openPage(browser, server.base,
                                                       { serviceWorkers: 'block' });
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);

    // The server refuses a location the page thought valid: its message shows at the input.
    const refuse = (route) => route.fulfill({
        status: 422, contentType: 'application/json',
        body: JSON.stringify({ error: 'invalid_parameter', message: 'lat 45 is refused by this test',
                               parameter: 'lat' }),
    });
    // The stream is refused too (EventSource cannot show why), so the page asks
    // GET /planets once to learn the reason.
    await page.route(/\/planets\/stream\?.*lat=45(&|$)/, refuse);
    await page.route(/\/planets\?.*lat=45(&|$)/, refuse);
    await page.route(/\/geo_location$/, (route) => (
        /(^|&)lat=45(&|$)/.test(route.request().postData() ?? '') ? refuse(route) : route.continue()));
    // One input event: typed key by key, a stalled machine could apply "4" on the way,
    // which would then be the last good location to go back to.
    await page.locator('#lat').fill('45');
    await page.waitForSelector('#lat-error:not([hidden])', { timeout: WAIT_MS });
    assert.equal(await page.textContent('#lat-error'), 'lat 45 is refused by this test');
    await waitForRefresh(page);
    assert.equal(Number(await page.getAttribute('#sky-table', 'data-observer-lat')), GREENWICH.lat);
    // Back on the stream for Greenwich, with nothing left open for lat=45.
    await page.waitForSelector('#live[data-mode="live"]', { timeout: WAIT_MS });
    const streams = await page.evaluate(() => window.__ptEventSources
        .filter((e) => e.readyState !== 2).map((e) => e.url));
    assert.equal(streams.length, 1);
    assert.equal(new URL(streams[0]).searchParams.get('lat'), String(GREENWICH.lat));
    assert.deepEqual(problems.filter((p) => !/Failed to load resource|EventSource/.test(p)), []);
    await context.close();
});

test('the session remembers a typed location for the next visit', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    // The save that carries both typed values: typing the longitude starts well after
    // the latitude's last key, and a loaded machine may let the 500 ms pause end in
    // between, which saves the new latitude with the old longitude first (rightly).
    const saved = page.waitForResponse((r) => {
        if (!r.url().endsWith('/geo_location') || r.request().method() !== 'POST') return false;
        const form = new URLSearchParams(r.request().postData() ?? '');
        return form.get('lat') === '40.4168' && form.get('lon') === '-3.7038';
    }, { timeout: WAIT_MS });
    await typeInto(page, 'lat', '40.4168');
    await typeInto(page, 'lon', '-3.7038');
    const resp = await saved;
    assert.equal(resp.status(), 200);
    const echo = await resp.json();
    assert.equal(echo.lat, '40.4168');
    assert.equal(echo.lon, '-3.7038');

    // Same browser context (same cookie), new page, still no geolocation.
    const again = await context.newPage();
    await again.goto(server.base);
    await waitForObserver(again, 40.4168, -3.7038);
    await again.waitForSelector('#status[data-source="session"]');
    assert.match(await again.textContent('#status'), /saved/i);
    assert.equal(await again.textContent('#whose-sky-text'),
                 'Your saved location (40.42\u00b0 N, 3.70\u00b0 W)');
    assert.equal(await again.inputValue('#lat'), '40.4168');
    assert.deepEqual(problems, []);
    await context.close();
});

test('screenshots: desktop and phone (night mode: sky.test.mjs)', TIMEOUT, async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const views = [
        ['page.png', { viewport: { width: 1280, height: 800 } }],
        ['page-phone.png', { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
                             deviceScaleFactor: 2 }],
    ];
    for (const [file, opts] of views) {
        const { context, page, problems } = await openPage(browser, server.base, {
            ...opts, permissions: ['geolocation'], geolocation: PARIS, timezoneId: 'Europe/Paris',
        });
        await page.goto(server.base);
        await useMyLocation(page, PARIS.latitude, PARIS.longitude);
        // Nothing but the table may scroll sideways.
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= opts.viewport.width, `${file}: page is ${width} px wide`);
        await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
        assert.deepEqual(problems, []);
        await context.close();
    }
});

test('the page works under its Content-Security-Policy, framing refused', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, {
        permissions: ['geolocation'], geolocation: PARIS,
    });
    await page.addInitScript(() => {
        window.__cspViolations = [];
        document.addEventListener('securitypolicyviolation', (e) => {
            window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
        });
    });
    const resp = await page.goto(server.base);
    const csp = resp.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(resp.headers()['permissions-policy']?.startsWith('geolocation=(self)'), true);
    // Everything the page does (location, live stream, table, chart, night mode) runs.
    await useMyLocation(page, PARIS.latitude, PARIS.longitude);
    await page.waitForFunction(() => document.querySelectorAll('#sky-table tbody tr').length === 10);
    assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
    // Another origin may not frame it: the frame stays empty (Chromium blocks it).
    const framer = await context.newPage();
    await framer.setContent(`<iframe id="f" src="${server.base}"></iframe>`);
    await framer.waitForLoadState('load');
    // Blocked, the frame holds Chromium's error page, not the page's own document.
    const titles = await Promise.all(framer.frames().filter((f) => f !== framer.mainFrame())
        .map((f) => f.title().catch(() => '')));
    assert.equal(titles.length, 1);
    assert.doesNotMatch(titles[0], /PlanetTracker/);
    await framer.close();
    assert.deepEqual(problems, []);
    await context.close();
});

test('the server shuts down cleanly, with no sanitizer report', TIMEOUT, async (t) => {
    await browser.close();
    browser = null;
    await assertCleanShutdown(t, server, assert);
});
