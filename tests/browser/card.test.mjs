// SPDX-License-Identifier: AGPL-3.0-or-later
//
// card.test.mjs -- a body's card and the chart's orientation, in a real browser.
// Tap a row of the table, a mark of the chart or an entry of the lists: a dialog
// says where to look in words ("east, 35° up"), the rise, transit and set on the
// display zone's clock, magnitude, constellation, phase (the Moon's by name: "waxing
// gibbous") and the visibility verdict with its reason. By keyboard: Tab reaches the
// chart's marks, Enter or Space opens, Escape closes and the focus goes back. The
// chart turns south up (a button, kept in localStorage). The sky is a real answer of
// the server with made-up details (enrichSnapshot), served as the page's stream, so
// the values are known; the Moon's phases are the server's own, at instants of
// December 2026.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    ARTIFACTS, assertCleanShutdown, enrichSnapshot, getJson, openPage, sseResponse, startSuite,
    stopSuite, waitUntil,
} from './harness.mjs';

const TIMEOUT = { timeout: 120000 };
const STREAM = /\/planets\/stream(\?|$)/;
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

let server;
let browser;
let snap;

before(async () => {
    ({ server, browser } = await startSuite());
    snap = enrichSnapshot(await getJson(server.base, 'planets?lat=48.85&lon=2.35&time=2026-12-15T22:00:00Z'));
    // Known verdicts for the bodies the test opens.
    const body = (n) => snap.bodies.find((b) => b.name === n);
    body('moon').visibility = { verdict: 'naked_eye', reason: 'naked eye: magnitude -11.2, 35° up' };
    Object.assign(body('jupiter'), { az: 202.5, alt: 31.4, above_horizon: true,
                                     visibility: { verdict: 'naked_eye', reason: 'naked eye: magnitude -2.4, 31° up' } });
});

after(() => stopSuite(server, browser));

async function open(options = {}) {
    const { context, page, problems } = await openPage(browser, server.base,
                                                       { timezoneId: 'Europe/Paris', ...options });
    await page.route(STREAM, (route) => route.fulfill(sseResponse(snap)));
    await page.goto(`${server.base}?lat=48.85&lon=2.35`);
    await page.waitForFunction((t) => window.__lastSnapshot?.time === t, snap.time);
    return { context, page, problems };
}

/** What the card shows: {open, name, where, verdict, facts: {term: text}}. */
function readCard(page) {
    return page.evaluate(() => {
        const d = document.getElementById('body-card');
        return {
            open: d.open,
            name: document.getElementById('body-card-name').textContent,
            where: document.getElementById('body-card-where').textContent,
            verdict: document.getElementById('body-card-verdict').textContent,
            facts: Object.fromEntries([...d.querySelectorAll('dl div')].map((div) => [
                div.querySelector('dt').textContent, div.querySelector('dd').textContent])),
        };
    });
}

const paris = (iso) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit',
                                                          minute: '2-digit', hourCycle: 'h23' }).format(new Date(iso));

test('a row of the table opens its card: where to look in words, times, verdict', TIMEOUT, async () => {
    const { context, page, problems } = await open();
    await page.click('#sky-table .table-open[data-body="jupiter"]');
    await page.waitForSelector('#body-card[open]');
    const card = await readCard(page);
    const jupiter = snap.bodies.find((b) => b.name === 'jupiter');
    assert.equal(card.name, 'Jupiter');
    assert.equal(card.where, 'Look south-south-west, 31\u00b0 up.');
    assert.equal(card.facts.Direction, 'south-south-west (azimuth 202.5\u00b0)');
    assert.equal(card.facts.Altitude, '31.4\u00b0 above the horizon');
    // Rise, transit and set on the display zone's clock (Europe/Paris), with the day.
    assert.match(card.facts.Rise, new RegExp(`^${paris(jupiter.rise)}`));
    assert.match(card.facts.Transit, new RegExp(`^${paris(jupiter.transit)}`));
    assert.match(card.facts.Set, new RegExp(`^${paris(jupiter.set)} \\(\\+1d\\)$`));
    assert.equal(card.facts.Magnitude, '\u22122.4');
    assert.equal(card.facts.Constellation, 'Leo');
    assert.equal(card.facts.Phase, '99% lit');
    assert.equal(card.verdict, 'Visible now \u2014 naked eye: magnitude -2.4, 31\u00b0 up.');
    assert.match(await page.textContent('#body-card-note'), /times in Europe\/Paris/);
    // Escape closes it; the focus is back on the row's button.
    await page.keyboard.press('Escape');
    await page.waitForSelector('#body-card:not([open])', { state: 'attached' });
    assert.equal(await page.evaluate(() => document.activeElement.dataset.body), 'jupiter');
    assert.equal(await page.evaluate(() => document.activeElement.classList.contains('table-open')), true);

    // Below the horizon, circumpolar, never rising: said so.
    await page.click('#below-list .below-open[data-body="pluto"]');
    await page.waitForSelector('#body-card[open]');
    const pluto = await readCard(page);
    assert.equal(pluto.name, 'Pluto');
    assert.match(pluto.where, /^Below the horizon: 40° under it, towards the /);
    assert.equal(pluto.facts.Rise, 'does not rise');
    await page.click('#body-card-close');
    await page.waitForSelector('#body-card:not([open])', { state: 'attached' });
    assert.deepEqual(problems, []);
    await context.close();
});

