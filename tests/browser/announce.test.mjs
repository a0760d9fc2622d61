// SPDX-License-Identifier: AGPL-3.0-or-later
//
// announce.test.mjs -- an operator's announcement (`event: announcement` on the live
// stream, JSON {text, id, expires_unix, expires}) in a real browser: a banner under
// the header in a live region (role=status) while it has not expired, "until 23:00"
// on the display zone's clock, dismissable (and staying dismissed when the stream
// sends it again), gone when it expires, kept for a page opened offline, legible in
// night mode (at least 4.5:1, red on black). The stream is routed (sseResponse with
// an extra event), a real sky in it.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    ARTIFACTS, assertCleanShutdown, getJson, openPage, sseResponse, startSuite, stopSuite,
    waitUntil,
} from './harness.mjs';

const TIMEOUT = { timeout: 120000 };
const STREAM = /\/planets\/stream(\?|$)/;
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
                deviceScaleFactor: 2 };

let server;
let browser;
let snap;

before(async () => {
    ({ server, browser } = await startSuite());
    snap = await getJson(server.base, 'planets?lat=48.85&lon=2.35');
});

after(() => stopSuite(server, browser));

function announcement(id, text, inMs) {
    const t = Date.now() + inMs;
    return { text, id, expires_unix: t / 1000, expires: new Date(t).toISOString().replace(/\.\d+Z$/, 'Z') };
}

const paris = (ms) => new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Paris', hour: '2-digit',
                                                         minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));

function banner(page) {
    return page.evaluate(() => {
        const box = document.querySelector('#announcement .announcement');
        return box ? { id: box.dataset.id, text: box.querySelector('.announcement-text').textContent,
                       until: box.querySelector('.announcement-until').textContent,
                       role: box.parentElement.getAttribute('role') } : null;
    });
}

test('an announcement shows until it is dismissed, and stays dismissed', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, { timezoneId: 'Europe/Paris' });
    let ann = announcement('a1', 'Clouds clearing after 22:00, club dome open', 3600e3);
    let streams = 0;
    await page.route(STREAM, (route) => {
        streams++;
        route.fulfill(sseResponse(snap, 300, [{ event: 'announcement', data: ann }]));
    });
    await page.goto(`${server.base}?lat=48.85&lon=2.35`);
    await page.waitForSelector('#announcement .announcement');
    const shown = await banner(page);
    assert.deepEqual(shown, { id: 'a1', text: 'Clouds clearing after 22:00, club dome open',
                              until: `(until ${paris(ann.expires_unix * 1000)})`, role: 'status' });
    // Under the header, above the first card.
    const [header, box, main] = await page.evaluate(() => ['.topbar', '#announcement', 'main'].map((s) =>
        document.querySelector(s).getBoundingClientRect()).map((r) => [r.top, r.bottom]));
    assert.ok(box[0] >= header[1] - 1 && box[1] <= main[0] + 1, `${header} ${box} ${main}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'announcement-desktop.png') });

    await page.getByRole('button', { name: /dismiss the announcement/i }).click();
    assert.equal(await banner(page), null);
    assert.equal(await page.evaluate(() => localStorage.getItem('planettracker.announcement.dismissed')), 'a1');
    // The stream reconnects and sends it again: still dismissed.
    const n = streams;
    await waitUntil(page, 'two more pushes of the reconnecting stream', (k) => window.__pt.pushes.length >= k + 2,
                    await page.evaluate(() => window.__pt.pushes.length));
    assert.ok(streams >= n + 1, `${streams} streams`);
    assert.equal(await banner(page), null);
    // A new one shows.
    ann = announcement('a2', 'Dome closed: wind', 3600e3);
    await page.waitForSelector('#announcement .announcement[data-id="a2"]');
    assert.deepEqual(problems.filter((p) => !/EventSource/.test(p)), []);
    await context.close();
});

test('an announcement goes when it expires; kept for a page opened offline', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, { timezoneId: 'Europe/Paris' });
    let ann = announcement('short', 'Last call at the dome', 2500);
    let online = true;
    await page.route(STREAM, (route) => (online
        ? route.fulfill(sseResponse(snap, 300, [{ event: 'announcement', data: ann }]))
        : route.abort('connectionrefused')));
    await page.goto(`${server.base}?lat=48.85&lon=2.35`);
    await page.waitForSelector('#announcement .announcement[data-id="short"]');
    // Expired (the stream stops sending it): gone, without a reload.
    await waitUntil(page, 'the expired announcement to go',
                    () => document.querySelector('#announcement .announcement') === null);

    ann = announcement('long', 'Open house tonight from 20:00', 3600e3);
    await page.waitForSelector('#announcement .announcement[data-id="long"]');
    online = false;
    await page.route(/\/planets(\?|$)/, (route) => route.abort('connectionrefused'));
    await page.reload();
    await page.waitForSelector('#announcement .announcement[data-id="long"]');
    assert.equal((await banner(page)).text, 'Open house tonight from 20:00');
    assert.deepEqual(problems.filter((p) => !/EventSource|Failed to load resource|ERR_/.test(p)), []);
    await context.close();
});

test('night mode on a phone: the banner legible, red on black', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, { ...PHONE, timezoneId: 'Europe/Paris' });
    await context.addInitScript(() => localStorage.setItem('planettracker.night', '1'));
    const ann = announcement('n1', 'Clouds clearing after 22:00, club dome open', 3600e3);
    await page.route(STREAM, (route) => route.fulfill(sseResponse(snap, 300, [{ event: 'announcement', data: ann }])));
    await page.goto(`${server.base}?lat=48.85&lon=2.35`);
    await page.waitForSelector('#announcement .announcement');
    const colours = await page.evaluate(() => {
        const parse = (css) => css.match(/[\d.]+/g).map(Number);
        const lum = (c) => {
            const [r, g, b] = c.slice(0, 3).map((v) => {
                const x = v / 255;
                return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
            });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const box = document.querySelector('.announcement');
        const [br, bg, bb, ba = 1] = parse(getComputedStyle(box).backgroundColor);
        const under = [br * ba, bg * ba, bb * ba]; // over black
        return [...box.querySelectorAll('.announcement-label, .announcement-text, .announcement-until')].map((el) => {
            const fg = parse(getComputedStyle(el).color);
            const [hi, lo] = [lum(fg), lum(under)].sort((a, b) => b - a);
            return { text: el.textContent, fg, ratio: (hi + 0.05) / (lo + 0.05) };
        });
    });
    for (const c of colours) {
        assert.ok(c.ratio >= 4.5, `"${c.text}" at ${c.ratio.toFixed(2)}:1`);
        const [r, g, b] = c.fg;
        assert.ok(r >= 80 && g <= 0.35 * r && b <= 0.35 * r, `"${c.text}" is not red: ${c.fg}`);
    }
    const close = await page.locator('.announcement-close').boundingBox();
    assert.ok(close.width >= 44 && close.height >= 44);
    await page.screenshot({ path: path.join(ARTIFACTS, 'announcement-night-phone.png') });
    assert.deepEqual(problems.filter((p) => !/EventSource/.test(p)), []);
    await context.close();
});

test('the server shuts down cleanly, with no sanitizer report', TIMEOUT, async (t) => {
    await browser.close();
    browser = null;
    await assertCleanShutdown(t, server, assert);
});
