#!/usr/bin/env node
// SPDX-License-Identifier: AGPL-3.0-or-later
//
// bench/lighthouse/profile.mjs -- where the page's main thread goes while it loads,
// under Lighthouse's mobile CPU throttling (4x slowdown), task by task.
//
//   node bench/lighthouse/profile.mjs URL [SECONDS] [--night] [--css FILE] [--out TRACE.json]
//   node bench/lighthouse/profile.mjs --trace LIGHTHOUSE-0.trace.json [--multiplier 4]
//   (either: [--min MS] [--inclusive])
//
// Uses playwright-core from tests/browser (run `npm ci` there once) and Debian's
// chromium (PT_CHROMIUM). Opens URL in a fresh 412x823 phone-sized context
// (Lighthouse's moto g power), slows its CPU down CPU_RATE times (default 4, as
// Lighthouse's mobile preset; CPU_RATE=1 for the machine's own speed) with
// Emulation.setCPUThrottlingRate, records a trace (devtools.timeline) and a sampled
// JS profile (Profiler) for SECONDS (default 8) from the navigation, then prints:
//  - every main-thread task of --min ms or more (default 50: a long task) with what
//    it did: the events inside it (script, style, layout, paint...) and the JS
//    functions with the most self time in it (--inclusive: also the most time
//    including what they call);
//  - the blocking time (each task's part over 50 ms) after the first contentful
//    paint, in total and per cause;
//  - the JS functions with the most self time over the whole run, and the main
//    thread's time per cause.
// --night loads the page in night mode; --out keeps the trace (DevTools'
// Performance panel opens it); --css FILE adds a style sheet after the page's own
// (the page's CSP bypassed for it: a change tried without a rebuild). --trace reads
// a trace saved by `lighthouse --save-assets` instead (recorded at full speed), its
// durations multiplied by --multiplier (4, as Lighthouse's simulation does) to find
// the tasks Lighthouse counts as long; it has no JS profile.
//
// The machine is shared and its load shows in every figure: compare runs made one
// after the other, several of each.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(REPO, 'tests/browser/package.json'));
const { chromium } = require('playwright-core');

const args = process.argv.slice(2);
const VALUED = new Set(['--out', '--css', '--trace', '--multiplier', '--min']);
const options = {};
const positional = [];
for (let i = 0; i < args.length; i++) {
    if (VALUED.has(args[i])) options[args[i]] = args[++i];
    else if (args[i].startsWith('--')) options[args[i]] = true;
    else positional.push(args[i]);
}
const opt = (name) => options[name] ?? null;
const traceFile = opt('--trace');
const url = positional.find((a) => /^https?:/.test(a));
if (!url && !traceFile) {
    console.error('usage: profile.mjs URL [SECONDS] [--night] [--css FILE] [--out TRACE.json]\n' +
                  '       profile.mjs --trace LIGHTHOUSE.trace.json [--multiplier 4]\n' +
                  '       (either: [--min MS] [--inclusive])');
    process.exit(2);
}
const seconds = Number(positional.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 8);
const night = Boolean(opt('--night'));
const outFile = opt('--out');
const RATE = Number(process.env.CPU_RATE ?? 4);
// A trace recorded without throttling (Lighthouse's, --save-assets): durations are
// multiplied, as Lighthouse's simulation does, to find the long tasks.
const MULT = traceFile ? Number(opt('--multiplier') ?? 4) : 1;
// Tasks listed: those of at least this many ms (--min; 50, a long task, by default).
const MIN_US = Number(opt('--min') ?? 50) * 1000;

