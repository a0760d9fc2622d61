// SPDX-License-Identifier: AGPL-3.0-or-later
//
// live.test.mjs -- the page is live by default: its data arrives through the
// Server-Sent Events stream GET /planets/stream (one EventSource, no polling while
// it is healthy), it falls back to polling GET /planets every 2 s when the stream
// fails and goes back to the stream later, and the live indicator says which
// ("Live", "Polling", "Offline"). Also: the fields other layers add to each body
// (magnitude, phase, elongation, constellation, rise/transit/set, status) show
// when present. Run: node --test tests/browser/ (see README.md).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
    GREENWICH, assertCleanShutdown, enrichSnapshot, getJson, liveIndicator, openPage,
    openStreams, pageLog, parseShown, pollRequests, sleep, sseResponse, startSuite, stopSuite,
    waitForObserver,
} from './harness.mjs';

const TIMEOUT = { timeout: 60000 };
const STREAM = /\/planets\/stream(\?|$)/;
const POLL = /\/planets(\?|$)/;

let server;
let browser;

before(async () => {
    ({ server, browser } = await startSuite());
});

after(() => stopSuite(server, browser));

/** The snapshot the page shows now, as the page keeps it. */
function lastSnapshot(page) {
    return page.evaluate(() => window.__lastSnapshot);
}

test('live by default: one /planets/stream, new values every second, no polling', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    const eventSourceRequests = [];
    page.on('request', (r) => {
        if (STREAM.test(new URL(r.url()).pathname + '?')) eventSourceRequests.push(r);
    });
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    await page.waitForSelector('#live[data-mode="live"]', { timeout: 5000 });
    const indicator = await liveIndicator(page);
    assert.equal(indicator.text, 'Live');
    assert.equal(indicator.state, 'live');

    // Several pushes, a second apart: the time and the positions move.
    const first = await lastSnapshot(page);
    const seen = new Set([first.time]);
    const deadline = Date.now() + 8000;
    while (seen.size < 4 && Date.now() < deadline) {
        await page.waitForFunction((t) => window.__lastSnapshot.time !== t,
                                   [...seen].at(-1), { timeout: 4000 });
        seen.add((await lastSnapshot(page)).time);
    }
    assert.ok(seen.size >= 4, `snapshots seen: ${[...seen].join(', ')}`);
    // The page shows what the stream pushed (read at once, between two pushes).
    const { last, shown, updated } = await page.evaluate(() => ({
        last: window.__lastSnapshot,
        shown: [...document.querySelectorAll('#sky-table tbody tr')].map((tr) =>
            tr.querySelector('[data-col="alt"]').textContent),
        updated: document.getElementById('updated').dateTime,
    }));
    const span = Date.parse(last.time) - Date.parse(first.time);
    assert.ok(span >= 2000 && span <= 8000, `4 pushes over ${span} ms`);
    const moved = last.bodies.filter((b, i) => b.az !== first.bodies[i].az && b.alt !== first.bodies[i].alt);
    assert.equal(moved.length, last.bodies.length, 'every body moved between pushes');
    assert.equal(updated, last.time);
    assert.deepEqual(shown.map(parseShown), last.bodies.map((b) => Number(b.alt.toFixed(2))));

    // One EventSource on /planets/stream (interval 1 s, no location: the session's),
    // still open; not a single GET /planets.
    const log = await pageLog(page);
    assert.equal(log.streams.length, 1, JSON.stringify(log.streams));
    const url = new URL(log.streams[0].url);
    assert.equal(url.pathname, '/planets/stream');
    assert.equal(url.searchParams.get('interval'), '1');
    assert.equal(url.searchParams.has('lat'), false);
    assert.equal(eventSourceRequests.length, 1);
    assert.equal(eventSourceRequests[0].resourceType(), 'eventsource');
    assert.equal(await openStreams(page), 1);
    assert.deepEqual(pollRequests(log).map((f) => f.url), [], 'no polling while the stream is healthy');

    // The stream's numbers are the API's: same instant, same values.
    const api = await getJson(server.base, `planets?lat=${GREENWICH.lat}&lon=${GREENWICH.lon}` +
                                           `&time=${encodeURIComponent(last.time)}`);
    for (const [i, b] of last.bodies.entries()) {
        assert.ok(Math.abs(b.alt - api.bodies[i].alt) < 1e-6, `${b.name} stream ${b.alt} api ${api.bodies[i].alt}`);
    }
    assert.deepEqual(problems, []);
    await context.close();
});

