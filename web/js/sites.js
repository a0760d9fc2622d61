// SPDX-License-Identifier: AGPL-3.0-or-later
//
// sites.js -- the saved-sites menu: save the location shown under a name, choose a
// saved site (the sky then follows the site, weather and time zone included), rename
// it, delete it. The list comes from GET /api/sites when the page opens and, while
// the live stream is open, from the stream itself after every change made anywhere
// (another tab, a script with the owner's token), so tabs stay in step.
//
// The first save gives this browser an owner, which the streams of tabs opened before
// it do not carry: the tab that saved tells the others over a BroadcastChannel, and
// they reload the list and reopen their stream.
//
// Every rename and delete carries the version the menu shows (If-Match): a site
// changed elsewhere meanwhile is refused (412), never silently overwritten; the menu
// then says so and reloads the list.

import { ApiError, createSite, deleteSite, listSites, patchSite } from './api.js';

const NAME_MAX = 64;

/** What the store's refusals mean to the person using the menu. */
function explain(err, name) {
    if (!(err instanceof ApiError)) return `The server could not be reached (${err.message}).`;
    switch (err.code) {
    case 'name_taken': return `You already have a site called \u201c${name}\u201d.`;
    case 'limit_reached': return `${err.message}: delete one first.`;
    case 'precondition_failed':
        return 'This site was changed in another tab or device: here is the list as it is now.';
    case 'not_found': return 'This site was deleted in another tab or device.';
    case 'invalid_body':
        return err.fields.map((f) => `${f.field}: ${f.message}`).join('; ') || err.message;
    case 'store_unavailable': return 'Saved sites are unavailable right now; try again shortly.';
    default: return err.message;
    }
}

const samePlace = (a, b) => a.lat === b.lat && a.lon === b.lon && a.elevation === b.elevation &&
    a.pressure === b.pressure && a.temperature === b.temperature && a.timezone === b.timezone;

/**
 * The menu over its elements (ui: select, name, save, rename, remove, message).
 * currentLocation() gives the location shown now ({lat, lon, elevation, zone?}: zone
 * when it is the browser's own place) or null. onChoose(site) is called when the
 * chosen site changes place (null: no site; removed: it was deleted). onNewOwner()
 * when the first save gave this browser an owner (the stream must reopen to carry
 * the sites).
 */
