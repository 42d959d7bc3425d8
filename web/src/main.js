// ChaosControl exploration dashboard: follows /api/events (or polls
// /api/state) and renders the state (docs/dashboard.md).
import { h, fill, $ } from './dom.js';
import { fint, ffix, fwall, fdur, basename, DASH } from './fmt.js';
import { CoverageChart } from './chart.js';
import { BugDetail } from './bug.js';
import { renderProps, renderBugs, renderRounds, renderLinks, renderFaults, renderFrontier } from './tables.js';

const POLL_MS = 2000;
const RETRY_SSE_MS = 10000;
const ROUNDS_SHOWN = 200;

const ui = {
  state: null,
  generation: null,
  propFilter: 'all',
  propQuery: '',
  propCounts: { all: 0, failed: 0, passed: 0, unexercised: 0 },
  roundsAll: false,
  selectedBug: null,
};

let chart;
let detail;

/* ---- header ---- */

function chip(label, value, title) {
  return h('span', { class: 'chip', title: title ?? null }, h('span', { class: 'chip-k' }, label), ' ', String(value));
}

function renderHeader(st) {
  $('#corpus').textContent = String(st.corpus ?? '');
  $('#corpus').title = String(st.corpus ?? '');
  const badge = $('#run-state');
  badge.textContent = st.live ? 'live' : 'finished';
  badge.className = 'badge ' + (st.live ? 'badge-live' : 'badge-done');
  badge.title = st.live ? 'an explorer in the server process is running' : 'no explorer running in the server process';

  const t = st.target;
  const o = st.options;
  const target = $('#target');
  if (!t) {
    fill(target, h('span', { class: 'muted' }, 'waiting for the explorer to write its first round\u2026'));
  } else {
    const items = [];
    if (t.vms !== undefined) items.push(chip('VMs', t.vms));
    if (t.vcpus !== undefined && t.vcpus !== null) items.push(chip('vCPUs', t.vcpus));
    if (t.factory) items.push(chip('factory', t.factory));
    if (t.initrd) items.push(chip('initrd', basename(t.initrd), t.initrd));
    if (t.kernel) items.push(chip('kernel', basename(t.kernel), t.kernel));
    if (t.disk_image) items.push(chip('disk', basename(t.disk_image), t.disk_image));
    if (t.checker) items.push(chip('checker', t.checker));
    if (t.seed !== undefined && t.seed !== null) items.push(chip('seed', t.seed));
    if (o) {
      if (o.mode) items.push(chip('mode', o.mode));
      if (o.branches !== undefined) items.push(chip('branches/round', o.branches));
      if (typeof o.branch_ns === 'number') items.push(chip('per branch', fdur(o.branch_ns)));
      if (o.frontier_max !== undefined) items.push(chip('frontier max', o.frontier_max));
      if (o.max_faults !== undefined) items.push(chip('faults/branch max', o.max_faults));
    }
    const rows = [h('div', { class: 'chips' }, items)];
    if (t.append) rows.push(h('div', { class: 'append' }, h('span', { class: 'chip-k' }, 'append '), h('code', null, String(t.append))));
    fill(target, rows);
  }

  const s = st.status ?? {};
  const statusEl = $('#status');
  statusEl.setAttribute('data-generation', String(st.generation ?? ''));
  statusEl.setAttribute('data-rounds', String(s.rounds_done ?? 0));
  statusEl.setAttribute('data-branches', String(s.branches_done ?? 0));
  statusEl.setAttribute('data-edges', String(s.edges ?? 0));
  statusEl.setAttribute('data-assert-bits', String(s.assert_bits ?? 0));
  statusEl.setAttribute('data-bugs', String(s.bugs ?? 0));
  statusEl.setAttribute('data-live', String(!!st.live));
  const tile = (label, value, opts = {}) => h('div', { class: ['tile', opts.cls], title: opts.title ?? null },
    h('div', { class: 'tile-v' }, value), h('div', { class: 'tile-k' }, label), opts.sub ? h('div', { class: 'tile-s' }, opts.sub) : null);
  let plateau = DASH, plateauSub = null;
  if (st.status) {
    plateau = s.plateau ? 'yes' : 'no';
    if (s.plateau_since) plateauSub = `flat since round ${s.plateau_since}`;
  }
  fill(statusEl,
    tile('rounds', fint(s.rounds_done)),
    tile('branches', fint(s.branches_done)),
    tile('wall', fwall(s.wall_s)),
    tile('branches/s', ffix(s.branches_per_s, 2)),
    tile('edges', fint(s.edges), { cls: 'tile-edges' }),
    tile('assertion states', fint(s.assert_bits), { cls: 'tile-asserts' }),
    tile('frontier', fint(s.frontier)),
    tile('bugs', fint(s.bugs), { cls: s.bugs > 0 ? 'tile-bad' : null }),
    tile('plateau', plateau, { cls: s.plateau ? 'tile-warn' : null, sub: plateauSub }));

  document.title = `${s.bugs > 0 ? `(${s.bugs} bug${s.bugs === 1 ? '' : 's'}) ` : ''}ChaosControl${
    st.status ? ` \u00b7 round ${s.rounds_done}` : ''}`;
  if (!st.live) $('#progress').hidden = true;
  if (exploring !== !!st.live) {
    exploring = !!st.live;
    if (connected) setConn(true);
  }
}

