// SPDX-License-Identifier: AGPL-3.0-or-later
//
// live.test.mjs -- the page is live by default: its data arrives through the
// Server-Sent Events stream GET /planets/stream (one EventSource, no polling while
// it is healthy), it falls back to polling GET /planets every 2 s when the stream
// fails and goes back to the stream later, and the live indicator says which
// ("Live", "Polling", "Offline"). Also: the fields other layers add to each body
// (magnitude, phase, elongation, constellation, rise/transit/set, status) show
// when present. Run: node --test tests/browser/ (see README.md).
//
// Nothing here depends on the machine's speed: pushes and polls are logged in the
// page with its clock (harness.mjs), every wait is for a condition with a generous
// deadline (WAIT_MS), lower bounds are in milliseconds (a slow machine only makes
// things later), and "soon enough" is a condition waited for, not a bound.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
    GREENWICH, WAIT_MS, assertCleanShutdown, enrichSnapshot, getJson, liveIndicator, openPage,
    openStreams, pageLog, parseShown, pollRequests, sleep, sseResponse, startSuite, stopSuite,
    waitForObserver, waitUntil,
} from './harness.mjs';

const TIMEOUT = { timeout: 120000 };
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
    await page.waitForSelector('#live[data-mode="live"]', { timeout: WAIT_MS });
    const indicator = await liveIndicator(page);
    assert.equal(indicator.text, 'Live');
    assert.equal(indicator.state, 'live');

    // Several pushes, a second apart: the time and the positions move. Waited for in
    // the page's log of pushes: three more after `first`, two of them in a row one
    // second apart (a loaded server may skip a second now and then, so not all).
    const first = await lastSnapshot(page);
    await waitUntil(page, `3 pushes after ${first.time}, two in a row a second apart`, (t0) => {
        const times = window.__pt.pushes.map((p) => Date.parse(p.time)).filter((t) => t >= Date.parse(t0));
        return times.length >= 4 && times.slice(1).some((t, i) => t - times[i] === 1000);
    }, first.time);
    const times = (await pageLog(page)).pushes.map((p) => Date.parse(p.time));
    for (const [i, t] of times.slice(1).entries()) {
        const gap = t - times[i];
        assert.ok(gap >= 1000 && gap % 1000 === 0, `pushes ${gap} ms apart: on whole seconds, ` +
                  `at most one a second (${(await pageLog(page)).pushes.map((p) => p.time).join(' ')})`);
    }
    // The page shows what the stream pushed (read at once, between two pushes).
    const { last, shown, updated } = await page.evaluate(() => ({
        last: window.__lastSnapshot,
        shown: [...document.querySelectorAll('#sky-table tbody tr')].map((tr) =>
            tr.querySelector('[data-col="alt"]').textContent),
        updated: document.getElementById('updated').dateTime,
    }));
    assert.ok(Date.parse(last.time) - Date.parse(first.time) >= 3000, `${first.time} .. ${last.time}`);
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
    // One input event: typed key by key, a machine stalled between two keys for the
    // page's 500 ms pause would rightly open a stream for a half-typed value too.
    await page.locator('#lat').fill('-33.8688');
    await waitForObserver(page, -33.8688, GREENWICH.lon);
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
    await page.waitForSelector('#live[data-mode="polling"]', { timeout: WAIT_MS });
    assert.equal((await liveIndicator(page)).text, 'Polling');
    const t1 = (await lastSnapshot(page)).time;
    await page.waitForFunction((t) => window.__lastSnapshot.time !== t, t1, { timeout: WAIT_MS });
    const t2 = (await lastSnapshot(page)).time;
    const dt = Date.parse(t2) - Date.parse(t1);
    assert.ok(dt >= 1000, `polled snapshots ${dt} ms apart`);
    // Every 2 s: never faster (page clock); and two polls in a row about 2 s apart
    // (waited for: a loaded machine may run a poll's timer late now and then).
    await waitUntil(page, 'two polls in a row at most 3.5 s apart', () => {
        const polls = window.__pt.fetches.filter((f) => new URL(f.url).pathname.endsWith('/planets'));
        return polls.slice(1).some((p, i) => p.t - polls[i].t <= 3500);
    });
    let log = await pageLog(page);
    const polls = pollRequests(log);
    assert.ok(polls.length >= 2, `${polls.length} polls`);
    for (let i = 1; i < polls.length; i++) {
        const gap = polls[i].t - polls[i - 1].t;
        assert.ok(gap >= 1500, `polls ${gap.toFixed(0)} ms apart`);
    }
    assert.ok(log.streams.length >= 1, 'the stream was tried first');
    assert.ok(log.streams[0].t <= polls[0].t, 'stream first, polling after');

    // The server is unreachable altogether: Offline.
    await page.route(POLL, (route) => route.abort('connectionrefused'));
    await page.waitForSelector('#live[data-mode="offline"]', { timeout: WAIT_MS });
    assert.equal((await liveIndicator(page)).text, 'Offline');

    // Everything is back: the page returns to the stream by itself and stops polling.
    await page.unroute(POLL);
    await page.unroute(STREAM, failStream);
    // The stream is retried with a back-off of up to 30 s (source.js): a deadline past it.
    await page.waitForSelector('#live[data-mode="live"]', { timeout: 30000 + WAIT_MS });
    assert.equal((await liveIndicator(page)).text, 'Live');
    assert.equal(await openStreams(page), 1);
    // No poll after the page went live, for 3 s (longer than the 2 s polling period):
    // a "did not happen" window, which a slow machine can only make easier to pass.
    // Only while the page stays live: if a stalled server lets the stream time out
    // (6 s without an event), polling again is right.
    await sleep(3000);
    log = await pageLog(page);
    const liveAt = log.modes.find((m) => m.mode === 'live').t;
    const leftAt = log.modes.find((m) => m.t > liveAt && m.mode !== 'live')?.t ?? Infinity;
    assert.deepEqual(pollRequests(log).filter((f) => f.t > liveAt && f.t < leftAt).map((f) => f.url), [],
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
    await page.waitForSelector('#live[data-mode="polling"]', { timeout: WAIT_MS });
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
    await page.waitForFunction((t) => window.__lastSnapshot?.time === t, snap.time, { timeout: WAIT_MS });

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
