// SPDX-License-Identifier: AGPL-3.0-or-later
//
// api.js -- the PlanetTracker HTTP API as seen from the page: fetch every body's
// position for a location, the address of the live stream, save a location in the
// session. URLs are relative to the page, so the service also works when mounted
// under a path prefix.

/** An answer the server refused: HTTP status plus its JSON {error, message, parameter}. */
export class ApiError extends Error {
    constructor(status, body) {
        super(body?.message || `The server answered HTTP ${status}.`);
        this.name = 'ApiError';
        this.status = status;
        this.code = body?.error ?? null;
        this.parameter = body?.parameter ?? null;
        this.fields = body?.fields ?? [];
    }
}

function url(path, params) {
    const u = new URL(path, document.baseURI);
    if (params) u.search = new URLSearchParams(params).toString();
    return u;
}

/** The observer parameters of a location: a saved site by its id, else its coordinates. */
function locationParams(loc) {
    if (loc.site) return { site: String(loc.site) };
    return coordinateParams(loc);
}

function coordinateParams(loc) {
    return { lat: String(loc.lat), lon: String(loc.lon), elevation: String(loc.elevation ?? 0) };
}

async function readJson(resp) {
    let body = null;
    try {
        body = await resp.json();
    } catch {
        // An empty or non-JSON body: the status alone says what happened.
    }
    if (!resp.ok) throw new ApiError(resp.status, body);
    if (resp.status === 204) return null;
    if (body === null) throw new ApiError(resp.status, { message: 'The server sent no data.' });
    return body;
}

/** The query of a request about `loc` (null: the session's location) at `time` (ISO or null). */
function skyParams(loc, time) {
    const params = loc ? locationParams(loc) : {};
    if (time) params.time = time;
    return params;
}

/**
 * One sky snapshot for `loc` ({lat, lon, elevation}), or for the location the server
 * keeps in the session (else Greenwich) when `loc` is null: GET /planets, now or at
 * the instant `time` (ISO 8601) when given.
 * Resolves with {time, observer, ephemeris, bodies: [...]}; rejects with ApiError,
 * a network TypeError, or an AbortError when `signal` fires.
 */
export async function fetchPlanets(loc, signal, time = null) {
    const resp = await fetch(url('planets', skyParams(loc, time)), {
        signal,
        headers: { Accept: 'application/json' },
        cache: 'no-store',
    });
    return readJson(resp);
}

/**
 * The night of the instant `time` (ISO 8601) for `loc` (null: the session's
 * location): GET /planets/tonight. Resolves with {night, moon, bodies, ...}.
 */
export async function fetchTonight(loc, time, signal) {
    const resp = await fetch(url('planets/tonight', skyParams(loc, time)), {
        signal,
        headers: { Accept: 'application/json' },
    });
    return readJson(resp);
}

/**
 * The address of the Server-Sent Events stream GET /planets/stream for `loc` (null:
 * the session's location, else Greenwich), pushing every `intervalS` seconds (1..60).
 */
export function streamUrl(loc, intervalS = 1) {
    return url('planets/stream', { ...(loc ? locationParams(loc) : {}),
                                   interval: String(intervalS) }).href;
}

/**
 * Store `loc` in the session so later visits start there: POST /geo_location,
 * form-encoded. Resolves with the server's echo {lat, lon, elevation}.
 */
export async function saveLocation(loc) {
    const resp = await fetch(url('geo_location'), {
        method: 'POST',
        headers: { Accept: 'application/json' },
        body: new URLSearchParams(coordinateParams(loc)),
    });
    return readJson(resp);
}

// ---- saved sites (/api/sites): the session's owner, made on its first save ------

async function siteCall(method, path, { body, version } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (version !== undefined) headers['If-Match'] = `"v${version}"`;
    const resp = await fetch(url(path), {
        method, headers, cache: 'no-store',
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    return readJson(resp);
}

/** This browser's saved sites: {sites: [...], limit}. */
export function listSites() {
    return siteCall('GET', 'api/sites');
}

/** Save a new site {name, lat, lon, elevation, timezone?}; resolves with the site. */
export function createSite(site) {
    return siteCall('POST', 'api/sites', { body: site });
}

/**
 * Change some fields of site `id` if it is still at `version` (else ApiError 412:
 * it changed in another tab or device). Resolves with the new site.
 */
export function patchSite(id, version, fields) {
    return siteCall('PATCH', `api/sites/${id}`, { body: fields, version });
}

/** Delete site `id` if it is still at `version` (else ApiError 412). */
export function deleteSite(id, version) {
    return siteCall('DELETE', `api/sites/${id}`, { version });
}
