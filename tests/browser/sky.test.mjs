// SPDX-License-Identifier: AGPL-3.0-or-later
//
// sky.test.mjs -- the sky chart and night mode. The chart must hold exactly one
// mark per body with apparent altitude above 0° in the data the page shows (its own
// window.__lastSnapshot), each placed by azimuth/altitude looking up with north at
// the top and east on the left, the others listed below the horizon. Night mode
// (red on black) toggles a class on <html> and survives a reload. Screenshots of
// night mode (desktop, phone) and of the page with every field filled land in
// build/test-artifacts/. Run: node --test tests/browser/ (see README.md).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    ARTIFACTS, GREENWICH, WAIT_MS, assertCleanShutdown, enrichStreamScript, getJson, openPage,
    sseResponse, startSuite, stopSuite, useMyLocation, waitForObserver,
} from './harness.mjs';

const TIMEOUT = { timeout: 120000 };
const PARIS = { latitude: 48.8566, longitude: 2.3522 };

let server;
let browser;

before(async () => {
    ({ server, browser } = await startSuite());
});

after(() => stopSuite(server, browser));

/** Everything the chart shows and the snapshot it was drawn from, read at once. */
function readChart(page) {
    return page.evaluate(() => {
        const num = (s) => s.match(/-?\d+(\.\d+)?/g).map(Number);
        return {
            snapshot: window.__lastSnapshot,
            marks: [...document.querySelectorAll('#sky-bodies > *')].map((g) => {
                const [x, y] = num(g.getAttribute('transform'));
                return { cls: g.getAttribute('class'), body: g.dataset.body, x, y,
                         label: g.querySelector('text')?.textContent };
            }),
            below: [...document.querySelectorAll('#below-list li')].map((li) => li.dataset.body),
            summary: document.getElementById('sky-summary').textContent,
            letters: Object.fromEntries([...document.querySelectorAll('#skymap .cardinal')]
                .map((t) => [t.textContent, [Number(t.getAttribute('x')), Number(t.getAttribute('y'))]])),
        };
    });
}

/** Where the chart must put az/alt (degrees): zenith at 0, horizon at radius 100. */
function expectedXY(az, alt) {
    const r = 100 * (90 - alt) / 90;
    const a = az * Math.PI / 180;
    return [-r * Math.sin(a), -r * Math.cos(a)];
}

function checkChart(chart, where) {
    const { snapshot, marks, below } = chart;
    const up = snapshot.bodies.filter((b) => b.alt > 0);
    assert.ok(marks.every((m) => m.cls === 'sky-body'), `${where}: only body marks in the layer`);
    assert.deepEqual(marks.map((m) => m.body).sort(), up.map((b) => b.name).sort(),
                     `${where}: one mark per body above the horizon`);
    assert.equal(new Set(marks.map((m) => m.body)).size, marks.length, `${where}: no body twice`);
    for (const b of up) {
        const m = marks.find((k) => k.body === b.name);
        const [x, y] = expectedXY(b.az, b.alt);
        assert.ok(Math.hypot(m.x - x, m.y - y) < 0.02, `${where}: ${b.name} at ${m.x},${m.y}, expected ${x},${y}`);
        assert.ok(Math.hypot(m.x, m.y) < 100, `${where}: ${b.name} inside the horizon`);
        // Looking up: north at the top (negative y), east on the left (negative x).
        if (b.alt > 85) continue; // too near the zenith to say
        if (Math.cos(b.az * Math.PI / 180) > 0.2) assert.ok(m.y < 0, `${where}: ${b.name} (az ${b.az}) in the north half`);
        if (Math.sin(b.az * Math.PI / 180) > 0.2) assert.ok(m.x < 0, `${where}: ${b.name} (az ${b.az}) on the east (left) side`);
        if (Math.sin(b.az * Math.PI / 180) < -0.2) assert.ok(m.x > 0, `${where}: ${b.name} (az ${b.az}) on the west (right) side`);
    }
    assert.deepEqual([...below].sort(), snapshot.bodies.filter((b) => !(b.alt > 0)).map((b) => b.name).sort(),
                     `${where}: every other body listed below the horizon`);
    assert.equal(chart.summary, `${up.length} of ${snapshot.bodies.length} above the horizon`);
}

async function typeInto(page, id, text) {
    const input = page.locator(`#${id}`);
    await input.click();
    await input.press('ControlOrMeta+a');
    await input.pressSequentially(text, { delay: 20 });
}

test('the chart has exactly one mark per body above the horizon, north up, east left', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    const chart = await readChart(page);
    assert.ok(chart.letters.E[0] < 0 && chart.letters.W[0] > 0, 'E on the left, W on the right');
    assert.ok(chart.letters.N[1] < 0 && chart.letters.S[1] > 0, 'N at the top, S at the bottom');
    checkChart(chart, 'Greenwich');

    // Other skies: the southern hemisphere, the Arctic, the equator, the antipodes of
    // Greenwich (where the day and night sets swap).
    const places = [['-33.8688', '151.2093'], ['78.2232', '15.6267'], ['-0.1807', '-78.4678'],
                    ['-51.4769', '179.9995']];
    const seenUp = new Set();
    for (const [lat, lon] of places) {
        await typeInto(page, 'lat', lat);
        await typeInto(page, 'lon', lon);
        await page.locator('#lon').press('Enter');
        await waitForObserver(page, Number(lat), Number(lon));
        const c = await readChart(page);
        checkChart(c, `${lat},${lon}`);
        for (const b of c.snapshot.bodies) if (b.alt > 0) seenUp.add(b.name);
    }
    assert.ok(seenUp.size >= 5, `a variety of bodies were drawn: ${[...seenUp].join(', ')}`);

    // It keeps matching as the stream pushes new positions.
    const t = (await readChart(page)).snapshot.time;
    await page.waitForFunction((t0) => window.__lastSnapshot.time !== t0, t, { timeout: WAIT_MS });
    checkChart(await readChart(page), 'after a push');
    assert.deepEqual(problems, []);
    await context.close();
});

