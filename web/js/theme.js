// SPDX-License-Identifier: AGPL-3.0-or-later
//
// theme.js -- a classic (non-module) script run from <head> before the first paint:
// when the visitor chose night mode on an earlier visit (localStorage key
// "planettracker.night" = "1"), put the class "night" on <html> at once, so a
// dark-adapted eye never sees a flash of the normal palette. The toggle itself is
// in night.js; both use the same key.
(function () {
    'use strict';
    // The page's cards are filled by app.js (a module, run after the first paint could
    // happen): until it has drawn the first sky they stay invisible, so nothing on the
    // screen moves when they fill (style.css shows them after 3 s in any case).
    document.documentElement.classList.add('booting');
    var on = false;
    try {
        on = window.localStorage.getItem('planettracker.night') === '1';
    } catch (e) {
        on = false; // storage blocked: the day palette
    }
    if (on) {
        document.documentElement.classList.add('night');
        var meta = document.querySelector('meta[name="theme-color"]');
        if (meta) meta.setAttribute('content', '#000000');
    }
})();