test('by keyboard: Tab to a mark of the chart, Enter opens, Escape closes, focus returns', TIMEOUT, async () => {
    const { context, page, problems } = await open();
    // Tab from the "South up" button (just before the chart) reaches the first mark.
    await page.focus('#sky-flip');
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => ({
        body: document.activeElement.dataset.body,
        role: document.activeElement.getAttribute('role'),
        label: document.activeElement.getAttribute('aria-label'),
        inChart: document.getElementById('sky-bodies').contains(document.activeElement),
    }));
    assert.equal(first.inChart, true, 'Tab reaches a mark of the chart');
    assert.equal(first.role, 'button');
    assert.match(first.label, /azimuth .*altitude/);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#body-card[open]');
    assert.equal(await page.getAttribute('#body-card', 'data-body'), first.body);
    // The focus is in the dialog (its close button), and Tab stays there.
    assert.equal(await page.evaluate(() => document.getElementById('body-card').contains(document.activeElement)), true);
    await page.keyboard.press('Escape');
    await page.waitForSelector('#body-card:not([open])', { state: 'attached' });
    assert.equal(await page.evaluate(() => document.activeElement.dataset.body), first.body);
    // Space opens too; a new push while it is open keeps it open and current.
    await page.keyboard.press(' ');
    await page.waitForSelector('#body-card[open]');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#body-card:not([open])', { state: 'attached' });

    // The Moon from "What you can see now" on a phone, then a tap outside closes it.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('#seeing-list .visible-open[data-body="moon"]');
    await page.waitForSelector('#body-card[open]');
    const moon = await readCard(page);
    assert.equal(moon.where, 'Look east, 35\u00b0 up.');
    assert.equal(moon.facts.Phase, 'waxing gibbous, 62% lit'); // east of the Sun, 62% lit
    assert.equal(moon.facts.Constellation, 'Pisces');
    await page.screenshot({ path: path.join(ARTIFACTS, 'card-phone.png') });
    await page.mouse.click(195, 40); // above the sheet: the backdrop
    await page.waitForSelector('#body-card:not([open])', { state: 'attached' });
    assert.equal(await page.evaluate(() => document.activeElement.dataset.body), 'moon');
    assert.deepEqual(problems, []);
    await context.close();
});

function marks(page) {
    return page.evaluate(() => ({
        orientation: document.getElementById('skymap').dataset.orientation,
        pressed: document.getElementById('sky-flip').getAttribute('aria-pressed'),
        letters: Object.fromEntries([...document.querySelectorAll('#skymap .cardinal')].map((t) =>
            [t.textContent, [Number(t.getAttribute('x')), Number(t.getAttribute('y'))]])),
        marks: Object.fromEntries([...document.querySelectorAll('#sky-bodies .sky-body')].map((g) =>
            [g.dataset.body, g.getAttribute('transform').match(/-?\d+(\.\d+)?/g).map(Number)])),
        caption: document.getElementById('sky-caption').textContent,
    }));
}

