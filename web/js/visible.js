// SPDX-License-Identifier: AGPL-3.0-or-later
//
// visible.js -- "What you can see now", in words: the state of the sky (daylight,
// the twilights, dark), then one line per body that can actually be observed, best
// first ("Saturn — naked eye, SSW, 39° up, sets 02:43"), then why the others cannot
// ("Mercury — 9° from the Sun, lost in its glare"). The judgement is the server's
// (every body's `visibility`); this file only puts it into sentences.

import * as f from './format.js';

const SEEN = { naked_eye: 'naked eye', binoculars: 'binoculars', telescope: 'telescope' };
const RANK = { naked_eye: 0, binoculars: 1, telescope: 2 };

/** The sky's state from the Sun's altitude (degrees). */
export function skyState(sunAlt) {
    if (!Number.isFinite(sunAlt)) return '';
    const up = Math.round(Math.abs(sunAlt));
    if (sunAlt > 0) return `Daylight: the Sun is ${up}\u00b0 up.`;
    if (sunAlt > -6) return `Civil twilight: the Sun is ${up}\u00b0 below the horizon.`;
    if (sunAlt > -12) return `Nautical twilight: the Sun is ${up}\u00b0 below the horizon.`;
    if (sunAlt > -18) return `Astronomical twilight: the Sun is ${up}\u00b0 below the horizon.`;
    return `Dark sky: the Sun is ${up}\u00b0 below the horizon.`;
}

function when(b, key, now) {
    if (typeof b[key] !== 'string') return '';
    return `${f.clock(b[key])}${f.dayOffset(b[key], now) ? ` (${f.dayOffset(b[key], now)})` : ''}`;
}

/** The line of a body that can be seen. */
export function seenLine(b, now) {
    const parts = [SEEN[b.visibility.verdict], f.compass(b.az), `${Math.round(b.alt)}\u00b0 up`];
    const sets = when(b, 'set', now);
    if (sets) parts.push(`sets ${sets}`);
    return parts.join(', ');
}

/** Why a body cannot be seen now (with its next rise when it is down). */
export function notSeenLine(b, now) {
    const reason = b.visibility.reason;
    if (b.visibility.verdict !== 'below_horizon') return reason;
    const rises = when(b, 'rise', now);
    return rises ? `${reason}, rises ${rises}` : reason;
}

function item(b, text, kind) {
    const li = document.createElement('li');
    li.dataset.body = b.name;
    li.dataset.verdict = b.visibility.verdict;
    li.className = `visible-item ${kind}`;
    const dot = document.createElement('span');
    dot.className = 'body-dot';
    dot.dataset.body = b.name;
    dot.setAttribute('aria-hidden', 'true');
    const name = document.createElement('strong');
    name.textContent = f.title(b.name);
    li.append(dot, name, ` \u2014 ${text}`);
    return li;
}

/**
 * Render the snapshot into the state line, the list of what can be seen and the
 * list of the others. Returns how many bodies can be seen. The Sun is the sky's
 * state, not a target: it is in neither list.
 */
export function renderVisible(ui, snapshot) {
    const now = snapshot.time;
    const bodies = snapshot.bodies.filter((b) => b.name !== 'sun' && b.visibility);
    const sun = snapshot.bodies.find((b) => b.name === 'sun');
    const seen = bodies.filter((b) => b.visibility.verdict in SEEN)
        .sort((a, b) => (RANK[a.visibility.verdict] - RANK[b.visibility.verdict]) ||
                        ((a.magnitude ?? 99) - (b.magnitude ?? 99)));
    const others = bodies.filter((b) => !(b.visibility.verdict in SEEN));
    const state = skyState(sun?.alt);
    if (ui.state.textContent !== state) ui.state.textContent = state;
    ui.seen.replaceChildren(...seen.map((b) => item(b, seenLine(b, now), 'is-seen')));
    ui.others.replaceChildren(...others.map((b) => item(b, notSeenLine(b, now), 'is-not-seen')));
    ui.none.hidden = seen.length > 0;
    return seen.length;
}
