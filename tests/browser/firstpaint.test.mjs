// SPDX-License-Identifier: AGPL-3.0-or-later
//
// firstpaint.test.mjs -- the page shows real data at its first paint: the server
// inlines the sky of the page's address (or session) into the page, so the table is
// full even while the live stream and every API request are held unanswered.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openPage, startSuite, stopSuite } from './harness.mjs';

const TIMEOUT = { timeout: 120000 };

let server;
let browser;

before(async () => {
    ({ server, browser } = await startSuite());
});

after(() => stopSuite(server, browser));

test('the first sky comes with the page, not after another round trip', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    // Nothing but the page itself and its files is answered.
    await page.route(/\/(planets([/?]|$)|api\/|geo_location)/, () => {});
    await page.goto(`${server.base}?lat=-33.87&lon=151.21&time=2026-12-15T12:00:00Z`);
    // The page draws its first sky in parts: all of it drawn, then __lastSnapshot is set.
    await page.waitForFunction(() => document.querySelectorAll('#sky-table tbody tr').length === 10 &&
                               window.__lastSnapshot !== undefined);
    const shown = await page.evaluate(() => ({
        time: window.__lastSnapshot?.time,
        lat: window.__lastSnapshot?.observer?.lat,
        streams: window.__pt.streams.length,
    }));
    assert.equal(shown.time, '2026-12-15T12:00:00.000Z');
    assert.equal(shown.lat, -33.87);
    assert.deepEqual(problems, []);
    await context.close();
});
