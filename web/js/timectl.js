// SPDX-License-Identifier: AGPL-3.0-or-later
//
// timectl.js -- the time the page shows: now (live), or an instant chosen with
// "Tonight 22:00", a slider over the next 24 hours in 10-minute steps, or a date and
// time picker; "Now" and "Back to now" return to the live sky. Times are read and
// written on the display zone's clock (a chosen site's zone, else the browser's).
// The controls only say what was chosen (onChange(ms) or onChange(null) for now);
// the page decides what that means and tells them back with show(time).

import * as f from './format.js';

const MINUTE = 60000;
const STEP_MIN = 10;
const HOUR = 60 * MINUTE;

/** The slider's origin: the instant `nowMs` down to its 10 minutes. */
export function sliderBase(nowMs = Date.now()) {
    return Math.floor(nowMs / (STEP_MIN * MINUTE)) * STEP_MIN * MINUTE;
}

/**
 * `hour`:00 of this evening on the display zone's clock: today's, or yesterday's in
 * the small hours (before 06:00, "tonight" is still the night that began yesterday).
 */
export function tonightAt(hour, nowMs = Date.now()) {
    const w = f.wallParts(nowMs - 6 * HOUR);
    return f.zonedTime(w.y, w.mo, w.d, hour, 0);
}

/** "22:00 on 15 Dec" for an instant (ms), on the display zone's clock. */
export function instantText(t) {
    const iso = new Date(t).toISOString();
    return `${f.clock(iso)} on ${f.dayMonth(iso)}`;
}

/** "+3 h 10 min" from the slider's origin. */
function ahead(minutes) {
    const sign = minutes < 0 ? '\u2212' : '+';
    const h = Math.floor(Math.abs(minutes) / 60);
    const m = Math.abs(minutes) % 60;
    if (!h) return `${sign}${m} min`;
    return `${sign}${h} h${m ? ` ${m} min` : ''}`;
}

/**
 * The controls over their elements (ui: now, tonight, slider, sliderOut, picker, zone,
 * back). onChange(ms | null) when the person chooses a time (null: now).
 */
export function createTimeControls({ ui, onChange }) {
    let time = null;
    const max = Number(ui.slider.max) || 24 * 60;

    function setText(node, text) {
        if (node && node.textContent !== text) node.textContent = text;
    }

    function show(t) {
        time = t;
        const atNow = t === null;
        ui.now.setAttribute('aria-pressed', String(atNow));
        ui.back.hidden = atNow;
        const base = sliderBase();
        const minutes = atNow ? 0 : Math.round((t - base) / (STEP_MIN * MINUTE)) * STEP_MIN;
        const inside = !atNow && minutes >= 0 && minutes <= max;
        const value = String(Math.max(0, Math.min(max, minutes)));
        if (ui.slider.value !== value) ui.slider.value = value;
        ui.slider.dataset.time = atNow ? '' : new Date(t).toISOString();
        ui.slider.dataset.outside = String(!atNow && !inside);
        const words = atNow ? 'now (live)'
            : `${instantText(t)}${inside ? ` (${ahead(minutes)})` : ''}`;
        ui.slider.setAttribute('aria-valuetext', words);
        setText(ui.sliderOut, words);
        if (document.activeElement !== ui.picker) {
            const v = f.localInputValue(atNow ? Date.now() : t);
            if (ui.picker.value !== v) ui.picker.value = v;
        }
        setText(ui.zone, `on the clock of ${f.displayZoneName()}`);
    }

    ui.now.addEventListener('click', () => onChange(null));
    ui.back.addEventListener('click', () => {
        onChange(null);
        ui.now.focus({ preventScroll: true }); // the button that had the focus is gone
    });
    ui.tonight.addEventListener('click', () => onChange(tonightAt(22)));
    ui.slider.addEventListener('input', () => {
        const minutes = Number(ui.slider.value);
        onChange(minutes > 0 ? sliderBase() + minutes * MINUTE : null);
    });
    ui.picker.addEventListener('change', () => {
        const t = f.parseLocalInput(ui.picker.value);
        if (Number.isFinite(t)) onChange(t);
    });
    // The slider's origin moves with the clock, and the picker shows the time now.
    setInterval(() => show(time), 30000);
    show(null);

    return {
        /** Show that the page is at `t` (ms) or at now (null). */
        show,
    };
}