export function createSitesMenu({ ui, currentLocation, onChoose, onNewOwner = () => {} }) {
    let sites = [];
    let limit = null;
    let chosen = null;      // the chosen site as last known, or null
    let pushed = false;     // the stream has sent a list (so it carries this owner's sites)
    let busy = false;
    const channel = globalThis.BroadcastChannel ? new BroadcastChannel('planettracker-sites')
        : null;

    function say(text, kind = 'info') {
        ui.message.textContent = text;
        ui.message.dataset.kind = kind;
    }

    function render() {
        const keep = chosen?.id ?? '';
        const options = [new Option(sites.length ? 'Not a saved site' : 'No saved sites yet', '')];
        for (const s of sites) options.push(new Option(s.name, String(s.id)));
        ui.select.replaceChildren(...options);
        ui.select.value = String(keep);
        ui.select.disabled = sites.length === 0;
        ui.rename.disabled = ui.remove.disabled = busy || chosen === null;
        ui.save.disabled = busy;
        ui.select.dataset.count = String(sites.length);
        if (limit !== null) ui.select.title = `${sites.length} of at most ${limit} sites`;
    }

    /** Take a new list (from the server or the stream) and follow the chosen site. */
    function update(doc) {
        sites = Array.isArray(doc?.sites) ? doc.sites : [];
        limit = doc?.limit ?? limit;
        if (chosen !== null) {
            const now = sites.find((s) => s.id === chosen.id) ?? null;
            const before = chosen;
            chosen = now;
            if (now === null) {
                say(`\u201c${before.name}\u201d was deleted; its coordinates stay shown.`);
                onChoose(null, { removed: before });
            } else if (!samePlace(now, before)) {
                onChoose(now, {});
            }
        }
        render();
    }

    async function reload() {
        try {
            update(await listSites());
        } catch (err) {
            say(explain(err), 'error');
        }
    }

    async function act(work) {
        if (busy) return;
        busy = true;
        render();
        try {
            if (await work()) channel?.postMessage('changed');
        } finally {
            busy = false;
            render();
        }
    }

    function typedName() {
        const name = ui.name.value.trim();
        if (name === '' || [...name].length > NAME_MAX) {
            say(`Give the site a name of 1 to ${NAME_MAX} characters.`, 'error');
            ui.name.focus();
            return null;
        }
        return name;
    }

    function save() {
        const name = typedName();
        const loc = currentLocation();
        if (name === null) return;
        if (loc === null) {
            say('There is no location to save yet.', 'error');
            return;
        }
        act(async () => {
            const body = { name, lat: loc.lat, lon: loc.lon, elevation: loc.elevation ?? 0 };
            if (loc.zone) body.timezone = loc.zone;
            try {
                let site;
                try {
                    site = await createSite(body);
                } catch (err) {
                    // A zone the server does not know: the site is still worth saving.
                    if (!(err instanceof ApiError) || !body.timezone ||
                        !err.fields.some((f) => f.field === 'timezone')) throw err;
                    delete body.timezone;
                    site = await createSite(body);
                }
                sites = [...sites.filter((s) => s.id !== site.id), site]
                    .sort((a, b) => a.name.localeCompare(b.name));
                chosen = site;
                ui.name.value = '';
                say(`Saved \u201c${site.name}\u201d.`);
                onChoose(site, {});
                if (!pushed) onNewOwner();
                return true;
            } catch (err) {
                say(explain(err, name), 'error');
                return false;
            }
        });
    }

    function rename() {
        const name = typedName();
        if (name === null || chosen === null) return;
        const site = chosen;
        act(async () => {
            try {
                chosen = await patchSite(site.id, site.version, { name });
                sites = sites.map((s) => (s.id === chosen.id ? chosen : s));
                ui.name.value = '';
                say(`Renamed to \u201c${chosen.name}\u201d.`);
                return true;
            } catch (err) {
                say(explain(err, name), 'error');
                if (err instanceof ApiError && (err.status === 412 || err.status === 404)) await reload();
                return false;
            }
        });
    }

    function remove() {
        if (chosen === null) return;
        const site = chosen;
        act(async () => {
            try {
                await deleteSite(site.id, site.version);
                sites = sites.filter((s) => s.id !== site.id);
                chosen = null;
                say(`Deleted \u201c${site.name}\u201d; its coordinates stay shown.`);
                onChoose(null, { removed: site });
                return true;
            } catch (err) {
                say(explain(err), 'error');
                if (err instanceof ApiError && (err.status === 412 || err.status === 404)) await reload();
                return false;
            }
        });
    }

    function choose() {
        const id = Number(ui.select.value);
        chosen = sites.find((s) => s.id === id) ?? null;
        say(chosen ? `Showing the sky of \u201c${chosen.name}\u201d.` : '');
        onChoose(chosen, {});
        render();
    }

    ui.select.addEventListener('change', choose);
    // Another tab changed the sites: its stream push reaches this tab too, unless this
    // tab's stream was opened before the browser had an owner.
    channel?.addEventListener('message', () => {
        if (pushed) return;
        reload();
        onNewOwner();
    });
    ui.save.addEventListener('click', save);
    ui.rename.addEventListener('click', rename);
    ui.remove.addEventListener('click', remove);
    ui.name.addEventListener('keydown', (ev) => {
        if (ev.key !== 'Enter') return;
        ev.preventDefault();
        (chosen ? rename : save)();
    });
    render();

    return {
        /** Ask the server for the list (on load). */
        load: reload,
        /** A list pushed by the live stream. */
        pushed(doc) {
            pushed = true;
            update(doc);
        },
        /**
         * Choose site `id` as if picked in the menu (a link to it was opened). False
         * when the list has no such site (deleted, or another owner's).
         */
        select(id) {
            const site = sites.find((s) => String(s.id) === String(id)) ?? null;
            if (site === null) return false;
            chosen = site;
            say(`Showing the sky of \u201c${site.name}\u201d.`);
            onChoose(site, {});
            render();
            return true;
        },
        /** The location no longer follows a site (typed coordinates, geolocation). */
        deselect() {
            if (chosen === null) return;
            chosen = null;
            say('');
            render();
        },
        /** The chosen site, or null. */
        get chosen() {
            return chosen;
        },
    };
}