test('a typed location reopens the stream for it (and closes the old one)', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    const input = page.locator('#lat');
    await input.click();
    await input.press('ControlOrMeta+a');
    await input.pressSequentially('-33.8688', { delay: 30 });
    await waitForObserver(page, -33.8688, GREENWICH.lon, 3000);
    const log = await pageLog(page);
    assert.equal(log.streams.length, 2, log.streams.map((s) => s.url).join(' '));
    assert.equal(new URL(log.streams[1].url).searchParams.get('lat'), '-33.8688');
    assert.equal(await openStreams(page), 1);
    assert.equal((await liveIndicator(page)).mode, 'live');
    assert.deepEqual(pollRequests(log), []);
    assert.deepEqual(problems, []);
    await context.close();
});

test('the stream fails: polling every 2 s ("Polling"), then "Offline", then back to the stream', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    const failStream = (route) => route.abort('connectionrefused');
    await page.route(STREAM, failStream);
    await page.goto(server.base);

    // No stream: the page polls GET /planets and says so.
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    await page.waitForSelector('#live[data-mode="polling"]', { timeout: 5000 });
    assert.equal((await liveIndicator(page)).text, 'Polling');
    const t1 = (await lastSnapshot(page)).time;
    await page.waitForFunction((t) => window.__lastSnapshot.time !== t, t1, { timeout: 4000 });
    const t2 = (await lastSnapshot(page)).time;
    const dt = Date.parse(t2) - Date.parse(t1);
    assert.ok(dt >= 1000 && dt <= 3500, `polled snapshots ${dt} ms apart`);
    let log = await pageLog(page);
    const polls = pollRequests(log);
    assert.ok(polls.length >= 2, `${polls.length} polls`);
    for (let i = 1; i < polls.length; i++) {
        const gap = polls[i].t - polls[i - 1].t;
        assert.ok(gap >= 1500 && gap <= 3500, `polls ${gap.toFixed(0)} ms apart`);
    }
    assert.ok(log.streams.length >= 1, 'the stream was tried first');
    assert.ok(log.streams[0].t <= polls[0].t, 'stream first, polling after');

    // The server is unreachable altogether: Offline.
    await page.route(POLL, (route) => route.abort('connectionrefused'));
    await page.waitForSelector('#live[data-mode="offline"]', { timeout: 5000 });
    assert.equal((await liveIndicator(page)).text, 'Offline');

    // Everything is back: the page returns to the stream by itself and stops polling.
    await page.unroute(POLL);
    await page.unroute(STREAM, failStream);
    await page.waitForSelector('#live[data-mode="live"]', { timeout: 30000 });
    assert.equal((await liveIndicator(page)).text, 'Live');
    assert.equal(await openStreams(page), 1);
    const since = await page.evaluate(() => performance.now());
    await sleep(3000);
    log = await pageLog(page);
    assert.deepEqual(pollRequests(log).filter((f) => f.t > since + 100).map((f) => f.url), [],
                     'polling stopped once the stream delivers');
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    assert.deepEqual(problems.filter((p) => !/Failed to load resource|EventSource|ERR_/.test(p)), []);
    await context.close();
});

test('without EventSource the page polls', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    await context.addInitScript(() => { delete window.EventSource; });
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    await page.waitForSelector('#live[data-mode="polling"]', { timeout: 5000 });
    const log = await pageLog(page);
    assert.equal(log.streams.length, 0);
    assert.ok(pollRequests(log).length >= 1);
    assert.deepEqual(problems, []);
    await context.close();
});

// ---- the fields other layers add -------------------------------------------------

