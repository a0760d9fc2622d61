// SPDX-License-Identifier: AGPL-3.0-or-later
//
// night.js -- night mode: a red-on-black palette that preserves dark adaptation
// (style.css, under html.night). The choice is remembered in localStorage under
// "planettracker.night" ("1" on, "0" off); theme.js applies it before the first
// paint, this module keeps the toggle button and the browser's theme colour in step.

const KEY = 'planettracker.night';
const THEME = { day: '#070b1a', night: '#000000' };

function store(on) {
    try {
        localStorage.setItem(KEY, on ? '1' : '0');
    } catch {
        // Storage blocked (private mode, policy): night mode lasts for this page only.
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
    store(on);
}

/** Make `button` toggle night mode; it starts in the state theme.js applied. */
export function initNightToggle(button) {
    button.setAttribute('aria-pressed', String(isNight()));
    button.addEventListener('click', () => setNight(!isNight(), button));
}