let events = [];
let profile = null;
if (traceFile) {
    const doc = JSON.parse(fs.readFileSync(traceFile, 'utf8'));
    events = Array.isArray(doc) ? doc : doc.traceEvents;
} else {
    const browser = await chromium.launch({
        executablePath: process.env.PT_CHROMIUM ?? '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
               '--no-first-run'],
    });
    const context = await browser.newContext({
        viewport: { width: 412, height: 823 }, deviceScaleFactor: 1.75, isMobile: true,
        hasTouch: true, locale: 'en-US',
        bypassCSP: Boolean(opt('--css')), // the page's CSP allows no inline style
    });
    if (night) {
        await context.addInitScript(() => localStorage.setItem('planettracker.night', '1'));
    }
    // --css FILE: more CSS after the page's own (to try a change without a rebuild).
    if (opt('--css')) {
        const css = fs.readFileSync(opt('--css'), 'utf8');
        await context.addInitScript((text) => {
            document.addEventListener('DOMContentLoaded', () => {
                const st = document.createElement('style');
                st.textContent = text;
                document.head.append(st);
            });
        }, css);
    }
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: RATE });
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
    cdp.on('Tracing.dataCollected', (d) => events.push(...d.value));
    const done = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
    await cdp.send('Tracing.start', {
        transferMode: 'ReportEvents',
        traceConfig: {
            includedCategories: ['devtools.timeline', 'disabled-by-default-devtools.timeline',
                                 'v8.execute', 'blink.user_timing', 'loading', 'toplevel',
                                 'disabled-by-default-devtools.timeline.frame'],
        },
    });
    await cdp.send('Profiler.start');
    const t0 = Date.now();
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForTimeout(Math.max(0, seconds * 1000 - (Date.now() - t0)));
    ({ profile } = await cdp.send('Profiler.stop'));
    await cdp.send('Tracing.end');
    await done;
    await browser.close();
    if (outFile) fs.writeFileSync(outFile, JSON.stringify({ traceEvents: events }));
}

/** The sampled JS profile of a trace (ProfileChunk events), as Profiler.stop gives it. */
function profileOfTrace(evs, pid) {
    const head = evs.find((e) => e.name === 'Profile' && e.pid === pid);
    if (!head) return null;
    const out = { nodes: [], samples: [], timeDeltas: [], startTime: head.args.data.startTime };
    for (const e of evs) {
        if (e.name !== 'ProfileChunk' || e.pid !== pid || e.id !== head.id) continue;
        const d = e.args.data;
        for (const n of d.cpuProfile?.nodes ?? []) out.nodes.push(n);
        out.samples.push(...(d.cpuProfile?.samples ?? []));
        out.timeDeltas.push(...(d.timeDeltas ?? []));
    }
    return out;
}

// ---- the renderer's main thread -------------------------------------------------

const threadName = new Map();
for (const e of events) {
    if (e.ph === 'M' && e.name === 'thread_name') threadName.set(`${e.pid}:${e.tid}`, e.args.name);
}
// The page's renderer: the main thread (CrRendererMain) busiest with tasks.
const busy = new Map();
for (const e of events) {
    const k = `${e.pid}:${e.tid}`;
    if (e.ph === 'X' && e.name === 'RunTask' && threadName.get(k) === 'CrRendererMain') {
        busy.set(k, (busy.get(k) ?? 0) + e.dur);
    }
}
const mainKey = [...busy].sort((a, b) => b[1] - a[1])[0]?.[0];
const mainPid = Number(mainKey?.split(':')[0]);
const parse = events.find((e) => e.name === 'ParseHTML' && `${e.pid}:${e.tid}` === mainKey);
const onMain = events.filter((e) => `${e.pid}:${e.tid}` === mainKey && e.ph === 'X')
    .map((e) => (MULT === 1 ? e : { ...e, dur: e.dur * MULT }));
profile ??= profileOfTrace(events, mainPid) ?? { nodes: [], samples: [], timeDeltas: [], startTime: 0 };
// Top-level tasks only (as Lighthouse counts them: RunTask not inside another).
const tasks = [];
for (const e of onMain.filter((x) => x.name === 'RunTask').sort((a, b) => a.ts - b.ts || b.dur - a.dur)) {
    const last = tasks.at(-1);
    if (last && e.ts < last.ts + last.dur / MULT) continue;
    tasks.push(e);
}
const nav = events.find((e) => e.name === 'navigationStart' && e.pid === mainPid &&
                        e.args?.data?.isLoadingMainFrame !== false && /^http/.test(e.args?.data?.documentLoaderURL ?? 'http'))
    ?? tasks[0];
