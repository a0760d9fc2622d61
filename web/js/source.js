// SPDX-License-Identifier: AGPL-3.0-or-later
//
// source.js -- where sky snapshots come from. The page talks to a "source" with
// start(), stop() and setLocation(loc), and receives snapshots through onData,
// failures through onError and the delivery mode through onMode.
//
//  - createPollingSource asks GET /planets every interval.
//  - createLiveSource is what the page uses: the Server-Sent Events stream
//    GET /planets/stream, falling back to polling when the stream fails (the
//    browser has no EventSource, the server refuses it, or it breaks and does not
//    recover within a few seconds), and trying the stream again later.
//
// Invariant of the live source: at most one EventSource is open, and polling runs
// only while no stream has delivered data since it was (re)opened, so a healthy
// stream is never doubled by GET /planets requests.

import { fetchPlanets, streamUrl } from './api.js';

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
        /** Whether it is delivering (between start and stop). */
        get running() {
            return running;
        },
    };
}

/** Timing of the live source; every value in milliseconds. */
export const LIVE_DEFAULTS = Object.freeze({
    pollMs: 2000,        // polling period while the stream is down
    intervalS: 1,        // the stream's push period (its `interval` parameter), seconds
    graceMs: 4000,       // an erroring stream may reconnect by itself for this long
    stallMs: 6000,       // an open stream that sends nothing for this long is dead
    retryMs: 5000,       // first retry of the stream after falling back to polling
    retryMaxMs: 30000,   // retries back off, doubling, up to this
});

/**
 * The page's source: GET /planets/stream, with polling as the fallback.
 *
 * onMode(mode, detail) reports how data arrives: 'connecting' (opening the stream,
 * nothing yet), 'live' (the stream delivers), 'reconnecting' (the stream broke and
 * the browser is reopening it), 'polling' (the fallback delivers), 'offline' (the
 * fallback fails too). onData(snapshot, loc) and onError(err, loc) are as for
 * createPollingSource; onError only reports polling failures (a stream carries no
 * HTTP status the page could show; polling then tells what the server says).
 * onSites({sites, limit}) gets the owner's saved sites, pushed by the stream when it
 * opens (if the session has an owner) and after every change, from any tab or device.
 * onAnnouncement({text, id, expires_unix, expires}) gets an operator's announcement,
 * sent when the stream opens (while one is current) and when it is made.
 */