/* ---- the whole page ---- */

function bugKey(st, n) {
  const b = (st?.bugs ?? []).find((x) => x && x.number === n);
  return b ? JSON.stringify([b.minimized, b.dups, b.size, b.file]) : null;
}

function renderPropsNow() {
  const st = ui.state;
  renderProps($('#props-table tbody'), st?.assertions, ui.propFilter, ui.propQuery, ui.propCounts);
  for (const b of document.querySelectorAll('button[data-filter]')) {
    const f = b.getAttribute('data-filter');
    b.setAttribute('aria-pressed', String(f === ui.propFilter));
    b.querySelector('.count').textContent = String(ui.propCounts[f] ?? 0);
  }
}

function renderRoundsNow() {
  const hidden = renderRounds($('#rounds-table tbody'), ui.state?.history, ui.roundsAll ? Infinity : ROUNDS_SHOWN);
  const more = $('#rounds-more');
  more.hidden = hidden <= 0;
  more.textContent = `show all ${fint((ui.state?.history ?? []).length)} rounds`;
}

function renderBugsNow() {
  renderBugs($('#bugs-table tbody'), ui.state?.bugs, ui.selectedBug, openBug);
}

function apply(st) {
  if (!st || typeof st !== 'object') return;
  if (ui.state && st.generation === ui.generation && st.corpus === ui.state.corpus) return;
  ui.state = st;
  ui.generation = st.generation;
  const history = Array.isArray(st.history) ? st.history : [];
  $('#empty').hidden = history.length > 0;
  renderHeader(st);
  chart.update(history, st.bugs);
  renderPropsNow();
  renderBugsNow();
  renderRoundsNow();
  renderLinks($('#links-table tbody'), st.links);
  renderFaults($('#faults-table tbody'), st.faults);
  renderFrontier($('#frontier-table tbody'), st.frontier);
  $('#bugs-count').textContent = String((st.bugs ?? []).length);
  $('#frontier-count').textContent = String((st.frontier ?? []).length);
  if (ui.selectedBug !== null) detail.refresh(bugKey(st, ui.selectedBug));
  else openFromHash(false);
}

/* ---- bugs ---- */

function openBug(n, scroll) {
  if (!Number.isInteger(n)) return;
  ui.selectedBug = n;
  if (location.hash !== `#bug-${n}`) history.replaceState(null, '', `#bug-${n}`);
  renderBugsNow();
  detail.open(n, bugKey(ui.state, n), scroll);
}