test('marks near the horizon: alt > 0 is drawn, alt <= 0 is listed below', TIMEOUT, async () => {
    const snap = await getJson(server.base, `planets?lat=${GREENWICH.lat}&lon=${GREENWICH.lon}`);
    const alts = [0.01, 0, -0.01, 89.99, 45, -0.5, 0.5, -90, 90, 12];
    snap.bodies.forEach((b, i) => {
        b.alt = alts[i];
        b.az = i * 36;
        b.above_horizon = alts[i] > 0;
    });
    const { context, page, problems } = await openPage(browser, server.base);
    await page.route(/\/planets\/stream(\?|$)/, (route) => route.fulfill(sseResponse(snap)));
    await page.goto(server.base);
    await page.waitForFunction((t) => window.__lastSnapshot?.time === t, snap.time, { timeout: WAIT_MS });
    checkChart(await readChart(page), 'edge altitudes');
    assert.deepEqual(problems, []);
    await context.close();
});

function rgb(css) {
    const m = css.match(/rgba?\(([^)]+)\)/);
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
}

test('night mode: a class on <html>, red on black, remembered across reloads', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    // Whether <html> is already in night mode when <body> starts: no flash of blue.
    await context.addInitScript(() => {
        new MutationObserver((_, obs) => {
            if (document.body) {
                window.__nightAtBody = document.documentElement.classList.contains('night');
                obs.disconnect();
            }
        }).observe(document, { childList: true, subtree: true });
    });
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    const toggle = page.getByRole('button', { name: /night mode/i });
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains('night')), false);
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');

    await toggle.click();
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains('night')), true);
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
    assert.equal(await page.evaluate(() => localStorage.getItem('planettracker.night')), '1');

    // Red on black: the background is black; text, lines and marks are red.
    const colours = await page.evaluate(() => {
        const css = (sel, prop) => [...document.querySelectorAll(sel)].map((e) => getComputedStyle(e)[prop]);
        return {
            background: [getComputedStyle(document.body).backgroundColor,
                         getComputedStyle(document.documentElement).backgroundColor],
            reds: [
                ...css('h1, h2, #live, #updated, #sky-summary, .status, label, input, tbody th, tbody td, .below-list li, .button', 'color'),
                ...css('#skymap .cardinal, .sky-body text, circle.body-dot, path.body-dot', 'fill'),
                ...css('#skymap .horizon, #skymap .ring', 'stroke'),
                ...css('.live-dot', 'backgroundColor'),
            ],
        };
    });
    for (const c of colours.background) {
        const { r, g, b } = rgb(c);
        assert.ok(r + g + b === 0, `background ${c}`);
    }
    assert.ok(colours.reds.length > 40);
    for (const c of colours.reds) {
        const { r, g, b } = rgb(c);
        assert.ok(r >= 80 && g <= 0.35 * r && b <= 0.35 * r, `not a dark-adaptation red: ${c}`);
    }

    // A reload keeps it, from the first paint.
    await page.reload();
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    assert.equal(await page.evaluate(() => window.__nightAtBody), true);
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains('night')), true);
    assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
    assert.equal(await page.getAttribute('meta[name="theme-color"]', 'content'), '#000000');

    // Off again, and that is remembered too.
    await toggle.click();
    assert.equal(await page.evaluate(() => document.documentElement.classList.contains('night')), false);
    await page.reload();
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    assert.equal(await page.evaluate(() => window.__nightAtBody), false);
    assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
    assert.deepEqual(problems, []);
    await context.close();
});

test('screenshots: night mode (desktop, phone) and every field filled', TIMEOUT, async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
    const views = [
        ['page-night.png', { viewport: { width: 1280, height: 800 } }, true, false],
        ['page-night-phone.png', phone, true, false],
        ['page-details.png', { viewport: { width: 1280, height: 800 } }, false, true],
        ['page-details-phone.png', phone, false, true],
    ];
    for (const [file, opts, night, details] of views) {
        const { context, page, problems } = await openPage(browser, server.base, {
            ...opts, permissions: ['geolocation'], geolocation: PARIS, timezoneId: 'Europe/Paris',
        });
        if (night) await context.addInitScript(() => localStorage.setItem('planettracker.night', '1'));
        // The fields other layers are adding, made up on the real, live positions.
        if (details) await context.addInitScript({ content: enrichStreamScript() });
        await page.goto(server.base);
        await useMyLocation(page, PARIS.latitude, PARIS.longitude);
        await page.waitForSelector('#live[data-mode="live"]', { timeout: WAIT_MS });
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert.ok(width <= opts.viewport.width, `${file}: page is ${width} px wide`);
        await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
        assert.deepEqual(problems, []);
        await context.close();
    }
});

test('the server shuts down cleanly, with no sanitizer report', TIMEOUT, async (t) => {
    await browser.close();
    browser = null;
    await assertCleanShutdown(t, server, assert);
});
