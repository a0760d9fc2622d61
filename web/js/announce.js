// SPDX-License-Identifier: AGPL-3.0-or-later
//
// announce.js -- an operator's announcement ("Clouds clearing after 22:00, club
// dome open"), pushed by the live stream as `event: announcement` with JSON
// {text, id, expires_unix, expires}: a banner under the header while it has not
// expired ("until 23:00"), which the visitor may dismiss (remembered by its id, so
// the stream sending it again does not bring it back). The latest announcement is
// also kept in localStorage, so a page opened offline still shows it until it
// expires. The region is a live region (role=status) that is always in the page;
// the banner is put in it and taken out.

import * as f from './format.js';

const KEPT = 'planettracker.announcement';
const DISMISSED = 'planettracker.announcement.dismissed';

function read(key) {
    try {
        return localStorage.getItem(key);
    } catch {
        return null;
    }
}

function write(key, value) {
    try {
        localStorage.setItem(key, value);
    } catch {
        // storage blocked: the banner lasts for this page only
    }
}

/** When announcement `a` expires (ms), or NaN. */
function expiry(a) {
    if (typeof a?.expires_unix === 'number') return a.expires_unix * 1000;
    return Date.parse(a?.expires);
}

/** "until 23:00" (on the display zone's clock), with the date when not today. */
export function untilText(a, now = Date.now()) {
    const t = expiry(a);
    if (!Number.isFinite(t)) return '';
    const iso = new Date(t).toISOString();
    const day = f.dayMonth(iso) === f.dayMonth(now) ? '' : ` on ${f.dayMonth(iso)}`;
    return `until ${f.clock(iso)}${day}`;
}

/**
 * The banner in `region` (the live region). show(a) with every announcement the
 * stream sends; onDismiss() after the visitor closed one (to move the focus).
 */
export function createAnnouncements({ region, onDismiss = () => {} }) {
    let current = null;
    let timer = null;
    let box = null;

    function hide() {
        clearTimeout(timer);
        timer = null;
        box?.remove();
        box = null;
        current = null;
    }

    function render(a) {
        if (!box) {
            box = document.createElement('div');
            box.className = 'announcement';
            const icon = document.createElement('span');
            icon.className = 'announcement-icon';
            icon.setAttribute('aria-hidden', 'true');
            icon.textContent = '\u2139';
            const body = document.createElement('p');
            body.className = 'announcement-body';
            const label = document.createElement('strong');
            label.className = 'announcement-label';
            label.textContent = 'Announcement: ';
            const text = document.createElement('span');
            text.className = 'announcement-text';
            const until = document.createElement('span');
            until.className = 'announcement-until';
            body.append(label, text, ' ', until);
            const close = document.createElement('button');
            close.type = 'button';
            close.className = 'button announcement-close';
            close.setAttribute('aria-label', 'Dismiss the announcement');
            close.innerHTML = '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>';
            close.addEventListener('click', () => {
                if (current) write(DISMISSED, current.id);
                hide();
                onDismiss();
            });
            box.append(icon, body, close);
            region.append(box);
        }
        box.dataset.id = a.id;
        box.querySelector('.announcement-text').textContent = a.text;
        box.querySelector('.announcement-until').textContent = `(${untilText(a)})`;
    }

    /** Show announcement `a` (from the stream or kept), unless expired or dismissed. */
    function show(a, keep = true) {
        if (!a || typeof a.text !== 'string' || a.text === '') return;
        const ends = expiry(a);
        const id = String(a.id ?? `${a.text}|${a.expires}`);
        const ann = { ...a, id };
        if (!(ends > Date.now()) || read(DISMISSED) === id) {
            if (current?.id === id) hide();
            return;
        }
        if (keep) write(KEPT, JSON.stringify(ann));
        clearTimeout(timer);
        current = ann;
        render(ann);
        // Gone when it expires (a timer's delay is at most about 24.8 days).
        timer = setTimeout(() => {
            if (current?.id === id) hide();
        }, Math.min(ends - Date.now(), 2 ** 31 - 1));
    }

    // The one kept from an earlier visit, if still current.
    try {
        show(JSON.parse(read(KEPT) ?? 'null'), false);
    } catch {
        // a garbled copy: the stream sends the current one anyway
    }

    return {
        show,
        /** The banner's "until" in a new display zone. */
        refresh() {
            if (current) render(current);
        },
        get current() {
            return current;
        },
    };
}
