// The tables: properties, bugs, rounds, network links, fault counts, frontier.
import { h, s, fill } from './dom.js';
import { fint, ffix, fwall, fvirt, basename, DASH } from './fmt.js';

const num = (v, cls) => h('td', { class: ['num', cls] }, v);
const muted = (v) => h('span', { class: 'muted' }, v);
const zeroMuted = (v) => (v === 0 ? muted('0') : fint(v));

function emptyRow(tbody, cols, text) {
  fill(tbody, h('tr', { class: 'empty-row' }, h('td', { colspan: cols }, text)));
}

/* ---- properties ---- */

const VERDICT_ORDER = { failed: 0, unexercised: 1, passed: 2 };

export function verdictBadge(v) {
  const known = v === 'passed' || v === 'failed' || v === 'unexercised';
  return h('span', { class: ['verdict', known ? 'v-' + v : 'v-other'] }, String(v ?? '?'));
}

export function location(file, line, fn) {
  const where = `${file ?? '?'}${line ? ':' + line : ''}`;
  const shown = `${basename(file ?? '?')}${line ? ':' + line : ''}`;
  return h('span', { class: 'loc', title: where + (fn ? ` (${fn})` : '') },
    h('code', null, shown), fn ? h('span', { class: 'muted' }, ` ${fn}`) : null);
}

export function renderProps(tbody, assertions, filter, query, counts) {
  const list = Array.isArray(assertions) ? assertions : [];
  for (const k of Object.keys(counts)) counts[k] = 0;
  counts.all = list.length;
  for (const a of list) if (a && a.verdict in counts) counts[a.verdict]++;
  const q = query.trim().toLowerCase();
  const rows = list
    .map((a, i) => ({ a: a ?? {}, i }))
    .filter(({ a }) => filter === 'all' || a.verdict === filter)
    .filter(({ a }) => !q || [a.message, a.kind, a.file, a.function, a.id, a.verdict, a.line]
      .some((v) => v !== undefined && v !== null && String(v).toLowerCase().includes(q)))
    .sort((x, y) => (VERDICT_ORDER[x.a.verdict] ?? 3) - (VERDICT_ORDER[y.a.verdict] ?? 3) || x.i - y.i);
  if (!rows.length) {
    emptyRow(tbody, 8, list.length ? 'no property matches the filter' : 'no properties yet');
    return;
  }
  fill(tbody, rows.map(({ a }) => {
    let first = muted(DASH);
    if (a.first_failing_branch !== null && a.first_failing_branch !== undefined) {
      first = h('span', null, `branch ${fint(a.first_failing_branch)}`,
        Number.isInteger(a.bug) ? [' \u2192 ', h('a', { href: `#bug-${a.bug}`, class: 'bug-link' }, `bug ${a.bug}`)] : null);
    }
    return h('tr', { 'data-verdict': String(a.verdict ?? ''), class: 'verdict-' + String(a.verdict ?? '') },
      h('td', null, h('code', { class: 'kind' }, String(a.kind ?? '?'))),
      h('td', null, verdictBadge(a.verdict)),
      h('td', { class: 'msg' }, String(a.message ?? '')),
      h('td', null, location(a.file, a.line, a.function)),
      num(fint(a.hits)),
      num(fint(a.branches_hit)),
      num(a.branches_failed ? h('span', { class: 'bad' }, fint(a.branches_failed)) : zeroMuted(a.branches_failed)),
      h('td', { class: 'nowrap' }, first));
  }));
}

/* ---- bugs ---- */

export function renderBugs(tbody, bugs, selected, onOpen) {
  const list = Array.isArray(bugs) ? bugs : [];
  if (!list.length) {
    emptyRow(tbody, 11, 'no bugs found (yet)');
    return;
  }
  fill(tbody, list.map((b) => {
    const n = b.number;
    const open = () => onOpen(n, true);
    return h('tr', {
      'data-bug': String(n), class: ['clickable', n === selected ? 'selected' : null], tabindex: 0,
      title: `open bug ${n}`,
      onclick: open,
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); open(); } },
    },
    num(h('a', { href: `#bug-${n}`, class: 'bug-link', onclick: (e) => e.preventDefault() }, String(n))),
    h('td', { class: 'msg' }, String(b.message ?? '')),
    h('td', null, h('code', { title: String(b.where ?? '') }, String(b.where ?? ''))),
    num(fint(b.vm)),
    num(fint(b.round)),
    num(fint(b.branch)),
    num(fwall(b.wall_s)),
    num(fvirt(b.sim_ns)),
    num(zeroMuted(b.dups)),
    num(fint(b.size)),
    h('td', null, b.minimized ? h('span', { class: 'good' }, '\u2713 ', h('code', null, String(b.minimized))) : muted('no')));
  }));
}

