// SPDX-License-Identifier: AGPL-3.0-or-later
//
// source.js -- where sky snapshots come from. The page talks to a "source" with
// start(), stop() and setLocation(loc), and receives snapshots through onData and
// failures through onError. createPollingSource asks GET /planets every interval;
// a Server-Sent Events source (GET /planets/stream) can later implement the same
// interface and replace it in app.js without touching the rest of the page.

import { fetchPlanets } from './api.js';

/**
 * Poll GET /planets every `intervalMs` for the current location (null: the server's
 * choice). One request per refresh, never two in flight: a new location aborts the
 * pending request and asks at once. Stale answers (for an older location) are dropped.
 */
export function createPollingSource({ intervalMs = 2000, onData, onError, fetchSnapshot = fetchPlanets }) {
    let location = null;
    let running = false;
    let timer = null;
    let controller = null;
    let seq = 0;

    async function tick() {
        clearTimeout(timer);
        timer = null;
        controller?.abort();
        controller = new AbortController();
        const mine = ++seq;
        const started = performance.now();
        try {
            const snapshot = await fetchSnapshot(location, controller.signal);
            if (mine === seq) onData(snapshot, location);
        } catch (err) {
            if (mine === seq && err.name !== 'AbortError') onError(err, location);
        } finally {
            if (mine === seq && running) {
                const wait = Math.max(0, intervalMs - (performance.now() - started));
                timer = setTimeout(tick, wait);
            }
        }
    }

    return {
        /** Begin delivering snapshots, the first one now. */
        start() {
            if (running) return;
            running = true;
            tick();
        },
        /** Stop delivering: no request in flight or scheduled afterwards. */
        stop() {
            running = false;
            seq++;
            clearTimeout(timer);
            timer = null;
            controller?.abort();
        },
        /** Follow a new location (or null for the server's), refreshing at once if running. */
        setLocation(loc) {
            location = loc;
            if (running) tick();
        },
    };
}