function openFromHash(scroll) {
  const m = /^#bug-(\d+)$/.exec(location.hash);
  if (m && ui.state) {
    const n = parseInt(m[1], 10);
    if (n !== ui.selectedBug) openBug(n, scroll);
  }
}

/* ---- connection ---- */

let es = null;
let pollTimer = null;
let retryTimer = null;

let connected = false;
let exploring = true;   // the last state's "live": is an explorer running?

// The stream's light: "live" while connected to a running exploration,
// "connected" to a finished one (nothing more will come), else reconnecting.
function setConn(live, detailText) {
  connected = live;
  const c = $('#conn');
  c.textContent = live ? (exploring ? 'live' : 'connected') : 'reconnecting';
  c.title = live && !exploring ? 'connected to the server; the exploration is finished' : '';
  $('#conn-wrap').className = 'conn ' + (live ? 'conn-live' : 'conn-down');
  $('#conn-detail').textContent = detailText ?? '';
}

async function pollOnce() {
  try {
    const r = await fetch('api/state', { cache: 'no-store' });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const st = await r.json();
    if (!es || es.readyState !== EventSource.OPEN) setConn(false, 'polling');
    apply(st);
  } catch {
    if (!es || es.readyState !== EventSource.OPEN) setConn(false, 'server unreachable');
  }
}

function startPolling() {
  if (pollTimer) return;
  pollOnce();
  pollTimer = setInterval(pollOnce, POLL_MS);
}

function stopPolling() {
  if (pollTimer) clearInterval(pollTimer);
  pollTimer = null;
}

function connect() {
  retryTimer = null;
  if (typeof EventSource === 'undefined') {
    setConn(false, 'polling');
    startPolling();
    return;
  }
  const src = new EventSource('api/events');
  es = src;
  src.addEventListener('open', () => {
    if (es !== src) return;
    setConn(true);
    stopPolling();
  });
  src.addEventListener('state', (e) => {
    try { apply(JSON.parse(e.data)); } catch (err) { console.error('bad state event', err); }
  });
  src.addEventListener('progress', (e) => {
    let line = '';
    try { line = JSON.parse(e.data)?.line ?? ''; } catch { return; }
    const p = $('#progress');
    p.textContent = String(line);
    p.title = String(line);
    p.hidden = !line;
  });
  src.addEventListener('error', () => {
    if (es !== src) return;
    setConn(false, 'polling');
    startPolling();
    if (src.readyState === EventSource.CLOSED) {
      // the browser gave up (the server answered without an event stream): try again later
      src.close();
      es = null;
      if (!retryTimer) retryTimer = setTimeout(connect, RETRY_SSE_MS);
    }
  });
}

/* ---- start ---- */

function init() {
  chart = new CoverageChart($('#coverage-chart'));
  detail = new BugDetail($('#bug-detail'), () => {
    ui.selectedBug = null;
    if (location.hash.startsWith('#bug-')) history.replaceState(null, '', location.pathname + location.search);
    renderBugsNow();
  });

  for (const b of document.querySelectorAll('button[data-x]')) {
    b.addEventListener('click', () => {
      const mode = b.getAttribute('data-x');
      for (const o of document.querySelectorAll('button[data-x]')) o.setAttribute('aria-pressed', String(o === b));
      chart.setMode(mode);
    });
  }
  for (const b of document.querySelectorAll('button[data-filter]')) {
    b.addEventListener('click', () => {
      ui.propFilter = b.getAttribute('data-filter');
      renderPropsNow();
    });
  }
  $('#props-search').addEventListener('input', (e) => {
    ui.propQuery = e.target.value;
    renderPropsNow();
  });
  $('#rounds-more').addEventListener('click', () => {
    ui.roundsAll = true;
    renderRoundsNow();
  });
  window.addEventListener('hashchange', () => openFromHash(true));

  setConn(false);
  connect();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