test('the chart turns south up (and stays so after a reload)', TIMEOUT, async () => {
    const { context, page, problems } = await open(PHONE);
    const north = await marks(page);
    assert.equal(north.orientation, 'north');
    assert.equal(north.pressed, 'false');
    assert.ok(north.letters.N[1] < 0 && north.letters.E[0] < 0);
    await page.click('#sky-flip');
    const south = await marks(page);
    assert.equal(south.orientation, 'south');
    assert.equal(south.pressed, 'true');
    // S at the top, W on the left: every mark turned by 180° about the zenith.
    assert.ok(south.letters.S[1] < 0 && south.letters.N[1] > 0, JSON.stringify(south.letters));
    assert.ok(south.letters.W[0] < 0 && south.letters.E[0] > 0, JSON.stringify(south.letters));
    assert.deepEqual(Object.keys(south.marks).sort(), Object.keys(north.marks).sort());
    for (const [name, [x, y]] of Object.entries(north.marks)) {
        const [sx, sy] = south.marks[name];
        assert.ok(Math.abs(sx + x) < 0.02 && Math.abs(sy + y) < 0.02, `${name}: ${x},${y} -> ${sx},${sy}`);
    }
    assert.match(south.caption, /south at the top: east is on the right/);
    assert.equal(await page.evaluate(() => localStorage.getItem('planettracker.southUp')), '1');
    await page.locator('.sky').screenshot({ path: path.join(ARTIFACTS, 'chart-south-up-phone.png') });

    await page.reload();
    await page.waitForFunction((t) => window.__lastSnapshot?.time === t, snap.time);
    await waitUntil(page, 'the marks drawn south up', () =>
        document.getElementById('skymap').dataset.orientation === 'south' &&
        document.querySelectorAll('#sky-bodies .sky-body').length > 0);
    const again = await marks(page);
    for (const [name, [x, y]] of Object.entries(north.marks)) {
        assert.ok(Math.abs(again.marks[name][0] + x) < 0.02 && Math.abs(again.marks[name][1] + y) < 0.02, name);
    }
    await page.click('#sky-flip');
    assert.equal((await marks(page)).orientation, 'north');
    assert.equal(await page.evaluate(() => localStorage.getItem('planettracker.southUp')), '0');
    assert.deepEqual(problems, []);
    await context.close();
});

// December 2026 from Paris, one instant per phase (the server's lit fraction tells which).
const MOON_PHASES = [
    ['2026-12-01T00:00:00Z', 'last quarter'], ['2026-12-05T00:00:00Z', 'waning crescent'],
    ['2026-12-09T00:00:00Z', 'new moon'], ['2026-12-12T00:00:00Z', 'waxing crescent'],
    ['2026-12-17T06:00:00Z', 'first quarter'], ['2026-12-20T00:00:00Z', 'waxing gibbous'],
    ['2026-12-24T01:00:00Z', 'full moon'], ['2026-12-27T00:00:00Z', 'waning gibbous'],
];

/**
 * The Moon's phase named as GET /planets/tonight names it (src/app/tonight.c): from
 * the lit fraction, waxing when it grows over the next hour. The page works it out
 * otherwise (east or west of the Sun), from one snapshot.
 */
function phaseName(k, later) {
    const waxing = later > k;
    if (k < 0.02) return 'new moon';
    if (k > 0.98) return 'full moon';
    if (Math.abs(k - 0.5) < 0.04) return waxing ? 'first quarter' : 'last quarter';
    if (k < 0.5) return waxing ? 'waxing crescent' : 'waning crescent';
    return waxing ? 'waxing gibbous' : 'waning gibbous';
}

test('the Moon\'s card names its phase: waxing crescent ... waning gibbous', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, { timezoneId: 'Europe/Paris' });
    for (const [iso, name] of MOON_PHASES) {
        const at = (t) => getJson(server.base, `planets?lat=48.85&lon=2.35&time=${t}`)
            .then((s) => s.bodies.find((b) => b.name === 'moon').phase);
        const k = await at(iso);
        const later = await at(new Date(Date.parse(iso) + 3600e3).toISOString());
        assert.equal(phaseName(k, later), name, `${iso}: the server's Moon is ${k} lit, then ${later}`);

        await page.goto(`${server.base}?lat=48.85&lon=2.35&time=${iso}`);
        await page.waitForFunction((t) => window.__lastSnapshot?.time === t, new Date(iso).toISOString());
        await page.click('#sky-table .table-open[data-body="moon"]');
        await page.waitForSelector('#body-card[open][data-body="moon"]');
        const card = await readCard(page);
        assert.equal(card.facts.Phase, `${name}, ${Math.round(k * 100)}% lit`, iso);
        await page.keyboard.press('Escape');
        await page.waitForSelector('#body-card:not([open])', { state: 'attached' });
    }
    // Another body's phase has no name.
    await page.click('#sky-table .table-open[data-body="venus"]');
    await page.waitForSelector('#body-card[open][data-body="venus"]');
    assert.match((await readCard(page)).facts.Phase, /^\d+% lit$/);
    assert.deepEqual(problems, []);
    await context.close();
});

test('the server shuts down cleanly, with no sanitizer report', TIMEOUT, async (t) => {
    await browser.close();
    browser = null;
    await assertCleanShutdown(t, server, assert);
});