const fcp = events.find((e) => e.name === 'firstContentfulPaint' && e.pid === mainPid && e.ts >= nav.ts);
const zero = nav.ts;
const ms = (us) => (us / 1000).toFixed(0);

// JS self time per sample, by function, placed in time.
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
for (const n of profile.nodes) if (n.parent !== undefined) parentOf.set(n.id, n.parent);
const fnName = (cf) => `${cf.functionName || '(anonymous)'} ${cf.url ? cf.url.replace(/^.*\/(static\/[0-9a-f]+\/)?/, '') : ''}:${cf.lineNumber + 1}`;
/** The functions on the stack of sample node `id` (each once): inclusive time. */
function stackOf(id) {
    const out = new Set();
    for (let n = id; n !== undefined; n = parentOf.get(n)) {
        const cf = nodes.get(n)?.callFrame;
        if (cf && cf.url) out.add(fnName(cf));
    }
    return out;
}
// Samples are placed in the trace's time, whose tasks were stretched by MULT: a
// sample at t lies in the task whose unstretched span holds it.
const samples = [];
let t = profile.startTime;
for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i];
    const n = nodes.get(profile.samples[i]);
    const cf = n.callFrame;
    if (cf.functionName === '(idle)' || cf.functionName === '(program)' || cf.functionName === '(root)') continue;
    const file = cf.url ? cf.url.replace(/^.*\/(static\/[0-9a-f]+\/)?/, '') : '';
    samples.push({ t, fn: `${cf.functionName || '(anonymous)'} ${file}:${cf.lineNumber + 1}`, id: profile.samples[i],
                   dt: (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i]) * MULT });
}

const KINDS = {
    EvaluateScript: 'script', 'v8.evaluateModule': 'script', FunctionCall: 'script',
    EventDispatch: 'script', TimerFire: 'script', FireAnimationFrame: 'script',
    'v8.compile': 'compile', 'v8.compileModule': 'compile', 'v8.parseOnBackground': 'compile',
    ParseHTML: 'parse HTML', ParseAuthorStyleSheet: 'parse CSS',
    UpdateLayoutTree: 'style', RecalculateStyles: 'style', Layout: 'layout',
    PrePaint: 'paint', Paint: 'paint', PaintImage: 'paint', Layerize: 'paint',
    UpdateLayer: 'paint', UpdateLayerTree: 'paint', CompositeLayers: 'paint', Commit: 'paint',
    GPUTask: 'paint', RasterTask: 'paint', 'Decode Image': 'paint', HitTest: 'other',
    MajorGC: 'GC', MinorGC: 'GC', 'V8.GC_SCAVENGER': 'GC', BlinkGC: 'GC',
};