export function createLiveSource({ onData, onError, onMode = () => {}, onSites = () => {},
                                   onAnnouncement = () => {}, options = {},
                                   EventSourceImpl = globalThis.EventSource }) {
    const opt = { ...LIVE_DEFAULTS, ...options };
    let location = null;
    let running = false;
    let es = null;            // the open EventSource, if any
    let healthy = false;      // `es` has delivered data since it was opened
    let graceTimer = null;    // running while `es` is erroring and may still recover
    let stallTimer = null;    // restarted by every event of `es`
    let retryTimer = null;    // the next attempt at the stream while polling
    let retryMs = opt.retryMs;
    let mode = null;

    const polling = createPollingSource({
        intervalMs: opt.pollMs,
        onData(snapshot, loc) {
            setMode('polling', 'The live stream is unavailable: asking every ' +
                    `${opt.pollMs / 1000} s`);
            onData(snapshot, loc);
        },
        onError(err, loc) {
            if (err?.name !== 'ApiError') setMode('offline', `${err.message} \u2014 retrying`);
            onError(err, loc);
        },
    });

    function setMode(m, detail = '') {
        if (m === mode) return;
        mode = m;
        onMode(m, detail);
    }

    function clearTimers() {
        clearTimeout(graceTimer);
        clearTimeout(stallTimer);
        graceTimer = stallTimer = null;
    }

    function closeStream() {
        clearTimers();
        if (es) {
            es.onopen = es.onerror = null;
            es.close();
            es = null;
        }
        healthy = false;
    }

    function armStall() {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(() => fallBack('the live stream stopped sending'), opt.stallMs);
    }

    /** Give up on the stream for now: poll, and try the stream again later. */
    function fallBack(why) {
        closeStream();
        if (!running) return;
        if (!polling.running) {
            polling.setLocation(location);
            polling.start();
        }
        if (mode !== 'offline') setMode('polling', `The live stream is unavailable (${why})`);
        if (EventSourceImpl) {
            clearTimeout(retryTimer);
            retryTimer = setTimeout(() => {
                retryTimer = null;
                openStream();
            }, retryMs);
            retryMs = Math.min(retryMs * 2, opt.retryMaxMs);
        }
    }

    function onMessage(ev) {
        let snapshot;
        try {
            snapshot = JSON.parse(ev.data);
        } catch {
            return; // a garbled event: the next one will do
        }
        if (!snapshot || !Array.isArray(snapshot.bodies)) return;
        clearTimeout(graceTimer);
        graceTimer = null;
        armStall();
        if (!healthy) {
            healthy = true;
            retryMs = opt.retryMs;
            polling.stop();
            clearTimeout(retryTimer);
            retryTimer = null;
        }
        setMode('live', `Pushed by the server every ${opt.intervalS} s`);
        onData(snapshot, location);
    }

    function openStream() {
        closeStream();
        if (!running) return;
        if (!EventSourceImpl) {
            fallBack('this browser has no EventSource');
            return;
        }
        if (!polling.running) setMode('connecting', 'Opening the live stream');
        const mine = new EventSourceImpl(streamUrl(location, opt.intervalS));
        es = mine;
        mine.addEventListener('positions', onMessage);
        // The owner's saved sites: when the stream opens and after every change.
        mine.addEventListener('sites', (ev) => {
            if (es !== mine) return;
            try {
                onSites(JSON.parse(ev.data));
            } catch {
                // a garbled list: the next change sends the whole list again
            }
        });
        mine.addEventListener('announcement', (ev) => {
            if (es !== mine) return;
            try {
                onAnnouncement(JSON.parse(ev.data));
            } catch {
                // a garbled announcement: nothing to show
            }
        });
        mine.addEventListener('bye', () => {
            if (es === mine) fallBack('the server is restarting');
        });
        mine.onerror = () => {
            if (es !== mine) return;
            if (mine.readyState === EventSourceImpl.CLOSED) {
                // Refused (an HTTP error or not an event stream): no recovery to wait for.
                fallBack('the server refused it');
                return;
            }
            if (!healthy) {
                // It never worked: show data by polling now rather than wait for retries.
                fallBack('it could not connect');
                return;
            }
            // A working stream broke; the browser reopens it by itself after the server's
            // `retry` delay. Wait a little before falling back.
            setMode('reconnecting', 'The live stream broke: reconnecting');
            clearTimeout(stallTimer);
            stallTimer = null;
            graceTimer ??= setTimeout(() => fallBack('it does not reconnect'), opt.graceMs);
        };
        // Also bounds the wait for the first event of a stream that opens but stays silent.
        armStall();
    }

    return {
        /** Begin delivering snapshots: open the stream now (or poll without EventSource). */
        start() {
            if (running) return;
            running = true;
            retryMs = opt.retryMs;
            openStream();
        },
        /** Stop delivering: the stream is closed, no request in flight or scheduled. */
        stop() {
            running = false;
            closeStream();
            polling.stop();
            clearTimeout(retryTimer);
            retryTimer = null;
            mode = null;
        },
        /**
         * Follow a new location (or null for the server's): reopen the stream for it
         * at once; while polling, also ask GET /planets at once so the page follows
         * without waiting for the stream.
         */
        setLocation(loc) {
            location = loc;
            if (!running) return;
            if (polling.running) polling.setLocation(loc);
            clearTimeout(retryTimer);
            retryTimer = null;
            openStream();
        },
        /** Open the stream again (the session got an owner: its sites come with it). */
        reopen() {
            if (running && !polling.running) openStream();
        },
        /** 'connecting', 'live', 'reconnecting', 'polling', 'offline' or null when stopped. */
        get mode() {
            return mode;
        },
    };
}
