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

/** The entry of a body: a button (its card) with the dot, the name and the line. */
function item(name) {
    const li = document.createElement('li');
    li.dataset.body = name;
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'body-open visible-open';
    open.dataset.body = name;
    const dot = document.createElement('span');
    dot.className = 'body-dot';
    dot.dataset.body = name;
    dot.setAttribute('aria-hidden', 'true');
    const strong = document.createElement('strong');
    strong.textContent = f.title(name);
    const line = document.createElement('span');
    line.className = 'visible-line';
    open.append(dot, strong, line);
    li.append(open);
    return li;
}

/**
 * Show `entries` ([{b, text}]) in `list`, updating the entries in place (keyed by
 * body) so a focused entry keeps the focus while the sky moves.
 */
function fill(list, entries, kind, pool) {
    entries.forEach(({ b, text }, i) => {
        const li = pool.get(b.name) ?? item(b.name);
        pool.delete(b.name);
        li.dataset.verdict = b.visibility.verdict;
        li.className = `visible-item ${kind}`;
        const line = li.querySelector('.visible-line');
        const said = ` — ${text}`;
        if (line.textContent !== said) line.textContent = said;
        if (list.children[i] !== li) {
            const focused = li.contains(document.activeElement) ? document.activeElement : null;
            list.insertBefore(li, list.children[i] ?? null);
            if (focused && document.activeElement !== focused) focused.focus({ preventScroll: true });
        }
    });
    while (list.children.length > entries.length) list.lastElementChild.remove();
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
    // One pool for both lists: a body moving from one to the other keeps its entry.
    const pool = new Map([...ui.seen.children, ...ui.others.children].map((li) => [li.dataset.body, li]));
    fill(ui.seen, seen.map((b) => ({ b, text: seenLine(b, now) })), 'is-seen', pool);
    fill(ui.others, others.map((b) => ({ b, text: notSeenLine(b, now) })), 'is-not-seen', pool);
    for (const li of pool.values()) li.remove();
    ui.none.hidden = seen.length > 0;
    return seen.length;
}
