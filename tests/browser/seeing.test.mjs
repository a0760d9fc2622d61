// SPDX-License-Identifier: AGPL-3.0-or-later
//
// seeing.test.mjs -- "What you can see now" in a real browser: the page shows the
// server's visibility verdicts in words, first on the screen. The sky is a real
// answer of the server for a fixed instant (GET /planets?time=...), served to the
// page as its live stream, so the scenario is known: Sydney at 17:54 before sunset
// (nothing to see), a December night in Paris (Jupiter and Saturn to the naked eye,
// Neptune in binoculars, Mars too low).

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, getJson, openPage, sseResponse, startSuite, stopSuite } from './harness.mjs';

const TIMEOUT = { timeout: 120000 };
const STREAM = /\/planets\/stream(\?|$)/;

let server;
let browser;

before(async () => {
    ({ server, browser } = await startSuite());
});

after(() => stopSuite(server, browser));

async function showSky(where, time, options = {}) {
    const snap = await getJson(server.base,
                               `planets?lat=${where.lat}&lon=${where.lon}&time=${time}`);
    const { context, page, problems } = await openPage(browser, server.base, options);
    await page.route(STREAM, (route) => route.fulfill(sseResponse(snap)));
    await page.goto(server.base);
    await page.waitForFunction((t) => window.__lastSnapshot?.time === t, snap.time);
    const seeing = await page.evaluate(() => ({
        state: document.querySelector('#seeing-state').textContent,
        seen: [...document.querySelectorAll('#seeing-list li')].map((li) => ({
            body: li.dataset.body, verdict: li.dataset.verdict, text: li.textContent })),
        others: [...document.querySelectorAll('#seeing-others li')].map((li) => ({
            body: li.dataset.body, verdict: li.dataset.verdict, text: li.textContent })),
        noneShown: !document.querySelector('#seeing-none').hidden,
        top: document.querySelector('.seeing').getBoundingClientRect().top,
    }));
    return { snap, context, page, problems, seeing };
}

test('Sydney at 17:54 before sunset: nothing to the naked eye, and why', TIMEOUT, async () => {
    const { snap, context, page, problems, seeing } = await showSky(
        { lat: -33.8688, lon: 151.2093 }, '2026-12-03T06:54:00Z',
        { timezoneId: 'Australia/Sydney', viewport: { width: 390, height: 844 }, isMobile: true,
          hasTouch: true });
    assert.deepEqual(seeing.seen, []);
    assert.equal(seeing.noneShown, true);
    assert.match(seeing.state, /^Daylight: the Sun is 22° up\.$/);
    // Every body but the Sun is listed with the server's reason; Saturn is up but in daylight.
    assert.deepEqual(seeing.others.map((o) => o.body).sort(),
                     snap.bodies.map((b) => b.name).filter((n) => n !== 'sun').sort());
    const saturn = seeing.others.find((o) => o.body === 'saturn');
    assert.equal(saturn.verdict, 'daylight');
    assert.match(saturn.text, /^Saturn — in daylight/);
    const moon = seeing.others.find((o) => o.body === 'moon');
    assert.match(moon.text, /^Moon — below the horizon, rises \d\d:\d\d/);
    // First on the phone's screen.
    assert.ok(seeing.top < 844 / 2, `the section starts at y=${seeing.top}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'seeing-phone-sydney.png') });
    assert.deepEqual(problems, []);
    await context.close();
});

test('a December night in Paris: the planets to see, best first', TIMEOUT, async () => {
    const { context, page, problems, seeing } = await showSky(
        { lat: 48.85, lon: 2.35 }, '2026-12-15T22:00:00Z', { timezoneId: 'Europe/Paris' });
    assert.match(seeing.state, /^Dark sky: the Sun is 57° below the horizon\.$/);
    const verdicts = seeing.seen.map((s) => s.verdict);
    assert.deepEqual([...verdicts].sort((a, b) => ['naked_eye', 'binoculars', 'telescope'].indexOf(a) -
                                        ['naked_eye', 'binoculars', 'telescope'].indexOf(b)), verdicts,
                     'naked eye first, then binoculars, then telescope');
    const line = (body) => seeing.seen.find((s) => s.body === body)?.text;
    assert.match(line('saturn'), /^Saturn — naked eye, [NESW]{1,3}, 27° up, sets \d\d:\d\d/);
    assert.match(line('jupiter'), /^Jupiter — naked eye, [NESW]{1,3}, 8° up/);
    assert.match(line('neptune'), /^Neptune — binoculars, /);
    const mars = seeing.others.find((o) => o.body === 'mars');
    assert.equal(mars.verdict, 'too_low');
    assert.match(mars.text, /haze/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'seeing-desktop-paris.png') });
    assert.deepEqual(problems, []);
    await context.close();
});