test('magnitude, phase, elongation, constellation, rise/transit/set and status show when present', TIMEOUT, async () => {
    const snap = enrichSnapshot(await getJson(server.base,
                                              `planets?lat=${GREENWICH.lat}&lon=${GREENWICH.lon}`));
    const { context, page, problems } = await openPage(browser, server.base); // time zone UTC
    await page.route(STREAM, (route) => route.fulfill(sseResponse(snap)));
    await page.goto(server.base);
    await page.waitForFunction((t) => window.__lastSnapshot?.time === t, snap.time, { timeout: 10000 });

    const cells = await page.$$eval('#sky-table tbody tr', (trs) => Object.fromEntries(trs.map((tr) => [
        tr.dataset.body,
        Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col,
            (td.querySelector('.value') ?? td).textContent.trim()])),
    ])));
    const hhmm = (iso) => iso.slice(11, 16);
    assert.equal(cells.venus.magnitude, '\u22124.4');
    assert.equal(cells.mars.magnitude, '1.3');
    assert.equal(cells.venus.phase, '71%');
    assert.equal(cells.moon.phase, '62%');
    assert.equal(cells.venus.elongation, '38.9\u00b0');
    assert.equal(cells.sun.elongation, '\u2014', 'no elongation for the Sun itself');
    assert.equal(cells.jupiter.constellation, 'Leo');
    assert.equal(cells.venus.constellation, 'Virgo');
    assert.equal(await page.getAttribute('#sky-table tr[data-body="venus"] td[data-col="constellation"]', 'title'), 'Vir');
    const venus = snap.bodies.find((b) => b.name === 'venus');
    assert.equal(cells.venus.rise, hhmm(venus.rise));
    assert.equal(cells.venus.transit, hhmm(venus.transit));
    assert.equal(cells.venus.set, hhmm(venus.set));
    assert.equal(cells.uranus.rise, 'circumpolar');
    assert.equal(cells.uranus.set, 'circumpolar');
    assert.equal(cells.pluto.rise, 'never rises');
    assert.equal(cells.pluto.transit, '\u2014');

    // The chart: brighter is bigger; the Moon drawn with its phase.
    const radius = await page.$$eval('#sky-bodies .sky-body', (gs) => Object.fromEntries(gs.map((g) => {
        const c = g.querySelector('.disc circle');
        return [g.dataset.body, Number(c.getAttribute('r'))];
    })));
    assert.ok(radius.moon, 'the Moon is on the chart');
    const up = snap.bodies.filter((b) => b.alt > 0);
    for (const a of up) {
        for (const b of up) {
            if (a.magnitude < b.magnitude) {
                assert.ok(radius[a.name] >= radius[b.name], `${a.name} (${a.magnitude}) >= ${b.name} (${b.magnitude})`);
            }
        }
    }
    assert.equal(await page.locator('#sky-bodies .sky-body[data-body="moon"] path.moon-lit').count(), 1);

    // Below the horizon: soonest rise first, with its time; never-rising said so.
    const below = await page.$$eval('#below-list li', (lis) => lis.map((li) => ({
        name: li.dataset.body, rise: li.querySelector('.below-rise').textContent })));
    const expected = snap.bodies.filter((b) => !(b.alt > 0));
    assert.deepEqual(below.map((b) => b.name).sort(), expected.map((b) => b.name).sort());
    const withRise = expected.filter((b) => b.rise).sort((a, b) => Date.parse(a.rise) - Date.parse(b.rise));
    assert.deepEqual(below.slice(0, withRise.length).map((b) => b.name), withRise.map((b) => b.name));
    for (const b of withRise) {
        assert.equal(below.find((x) => x.name === b.name).rise, `rises ${hhmm(b.rise)}`);
    }
    assert.equal(below.at(-1).name, 'pluto');
    assert.match(below.at(-1).rise, /does not rise/);
    assert.deepEqual(problems, []);
    await context.close();
});

test('the server shuts down cleanly, with no sanitizer report', TIMEOUT, async (t) => {
    await browser.close();
    browser = null;
    await assertCleanShutdown(t, server, assert);
});
