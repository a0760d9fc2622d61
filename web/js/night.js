// SPDX-License-Identifier: AGPL-3.0-or-later
//
// night.js -- night mode: a red-on-black palette that preserves dark adaptation
// (style.css, under html.night). The choice is remembered in localStorage under
// "planettracker.night" ("1" on, "0" off); theme.js applies it before the first
// paint, this module keeps the toggle button and the browser's theme colour in step.
//
// Optionally ("planettracker.nightAuto" = "1", the "at dusk" box) night mode follows
// the Sun of the live sky: on when it is 6° below the horizon (the end of civil
// dusk), off again when it climbs back above that at dawn. It acts when the Sun
// crosses that line (and once when the box is ticked or the page opens), so the
// button still overrides it until the next dusk or dawn.

const KEY = 'planettracker.night';
const AUTO_KEY = 'planettracker.nightAuto';
const THEME = { day: '#070b1a', night: '#000000' };
export const DUSK_ALT = -6;

function store(key, on) {
    try {
        localStorage.setItem(key, on ? '1' : '0');
    } catch {
        // Storage blocked (private mode, policy): the choice lasts for this page only.
    }
}

function stored(key) {
    try {
        return localStorage.getItem(key) === '1';
    } catch {
        return false;
    }
}

/** Whether night mode is on. */
export function isNight() {
    return document.documentElement.classList.contains('night');
}

/** Turn night mode on or off, remember the choice and update `button` (aria-pressed). */
export function setNight(on, button) {
    document.documentElement.classList.toggle('night', on);
    document.querySelector('meta[name="theme-color"]')?.setAttribute('content', on ? THEME.night : THEME.day);
    button?.setAttribute('aria-pressed', String(on));
    store(KEY, on);
}

/**
 * Make `button` toggle night mode (it starts in the state theme.js applied) and
 * `auto` (a checkbox, optional) switch it at dusk and dawn. Returns {sun(alt)}: give
 * it the Sun's altitude of every live snapshot.
 */
export function initNightToggle(button, auto = null) {
    button.setAttribute('aria-pressed', String(isNight()));
    button.addEventListener('click', () => setNight(!isNight(), button));
    let dark = null; // the last side of the dusk line the Sun was seen on
    let lastAlt = null;
    const follow = (alt) => {
        if (!auto?.checked || typeof alt !== 'number' || !Number.isFinite(alt)) return;
        const now = alt < DUSK_ALT;
        if (now !== dark) {
            dark = now;
            if (isNight() !== now) setNight(now, button);
        }
    };
    if (auto) {
        auto.checked = stored(AUTO_KEY);
        auto.addEventListener('change', () => {
            store(AUTO_KEY, auto.checked);
            dark = null; // ticked: follow the Sun at once
            follow(lastAlt);
        });
    }
    return {
        /** The Sun's altitude (degrees) of the live sky. */
        sun(alt) {
            lastAlt = alt;
            follow(alt);
        },
    };
}
