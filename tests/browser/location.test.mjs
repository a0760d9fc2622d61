// SPDX-License-Identifier: AGPL-3.0-or-later
//
// location.test.mjs -- whose sky the page shows, and how a person under it says
// where they are. The line under the header is never empty and in the first screen
// of a phone ("Greenwich — the default: set yours", "Location from the link (...)",
// "Saved site “Home”"); the coordinates field takes what people paste ("48.85, 2.35",
// "48.85° N, 2.35° E", "33.87 S 151.21 E", D:M:S), a pasted pair in the latitude
// input fills both, the N/S and E/W buttons set the sign (a phone's decimal keypad
// may have no minus); over plain HTTP on a name that is not localhost (no secure
// context) "Use my location" says that browsers need HTTPS and how a self-hoster
// gets it. Every wait is for a condition (WAIT_MS).

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
    ARTIFACTS, GREENWICH, WAIT_MS, assertCleanShutdown, launchBrowser, openPage, pageLog,
    startSuite, stopSuite, useMyLocation, waitForObserver, waitUntil,
} from './harness.mjs';

const TIMEOUT = { timeout: 120000 };
const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
                deviceScaleFactor: 2 };

let server;
let browser;

before(async () => {
    ({ server, browser } = await startSuite());
});

after(() => stopSuite(server, browser));

/** The line under the header: {text, link, source, box}. */
function whoseSky(page) {
    return page.evaluate(() => {
        const line = document.getElementById('whose-sky');
        const r = line.getBoundingClientRect();
        return { text: document.getElementById('whose-sky-text').textContent,
                 link: document.getElementById('whose-sky-change').textContent,
                 source: line.dataset.source, top: r.top, bottom: r.bottom, height: r.height };
    });
}

test('the location line: never empty, in the first screen of a phone, says whose sky', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, PHONE);
    // From the first paint on, before any data: never empty.
    await context.addInitScript(() => {
        document.addEventListener('DOMContentLoaded', () => {
            window.__firstLine = document.getElementById('whose-sky-text').textContent;
        });
    });
    await page.goto(server.base);
    assert.ok((await page.evaluate(() => window.__firstLine)).trim().length > 10);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    await page.waitForSelector('#whose-sky[data-source="default"]');
    let line = await whoseSky(page);
    assert.equal(line.text, 'Greenwich \u2014 the default:');
    assert.equal(line.link, 'set yours');
    assert.ok(line.bottom <= 844 / 3, `the line ends at y=${line.bottom}`);
    // "set yours" takes you to the coordinates field.
    await page.click('#whose-sky-change');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'coords');
    await page.screenshot({ path: path.join(ARTIFACTS, 'location-line-phone.png') });

    // A link with coordinates, then a saved site.
    await page.goto(`${server.base}?lat=-33.8688&lon=151.2093`);
    await waitForObserver(page, -33.8688, 151.2093);
    line = await whoseSky(page);
    assert.equal(line.text, 'Location from the link (33.87\u00b0 S, 151.21\u00b0 E)');
    assert.equal(line.link, 'change');
    const r = await context.request.post(new URL('api/sites', server.base).href, {
        data: { name: 'Home', lat: 45.2, lon: 5.7 } });
    assert.equal(r.status(), 201);
    const site = await r.json();
    await page.goto(`${server.base}?site=${site.id}`);
    await waitForObserver(page, 45.2, 5.7);
    await waitUntil(page, 'the site named in the line',
                    () => document.getElementById('whose-sky-text').textContent === 'Saved site \u201cHome\u201d');
    line = await whoseSky(page);
    assert.ok(line.height <= 48, `the line is ${line.height} px high`);
    assert.deepEqual(problems, []);
    await context.close();
});

/** Put `text` on the clipboard and paste it into `selector` with the keyboard. */
async function paste(page, selector, text) {
    await page.evaluate((t) => navigator.clipboard.writeText(t), text);
    await page.focus(selector);
    await page.keyboard.press('ControlOrMeta+a');
    await page.keyboard.press('ControlOrMeta+v');
}

test('the coordinates field takes what people paste, at once', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, {
        permissions: ['clipboard-read', 'clipboard-write'],
    });
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);

    // A real paste applies at once: the stream for it is opened by the input event
    // of the paste itself, not by the 500 ms pause of typing.
    await paste(page, '#coords', '33.87 S 151.21 E');
    await waitForObserver(page, -33.87, 151.21);
    const log = await pageLog(page);
    const opened = log.streams.find((s) => new URL(s.url).searchParams.get('lat') === '-33.87');
    assert.equal(opened.cause, 'input:', `opened by "${opened.cause}"`);
    assert.equal(await page.inputValue('#lat'), '-33.87');
    assert.equal(await page.inputValue('#lon'), '151.21');
    assert.equal(await page.getAttribute('#lat-s', 'aria-pressed'), 'true');
    assert.equal(await page.getAttribute('#status', 'data-source'), 'typed');

    // Each way of writing it, typed (one input event) and applied after the pause.
    const cases = [
        ['48.85, 2.35', 48.85, 2.35],
        ['48.8566\u00b0 N, 2.3522\u00b0 E', 48.8566, 2.3522],
        ['40.4168 N 3.7038 W', 40.4168, -3.7038],
        ['S 22.9068, W 43.1729', -22.9068, -43.1729],
        ['139.6503 E, 35.6762 N', 35.6762, 139.6503],
        ['48:51:00, 2:21:00', 48.85, 2.35],
        ['51\u00b028\u203236.84\u2033N 0\u00b000\u20321.8\u2033W', 51.4769, -0.0005],
        ['-34.6037, -58.3816', -34.6037, -58.3816],
        ['45,5; 6,25', 45.5, 6.25],
    ];
    for (const [text, lat, lon] of cases) {
        await page.locator('#coords').fill(text);
        await waitForObserver(page, lat, lon);
        assert.equal(await page.isHidden('#coords-error'), true, text);
    }
    // Enter applies at once; a third number is the elevation.
    await page.locator('#coords').fill('44.1, 5.9, 650 m');
    await page.locator('#coords').press('Enter');
    await waitForObserver(page, 44.1, 5.9);
    assert.equal(Number(await page.getAttribute('#sky-table', 'data-observer-elevation')), 650);

    // Not coordinates: said at the field; the sky stays.
    await page.locator('#coords').fill('somewhere nice');
    await page.waitForSelector('#coords-error:not([hidden])', { timeout: WAIT_MS });
    assert.match(await page.textContent('#coords-error'), /not coordinates.*48\.85, 2\.35/);
    assert.equal(await page.getAttribute('#coords', 'aria-invalid'), 'true');
    await page.locator('#coords').fill('95, 10');
    await waitUntil(page, 'the range error', () =>
        /latitude must be between 90° S and 90° N/.test(document.getElementById('coords-error').textContent));
    assert.equal(Number(await page.getAttribute('#sky-table', 'data-observer-lat')), 44.1);

    // A pair pasted into the latitude input fills both.
    await paste(page, '#lat', '-33.8688, 151.2093');
    await waitForObserver(page, -33.8688, 151.2093);
    assert.equal(await page.inputValue('#lat'), '-33.8688');
    assert.equal(await page.inputValue('#lon'), '151.2093');
    assert.deepEqual(problems, []);
    await context.close();
});

