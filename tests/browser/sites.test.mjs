// SPDX-License-Identifier: AGPL-3.0-or-later
//
// sites.test.mjs -- the saved-sites menu in a real browser, against the real server
// (SQLite in its fresh working directory): save the location shown, see it in a
// second tab without a reload (the live stream's `sites` event; the BroadcastChannel
// for the tab whose stream predates the browser's owner), choose a site (the sky
// follows it and times are shown in its zone), rename with the version shown (a
// site changed elsewhere is refused, not overwritten) and delete. Every wait is for
// a condition (WAIT_MS deadline).

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ARTIFACTS, WAIT_MS, openPage, startSuite, stopSuite, useMyLocation, waitForObserver,
         waitUntil } from './harness.mjs';

const PARIS = { latitude: 48.8566, longitude: 2.3522 };
const TIMEOUT = { timeout: 120000 };

let server;
let browser;

before(async () => {
    ({ server, browser } = await startSuite());
});

after(() => stopSuite(server, browser));

/** The names the menu offers (the placeholder option excluded). */
function menuNames(page) {
    return page.$$eval('#site-select option', (os) => os.filter((o) => o.value !== '')
        .map((o) => o.textContent));
}

async function waitForNames(page, names, what) {
    await waitUntil(page, what, (want) => {
        const got = [...document.querySelectorAll('#site-select option')]
            .filter((o) => o.value !== '').map((o) => o.textContent);
        return JSON.stringify(got) === JSON.stringify(want);
    }, names);
}

/** The API as the page's browser sees it (the context's cookies). */
async function api(context, method, urlPath, { data, version } = {}) {
    const headers = { Accept: 'application/json' };
    if (version !== undefined) headers['If-Match'] = `"v${version}"`;
    const r = await context.request.fetch(new URL(urlPath, server.base).href,
                                          { method, headers, data });
    const text = await r.text();
    return { status: r.status(), body: text ? JSON.parse(text) : null };
}

/** Stop a page's live stream as a hidden tab does (the page closes it). */
async function hideTab(page) {
    await page.evaluate(() => {
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
        document.dispatchEvent(new Event('visibilitychange'));
    });
}

test('a saved location appears in another tab, then changes arrive live', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, {
        geolocation: PARIS, permissions: ['geolocation'], timezoneId: 'Europe/Paris',
    });
    await page.goto(server.base);
    const other = await context.newPage();
    await other.goto(server.base);
    // Located by the browser, on a tap of "Use my location".
    await useMyLocation(page, PARIS.latitude, PARIS.longitude);
    await other.waitForFunction(() => document.querySelectorAll('#sky-table tbody tr').length === 10);
    assert.deepEqual(await menuNames(page), []);
    assert.equal(await page.locator('#site-select').isDisabled(), true);

    // An empty name is refused by the page, before any request.
    await page.click('#site-save');
    await page.waitForFunction(() => /name/.test(document.querySelector('#site-message').textContent));
    await page.fill('#site-name', 'Balcony');
    await page.click('#site-save');
    await waitForNames(page, ['Balcony'], 'the saved site in the menu');
    assert.match(await page.textContent('#site-message'), /Saved .Balcony./);
    const listed = (await api(context, 'GET', 'api/sites')).body.sites;
    assert.equal(listed.length, 1);
    assert.equal(listed[0].lat, PARIS.latitude);
    assert.equal(listed[0].lon, PARIS.longitude);
    // Located by the browser: the browser's zone is the place's.
    assert.equal(listed[0].timezone, 'Europe/Paris');
    // The page now follows the site: its stream asks by site id.
    await page.waitForFunction((id) => window.__pt.streams.some(
        (s) => new URL(s.url).searchParams.get('site') === String(id)), listed[0].id);
    assert.equal(await page.inputValue('#site-select'), String(listed[0].id));

    // The other tab, opened before this browser had an owner, shows it without a reload.
    await waitForNames(other, ['Balcony'], 'the other tab to get the new site');
    // A change made outside the page (a script, another device of the owner) reaches both
    // tabs through their live streams.
    const made = await api(context, 'POST', 'api/sites',
                           { data: { name: 'Dark site', lat: 44.1, lon: 5.9, elevation: 900 } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    await waitForNames(other, ['Balcony', 'Dark site'], 'the pushed list in the other tab');
    await waitForNames(page, ['Balcony', 'Dark site'], 'the pushed list in the first tab');
    const opened = await other.evaluate(() => window.__pt.streams.length);
    assert.ok(opened >= 2, 'the other tab reopened its stream to carry the sites');

    await page.screenshot({ path: path.join(ARTIFACTS, 'sites-desktop.png'), fullPage: false });
    assert.deepEqual(problems, []);
    await context.close();
});