/* ---- rounds ---- */

function withNew(total, added) {
  return [fint(total), ' ', added ? h('span', { class: 'plus' }, `+${fint(added)}`) : muted('+0')];
}

export function nothingNew(r) {
  return !r.new_edges && !r.new_assert_bits && !r.bugs && !r.new_maxima;
}

export function renderRounds(tbody, history, limit) {
  const list = Array.isArray(history) ? history : [];
  if (!list.length) {
    emptyRow(tbody, 11, 'no rounds yet');
    return 0;
  }
  const rows = [];
  for (let i = list.length - 1; i >= 0 && rows.length < limit; i--) {
    const r = list[i] ?? {};
    const brs = r.wall_s > 0 ? r.branches / r.wall_s : null;
    rows.push(h('tr', { class: nothingNew(r) ? 'dim' : null, title: nothingNew(r) ? 'nothing new' : null, 'data-round': String(r.round) },
      num(fint(r.round)),
      num(fint(r.branches)),
      num(ffix(r.wall_s, 1)),
      num(ffix(brs, 2)),
      num(withNew(r.edges, r.new_edges)),
      num(withNew(r.assert_bits, r.new_assert_bits)),
      num(fint(r.frontier)),
      num(zeroMuted(r.new_points)),
      num(r.bugs ? h('span', { class: 'bad' }, fint(r.bugs)) : muted('0')),
      num(zeroMuted(r.materialized)),
      num(r.diverged ? h('span', { class: 'warn' }, fint(r.diverged)) : muted('0'))));
  }
  fill(tbody, rows);
  return list.length - rows.length;
}

/* ---- network ---- */

const DROPS = ['dropped_partition', 'dropped_loss', 'dropped_queue', 'dropped_down', 'dropped_rx'];

export function renderLinks(tbody, links) {
  const list = Array.isArray(links) ? links : [];
  if (!list.length) {
    emptyRow(tbody, 10, 'no traffic recorded');
    return;
  }
  fill(tbody, list.map((l) => {
    const pct = l.sent > 0 ? ` (${((100 * l.delivered) / l.sent).toFixed(1)}%)` : '';
    return h('tr', null,
      h('td', { class: 'nowrap' }, `vm ${l.from} \u2192 vm ${l.to}`),
      num(fint(l.sent)),
      num([fint(l.delivered), muted(pct)]),
      DROPS.map((k) => num(l[k] ? h('span', { class: 'warn' }, fint(l[k])) : muted(l[k] === 0 ? '0' : DASH))),
      num(zeroMuted(l.duplicated)));
  }));
}

export function renderFaults(tbody, faults) {
  const entries = faults && typeof faults === 'object' ? Object.entries(faults).filter(([, v]) => typeof v === 'number') : [];
  if (!entries.length) {
    emptyRow(tbody, 3, 'no faults recorded');
    return;
  }
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const max = Math.max(1, ...entries.map(([, v]) => v));
  fill(tbody, entries.map(([type, n]) => h('tr', { 'data-type': type },
    h('td', { class: 'nowrap' }, type),
    num(fint(n)),
    h('td', { class: 'bar-cell' },
      s('svg', { class: 'bar', viewBox: '0 0 100 10', preserveAspectRatio: 'none', 'aria-hidden': 'true' },
        s('rect', { x: 0, y: 0, width: Math.max(0.5, (100 * n) / max), height: 10, rx: 1 }))))));
}

/* ---- frontier ---- */

export function renderFrontier(tbody, frontier) {
  const list = Array.isArray(frontier) ? frontier : [];
  if (!list.length) {
    emptyRow(tbody, 11, 'the frontier is empty');
    return;
  }
  fill(tbody, list.map((p) => h('tr', null,
    num(fint(p.id)),
    num(fint(p.parent)),
    num(fint(p.round)),
    num(fint(p.depth)),
    num(typeof p.t_ns === 'number' ? (p.t_ns / 1e9).toFixed(3) : DASH),
    num(ffix(p.score, 1)),
    num(zeroMuted(p.picks)),
    num(zeroMuted(p.wins)),
    num(zeroMuted(p.faults)),
    num(zeroMuted(p.overrides)),
    h('td', { class: 'how' }, String(p.how ?? '')))));
}