test('N/S and E/W buttons set the sign (no minus key needed), letters work too', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, PHONE);
    await page.goto(server.base);
    await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
    await page.locator('#lat').fill('33.8688');
    await page.locator('#lon').fill('151.2093');
    await page.locator('#lon').press('Enter');
    await waitForObserver(page, 33.8688, 151.2093);
    await page.tap('#lat-s');
    await waitForObserver(page, -33.8688, 151.2093);
    assert.equal(await page.inputValue('#lat'), '-33.8688');
    assert.equal(await page.getAttribute('#lat-s', 'aria-pressed'), 'true');
    assert.equal(await page.getAttribute('#lat-n', 'aria-pressed'), 'false');
    await page.tap('#lon-w');
    await waitForObserver(page, -33.8688, -151.2093);
    await page.tap('#lon-e');
    await waitForObserver(page, -33.8688, 151.2093);
    await page.tap('#lat-n');
    await waitForObserver(page, 33.8688, 151.2093);
    // A hemisphere letter in the input, and the button swaps it.
    await page.locator('#lat').fill('48.85 N');
    await page.locator('#lat').press('Enter');
    await waitForObserver(page, 48.85, 151.2093);
    await page.tap('#lat-s');
    await waitForObserver(page, -48.85, 151.2093);
    assert.equal(await page.inputValue('#lat'), '48.85 S');
    // S on an empty input: the sign waits for the digits.
    await page.locator('#lon').fill('');
    await page.tap('#lon-w');
    assert.equal(await page.inputValue('#lon'), '-');
    await page.locator('#lon').pressSequentially('70.25', { delay: 10 });
    await page.locator('#lon').press('Enter');
    await waitForObserver(page, -48.85, -70.25);
    // The buttons are finger-sized.
    for (const id of ['lat-n', 'lat-s', 'lon-e', 'lon-w']) {
        const box = await page.locator(`#${id}`).boundingBox();
        assert.ok(box.width >= 44 && box.height >= 44, `${id}: ${box.width}x${box.height}`);
    }
    await page.locator('.observer').screenshot({ path: path.join(ARTIFACTS, 'location-card-phone.png') });
    assert.deepEqual(problems, []);
    await context.close();
});

test('over plain HTTP on a name that is not localhost: no geolocation, and why (HTTPS)', TIMEOUT, async () => {
    const port = new URL(server.base).port;
    const named = await launchBrowser([`--host-resolver-rules=MAP planets.example 127.0.0.1`]);
    try {
        const base = `http://planets.example:${port}/`;
        const { context, page, problems } = await openPage(named, base, {
            permissions: ['geolocation'], geolocation: { latitude: 48.85, longitude: 2.35 },
        });
        await page.goto(base);
        assert.equal(await page.evaluate(() => window.isSecureContext), false);
        await waitForObserver(page, GREENWICH.lat, GREENWICH.lon);
        await page.waitForSelector('#live[data-mode="live"]', { timeout: WAIT_MS });
        // Said before any tap, with how a self-hoster gets HTTPS.
        const hint = await page.textContent('#geo-https');
        assert.equal(await page.isVisible('#geo-https'), true);
        assert.match(hint, /only with pages\s+served over HTTPS/);
        assert.match(hint, /deploy\/nginx\.conf/);
        await useMyLocation(page);
        await page.waitForSelector('#status[data-reason="insecure"]');
        assert.match(await page.textContent('#status'), /HTTPS.*plain HTTP: still using Greenwich/);
        assert.equal(await page.textContent('#whose-sky-text'), 'Greenwich \u2014 location needs HTTPS:');
        // No service worker outside a secure context; the page works all the same.
        assert.equal(await page.evaluate(() => 'serviceWorker' in navigator), false);
        assert.equal(await page.locator('#sky-table tbody tr').count(), 10);
        assert.deepEqual(problems, []);
        await context.close();
    } finally {
        await named.close();
    }
});

test('the server shuts down cleanly, with no sanitizer report', TIMEOUT, async (t) => {
    await browser.close();
    browser = null;
    await assertCleanShutdown(t, server, assert);
});