function describeTask(task) {
    // Inside the task: events within its span (as recorded, before any stretching).
    const end = task.ts + task.dur / MULT;
    const inside = onMain.filter((e) => e !== task && e.ts >= task.ts && e.ts + e.dur / MULT <= end + 1);
    // Self time per kind: an event's duration less its children's of known kinds.
    const byKind = {};
    const top = [];
    for (const e of inside) {
        const kind = KINDS[e.name];
        if (!kind) continue;
        const parent = inside.find((p) => p !== e && KINDS[p.name] && p.ts <= e.ts &&
                                   p.ts + p.dur >= e.ts + e.dur && p.dur > e.dur);
        if (!parent) top.push(e);
        const kids = inside.filter((c) => c !== e && KINDS[c.name] && c.ts >= e.ts &&
                                   c.ts + c.dur <= e.ts + e.dur && c.dur < e.dur);
        // direct children only
        const direct = kids.filter((c) => !kids.some((p) => p !== c && p.ts <= c.ts &&
                                                     p.ts + p.dur >= c.ts + c.dur && p.dur > c.dur));
        const self = e.dur - direct.reduce((s, c) => s + c.dur, 0);
        byKind[kind] = (byKind[kind] ?? 0) + Math.max(0, self);
    }
    const what = top.map((e) => {
        const d = e.args?.data ?? {};
        const name = e.name === 'EventDispatch' ? `event ${d.type}`
            : e.name === 'FunctionCall' ? `call ${d.functionName || '(anon)'} ${String(d.url ?? '').split('/').pop()}:${d.lineNumber ?? ''}`
                : e.name === 'TimerFire' ? 'timer'
                    : e.name === 'EvaluateScript' || e.name === 'v8.evaluateModule'
                        ? `evaluate ${String(d.url ?? e.args?.data?.url ?? '').split('/').pop()}` : e.name;
        return `${name} ${ms(e.dur)}`;
    });
    const fns = {};
    for (const s of samples) {
        if (s.t >= task.ts && s.t <= task.ts + task.dur / MULT) fns[s.fn] = (fns[s.fn] ?? 0) + s.dt;
    }
    const topFns = Object.entries(fns).sort((a, b) => b[1] - a[1]).slice(0, 6)
        .map(([fn, us]) => `${fn} ${ms(us)}`);
    const incl = {};
    for (const s of samples) {
        if (s.t < task.ts || s.t > task.ts + task.dur / MULT) continue;
        for (const fn of stackOf(s.id)) incl[fn] = (incl[fn] ?? 0) + s.dt;
    }
    const topIncl = Object.entries(incl).sort((a, b) => b[1] - a[1]).slice(0, 14)
        .map(([fn, us]) => `${fn} ${ms(us)}`);
    return { byKind, what, topFns, topIncl };
}

console.log(`${traceFile ?? url} ${night ? '(night mode) ' : ''}${traceFile ? `durations x${MULT}` : `CPU ${RATE}x, ${seconds} s`}; ` +
            `FCP ${fcp ? ms(fcp.ts - zero) : '?'} ms; ${tasks.length} tasks on the main thread`);
let blocking = 0;
const blockingBy = {};
const fcpTs = fcp?.ts ?? zero;
for (const task of tasks) {
    if (task.dur < MIN_US) continue;
    const { byKind, what, topFns, topIncl } = describeTask(task);
    const over = task.ts + task.dur > fcpTs ? Math.max(0, task.dur - 50000) : 0;
    blocking += over;
    const main = Object.entries(byKind).sort((a, b) => b[1] - a[1]);
    for (const [k, v] of main) blockingBy[k] = (blockingBy[k] ?? 0) + (over * v) / task.dur;
    console.log(`\n@${ms(task.ts - zero)} ms  ${ms(task.dur)} ms  (${main.map(([k, v]) => `${k} ${ms(v)}`).join(', ')})`);
    console.log(`   top-level: ${what.slice(0, 12).join('; ')}${what.length > 12 ? `; ... (${what.length})` : ''}`);
    if (topFns.length) console.log(`   JS self:   ${topFns.join('; ')}`);
    if (topIncl.length && opt('--inclusive')) console.log(`   JS total:  ${topIncl.join('; ')}`);
}
console.log(`\nblocking time after FCP (each long task's part over 50 ms): ${ms(blocking)} ms ` +
            `(${Object.entries(blockingBy).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${ms(v)}`).join(', ')})`);
const total = {};
for (const s of samples) total[s.fn] = (total[s.fn] ?? 0) + s.dt;
console.log('\nJS self time over the whole run:');
for (const [fn, us] of Object.entries(total).sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    console.log(`  ${ms(us).padStart(6)} ms  ${fn}`);
}
const all = {};
for (const task of tasks) {
    for (const [k, v] of Object.entries(describeTask(task).byKind)) all[k] = (all[k] ?? 0) + v;
}
console.log(`\nmain thread over the whole run: ${Object.entries(all).sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${ms(v)}`).join(', ')}; tasks ${ms(tasks.reduce((s, x) => s + x.dur, 0))} ms`);