test('a rename of a site changed elsewhere is refused, not overwritten', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base);
    const made = await api(context, 'POST', 'api/sites',
                           { data: { name: 'Club dome', lat: 45.2, lon: 5.7 } });
    assert.equal(made.status, 201);
    const id = made.body.id;
    await page.goto(server.base);
    await waitForNames(page, ['Club dome'], 'the menu to list the site');
    await page.selectOption('#site-select', String(id));
    await waitForObserver(page, 45.2, 5.7);
    assert.match(await page.textContent('#status'), /saved site .Club dome./);

    // The tab stops listening (hidden); meanwhile another device renames the site.
    await hideTab(page);
    const changed = await api(context, 'PATCH', `api/sites/${id}`,
                              { data: { name: 'Club dome (north)' }, version: 1 });
    assert.equal(changed.status, 200);
    // The tab still shows version 1: its rename must not win.
    await page.fill('#site-name', 'Terrace');
    await page.click('#site-rename');
    await page.waitForFunction(() => /changed in another tab or device/
        .test(document.querySelector('#site-message').textContent));
    await waitForNames(page, ['Club dome (north)'], 'the list as it is now');
    assert.equal((await api(context, 'GET', `api/sites/${id}`)).body.name, 'Club dome (north)');

    // With the current version the rename goes through.
    await page.fill('#site-name', 'Terrace');
    await page.click('#site-rename');
    await waitForNames(page, ['Terrace'], 'the renamed site');
    const now = (await api(context, 'GET', `api/sites/${id}`)).body;
    assert.equal(now.name, 'Terrace');
    assert.equal(now.version, 3);
    // The browser logs the refused request itself; nothing else went wrong.
    assert.deepEqual(problems.filter((p) => !/status of 412/.test(p)), []);
    await context.close();
});

test("a site's time zone is used for the times shown; delete keeps the place", TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base,
                                                       { timezoneId: 'Europe/Paris' });
    const made = await api(context, 'POST', 'api/sites', {
        data: { name: 'Sydney', lat: -33.8568, lon: 151.2153, timezone: 'Australia/Sydney' },
    });
    assert.equal(made.status, 201);
    await page.goto(server.base);
    await waitForNames(page, ['Sydney'], 'the menu to list the site');
    await page.selectOption('#site-select', String(made.body.id));
    await waitForObserver(page, -33.8568, 151.2153);
    await page.waitForFunction(() => document.querySelector('#fact-zone').textContent
        === 'Australia/Sydney' && /Site/.test(document.querySelector('#fact-zone-label').textContent));

    // Every event time the table shows is the snapshot's instant on Sydney's clock.
    const shown = await page.evaluate(() => {
        const snap = window.__lastSnapshot;
        const table = document.querySelector('#sky-table');
        if (table.dataset.time !== snap.time) return null; // rendered from another snapshot
        return snap.bodies.filter((b) => typeof b.rise === 'string').map((b) => ({
            iso: b.rise,
            text: table.querySelector(`tr[data-body="${b.name}"] [data-col="rise"]`).textContent,
        }));
    });
    assert.ok(shown && shown.length > 0, 'no rise time to compare');
    const sydney = new Intl.DateTimeFormat('en-GB', { timeZone: 'Australia/Sydney',
                                                      hour: '2-digit', minute: '2-digit',
                                                      hourCycle: 'h23' });
    for (const { iso, text } of shown) {
        assert.ok(text.startsWith(sydney.format(new Date(iso))), `${iso} shown as "${text}"`);
    }

    await page.click('#site-delete');
    await waitForNames(page, [], 'the deleted site to leave the menu');
    assert.deepEqual((await api(context, 'GET', 'api/sites')).body.sites, []);
    // The sky stays where it was, now as coordinates, in this browser's zone.
    await page.waitForFunction(() => document.querySelector('#status').dataset.source === 'typed');
    await page.waitForFunction(() => document.querySelector('#fact-zone').textContent
        === 'Europe/Paris' && /Your/.test(document.querySelector('#fact-zone-label').textContent));
    const obs = await page.evaluate(() => window.__lastSnapshot.observer);
    assert.equal(obs.lat, -33.8568);
    assert.deepEqual(problems, []);
    await context.close();
});

test('sites refusals are said in words (on a phone)', TIMEOUT, async () => {
    const { context, page, problems } = await openPage(browser, server.base, {
        viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true,
    });
    assert.equal((await api(context, 'POST', 'api/sites',
                            { data: { name: 'Home', lat: 1, lon: 2 } })).status, 201);
    await page.goto(server.base);
    await waitForNames(page, ['Home'], 'the menu to list the site');
    await page.waitForFunction(() => window.__lastSnapshot);
    await page.fill('#site-name', 'Home');
    await page.click('#site-save');
    await page.waitForFunction(() => /already have a site called .Home./
        .test(document.querySelector('#site-message').textContent), null, { timeout: WAIT_MS });
    assert.equal(await page.getAttribute('#site-message', 'data-kind'), 'error');
    await page.locator('.sites').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'sites-phone.png') });
    assert.deepEqual(await menuNames(page), ['Home']);
    assert.deepEqual(problems.filter((p) => !/status of 409/.test(p)), []);
    await context.close();
});
