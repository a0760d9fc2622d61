// SPDX-License-Identifier: AGPL-3.0-or-later
//
// table.js -- the table of bodies. Rows are keyed by body name and updated in
// place on every snapshot, so refreshing does not flicker or lose the scroll
// position. Fields the server does not send (yet) show as a dash; a body that does
// not cross the horizon today says so ("circumpolar", "never rises") in its rise
// and set cells. Each row keeps the raw numbers it shows in data-az and data-alt.
// The body's name is a button that opens its card.

import * as f from './format.js';

/** Cells after the row header, in the order of the <th> cells in index.html. */
const COLUMNS = [
    ['az', (b) => f.degrees(b.az)],
    ['alt', (b) => f.degrees(b.alt)],
    ['ra', (b) => f.rightAscension(b.ra)],
    ['dec', (b) => f.declination(b.dec)],
    ['distance', (b) => f.distance(b.distance_au)],
    ['magnitude', (b) => f.magnitude(b.magnitude)],
    ['phase', (b) => f.phase(b.phase)],
    ['elongation', (b) => (b.name === 'sun' ? f.DASH : f.degrees(b.elongation, 1))],
    ['constellation', (b) => f.text(b.constellation_name ?? b.constellation)],
    ['rise', (b) => eventText(b, 'rise')],
    ['transit', (b) => eventText(b, 'transit')],
    ['set', (b) => eventText(b, 'set')],
];

const EVENTS = new Set(['rise', 'transit', 'set']);

/** What the rise and set cells say when the body does not cross the horizon today. */
const STATUS = { circumpolar: 'circumpolar', never_rises: 'never rises' };

/** The text of a rise/transit/set cell: a local time, or the body's status, or DASH. */
function eventText(body, key) {
    if (typeof body[key] === 'string' && body[key] !== '') return f.clock(body[key]);
    if (key !== 'transit' && STATUS[body.status]) return STATUS[body.status];
    return f.DASH;
}

/** Whether a body is up: the server's verdict when it gives one, else altitude > 0. */
export function isUp(body) {
    return typeof body.above_horizon === 'boolean' ? body.above_horizon : body.alt > 0;
}

function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined) e.textContent = text;
    return e;
}

function createRow(name) {
    const row = el('tr');
    row.dataset.body = name;
    const head = el('th');
    head.scope = 'row';
    const dot = el('span', 'body-dot');
    dot.dataset.body = name;
    dot.setAttribute('aria-hidden', 'true');
    // The name is a button: the body's card (see bodycard.js).
    const open = el('button', 'body-open table-open');
    open.type = 'button';
    open.dataset.body = name;
    open.append(dot, el('span', 'body-name', f.title(name)), el('span', 'badge', 'up'),
                el('span', 'visually-hidden horizon-text'));
    open.querySelector('.badge').setAttribute('aria-hidden', 'true');
    head.append(open);
    row.append(head);
    for (const [key] of COLUMNS) {
        const td = el('td');
        td.dataset.col = key;
        if (key === 'az') td.append(el('span', 'value'), ' ', el('span', 'dir'));
        if (EVENTS.has(key)) td.append(el('span', 'value'), el('span', 'day'));
        row.append(td);
    }
    return row;
}

function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
}

function updateRow(row, body, now) {
    const up = isUp(body);
    row.classList.toggle('is-up', up);
    row.dataset.az = String(body.az);
    row.dataset.alt = String(body.alt);
    setText(row.querySelector('.horizon-text'), up ? ' (above the horizon)' : ' (below the horizon)');
    const cells = row.cells;
    COLUMNS.forEach(([key, format], i) => {
        const td = cells[i + 1];
        if (key === 'az') {
            setText(td.querySelector('.value'), format(body));
            setText(td.querySelector('.dir'), f.compass(body.az));
        } else if (EVENTS.has(key)) {
            const shown = format(body);
            setText(td.querySelector('.value'), shown);
            td.classList.toggle('is-status', shown === STATUS[body.status]);
            setText(td.querySelector('.day'), f.dayOffset(body[key], now));
            if (typeof body[key] === 'string') td.title = new Date(body[key]).toString();
            else td.removeAttribute('title');
        } else {
            setText(td, format(body));
            if (key === 'constellation') {
                // The full name shows; the IAU abbreviation ("Leo", "Psc") is its tooltip.
                if (typeof body.constellation === 'string' && body.constellation_name) {
                    td.title = body.constellation;
                } else {
                    td.removeAttribute('title');
                }
            }
        }
    });
}

/** Show `snapshot.bodies` in `tbody`, in the server's order. */
export function renderTable(tbody, snapshot) {
    const old = new Map([...tbody.rows].map((r) => [r.dataset.body, r]));
    snapshot.bodies.forEach((body, i) => {
        const row = old.get(body.name) ?? createRow(body.name);
        old.delete(body.name);
        if (tbody.rows[i] !== row) tbody.insertBefore(row, tbody.rows[i] ?? null);
        updateRow(row, body, snapshot.time);
    });
    for (const row of old.values()) row.remove();
}
