// SPDX-License-Identifier: AGPL-3.0-or-later
//
// sw.js -- the page's service worker, served at /sw.js (scope /): the page keeps
// working when the server cannot be reached.
//
//  - On install it fetches the page and every file it uses (under the build's
//    static/<build id>/, which index.html names) into the cache, so the next visit
//    opens without the network.
//  - The page (a navigation): network first, the cached copy when the network fails
//    or the server answers with an error (a proxy's 502 while the server restarts),
//    and a small offline page when nothing is cached: never the browser's error page.
//  - static/<build id>/...: cache first (those URLs never change); the unversioned
//    static/... names and the manifest: the cached copy at once, refreshed behind.
//  - Everything else (the API, the live stream, the WebSocket) is not touched: the
//    page keeps its own last snapshots and a forecast of the next 24 h (offline.js).
//
// A new build is a new page naming a new build id: its files are fetched into the
// cache and those of older builds are dropped once the new ones are all there.

'use strict';

const CACHE = 'planettracker-v1';
// Every file of the page under static/ (index.html names them under the build id).
const ASSETS = [
    'css/style.css',
    'favicon.svg',
    'js/announce.js',
    'js/api.js',
    'js/app.js',
    'js/bodycard.js',
    'js/format.js',
    'js/location.js',
    'js/night.js',
    'js/offline.js',
    'js/sites.js',
    'js/skymap.js',
    'js/source.js',
    'js/table.js',
    'js/theme.js',
    'js/timectl.js',
    'js/tonight.js',
    'js/visible.js',
];
const BUILD_ID = /static\/([0-9a-f]{12})\//;

const scope = () => new URL(self.registration.scope);
const pageUrl = () => scope().href;

/** The build id a page names its files under, or null. */
function buildIdOf(html) {
    const m = BUILD_ID.exec(html);
    return m ? m[1] : null;
}

/** Fetch the files of build `id` into the cache, then drop every other build's. */
async function cacheBuild(cache, id) {
    const base = scope();
    const wanted = ASSETS.map((a) => new URL(`static/${id}/${a}`, base).href);
    const have = new Set((await cache.keys()).map((r) => r.url));
    const missing = wanted.filter((u) => !have.has(u));
    // All or nothing: a build is kept only once every file of it is cached.
    if (missing.length) await cache.addAll(missing);
    const prefix = new URL('static/', base).href;
    for (const url of have) {
        if (!url.startsWith(prefix)) continue;
        const m = /^([0-9a-f]{12})\//.exec(url.slice(prefix.length));
        if (m && m[1] !== id) await cache.delete(url);
    }
}

/** Keep a copy of the page (one, whatever its query) and the files it names. */
async function keepPage(response) {
    const html = await response.clone().text();
    const id = buildIdOf(html);
    const cache = await caches.open(CACHE);
    await cache.put(pageUrl(), response);
    if (id) await cacheBuild(cache, id);
}

self.addEventListener('install', (event) => {
    event.waitUntil((async () => {
        const resp = await fetch(pageUrl(), { cache: 'no-cache', credentials: 'same-origin' });
        if (!resp.ok) throw new Error(`the page answered HTTP ${resp.status}`);
        await keepPage(resp);
        const cache = await caches.open(CACHE);
        await cache.add(new URL('manifest.webmanifest', scope()).href).catch(() => {});
        await self.skipWaiting();
    })());
});

self.addEventListener('activate', (event) => {
    event.waitUntil((async () => {
        for (const name of await caches.keys()) {
            if (name !== CACHE && name.startsWith('planettracker-')) await caches.delete(name);
        }
        await self.clients.claim();
    })());
});

const OFFLINE_PAGE = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>PlanetTracker — offline</title></head>
<body><h1>PlanetTracker is offline</h1>
<p>The server cannot be reached and this browser has no copy of the page yet.
Try again when you are back online.</p></body></html>`;

async function page(event) {
    const cache = await caches.open(CACHE);
    try {
        const resp = await fetch(event.request);
        if (resp.ok && (resp.headers.get('Content-Type') ?? '').startsWith('text/html')) {
            event.waitUntil(keepPage(resp.clone()).catch(() => {}));
            return resp;
        }
        // A server error (a proxy's 502 while the server restarts): the copy, if any.
        if (resp.status >= 500) return (await cache.match(pageUrl())) ?? resp;
        return resp;
    } catch (err) {
        const copy = await cache.match(pageUrl());
        if (copy) return copy;
        return new Response(OFFLINE_PAGE, {
            status: 503,
            headers: { 'Content-Type': 'text/html; charset=utf-8',
                       'Content-Security-Policy': "default-src 'none'" },
        });
    }
}

async function cacheFirst(event) {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(event.request);
    if (hit) return hit;
    const resp = await fetch(event.request);
    if (resp.ok) event.waitUntil(cache.put(event.request, resp.clone()).catch(() => {}));
    return resp;
}

async function staleWhileRevalidate(event) {
    const cache = await caches.open(CACHE);
    const hit = await cache.match(event.request);
    const fresh = fetch(event.request).then((resp) => {
        if (resp.ok) return cache.put(event.request, resp.clone()).then(() => resp);
        return resp;
    });
    if (hit) {
        event.waitUntil(fresh.catch(() => {}));
        return hit;
    }
    return fresh;
}

self.addEventListener('fetch', (event) => {
    const req = event.request;
    if (req.method !== 'GET') return;
    const url = new URL(req.url);
    const base = scope();
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) return;
    const rest = url.pathname.slice(base.pathname.length);
    if (req.mode === 'navigate' && (rest === '' || rest === 'index.html')) {
        event.respondWith(page(event));
    } else if (/^static\/[0-9a-f]{12}\//.test(rest)) {
        event.respondWith(cacheFirst(event));
    } else if (rest.startsWith('static/') || rest === 'manifest.webmanifest') {
        event.respondWith(staleWhileRevalidate(event));
    }
    // Anything else goes to the network as if there were no service worker.
});
