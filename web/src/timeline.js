// A recipe's faults along virtual time, one lane per VM, as inline SVG.
import { s } from './dom.js';
import { parseDuration, fdur } from './fmt.js';

const TYPE_COLORS = {
  partition: '#7c3aed',
  heal: '#059669',
  pause: '#0891b2',
  kill: '#64748b',
  restart: '#16a34a',
  clock_skew: '#ea580c',
  clock_jump: '#c2410c',
  clock: '#ea580c',
  latency: '#2563eb',
  loss: '#db2777',
  duplicate: '#9333ea',
  reorder: '#4f46e5',
  disk: '#92400e',
};

export function faultColor(type) {
  return TYPE_COLORS[type] || '#64748b';
}

const isVm = (v) => Number.isInteger(v) && v >= 0 && v < 4096;

/** The VMs a fault names (vm, sides, to, from); empty for a network-wide one. */
export function faultVms(f) {
  const out = new Set();
  if (isVm(f.vm)) out.add(f.vm);
  if (Array.isArray(f.sides)) for (const side of f.sides) if (Array.isArray(side)) for (const v of side) if (isVm(v)) out.add(v);
  if (isVm(f.to)) out.add(f.to);
  if (isVm(f.from)) out.add(f.from);
  return [...out].sort((a, b) => a - b);
}

/** A one-line description of a fault, from its own keys. */
export function describeFault(f) {
  const parts = [String(f.type ?? '?')];
  // "latency 2ms ...": a key named like the type is its main value
  if (f.type && typeof f.type === 'string' && f[f.type] !== undefined && typeof f[f.type] !== 'object') parts.push(String(f[f.type]));
  if (isVm(f.vm)) parts.push(`vm ${f.vm}`);
  if (Array.isArray(f.sides)) parts.push(f.sides.map((x) => `{${Array.isArray(x) ? x.join(',') : x}}`).join(' | ') + ' | rest');
  if (f.from !== undefined || f.to !== undefined) parts.push(`${f.from ?? '*'}\u2192${f.to ?? '*'}`);
  if (Array.isArray(f.bridge)) parts.push(`bridge {${f.bridge.join(',')}}`);
  for (const [k, v] of Object.entries(f)) {
    if (['at', 'type', 'vm', 'sides', 'from', 'to', 'duration', 'bridge'].includes(k) || (k === f.type && typeof v !== 'object')) continue;
    parts.push(`${k} ${typeof v === 'object' ? JSON.stringify(v) : v}`);
  }
  const d = parseDuration(f.duration);
  if (Number.isFinite(d)) parts.push(`for ${typeof f.duration === 'string' ? f.duration : fdur(d)}`);
  return parts.join(' ');
}

function niceStep(span, target) {
  const raw = span / Math.max(1, target);
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function tickLabel(ns, step) {
  const sec = ns / 1e9;
  const digits = step >= 1e9 ? 0 : step >= 1e8 ? 1 : step >= 1e7 ? 2 : 3;
  return sec.toFixed(digits) + 's';
}

/**
 * faults: recipe.schedule.faults; stops: recipe.stops; failNs, failVm: the
 * failure; vms: number of VMs; width: pixels. Returns an <svg>.
 */
export function timeline({ id, faults = [], stops = [], failNs, failVm, vms, endNs, width }) {
  faults = Array.isArray(faults) ? faults : [];
  stops = Array.isArray(stops) ? stops : [];
  const marks = faults.map((f, i) => {
    const at = parseDuration(f?.at);
    const dur = parseDuration(f?.duration);
    return { i, f: f ?? {}, at, dur: Number.isFinite(dur) && dur > 0 ? dur : 0, vms: faultVms(f ?? {}) };
  }).filter((m) => Number.isFinite(m.at));
  let nVms = Number.isInteger(vms) && vms > 0 ? vms : 0;
  for (const m of marks) for (const v of m.vms) nVms = Math.max(nVms, v + 1);
  if (isVm(failVm)) nVms = Math.max(nVms, failVm + 1);
  nVms = Math.min(nVms, 64);
  const netLane = marks.some((m) => !m.vms.length);
  const lanes = [];
  for (let v = 0; v < nVms; v++) lanes.push({ label: `vm ${v}`, vm: v });
  if (netLane) lanes.push({ label: 'net', vm: null });
  if (!lanes.length) lanes.push({ label: 'vm 0', vm: 0 });

  const stopNs = stops.map(parseDuration).filter(Number.isFinite);
  let maxNs = Math.max(1, Number.isFinite(failNs) ? failNs : 0, Number.isFinite(endNs) ? endNs : 0, ...stopNs,
    ...marks.map((m) => m.at));
  // bars may run past the end: show a little of that, no more
  maxNs *= 1.04;

  const W = Math.max(320, Math.floor(width || 720));
  const padL = 44, padR = 14, top = 22, rowH = 19, lanePad = 6, axisH = 26;
  const plotW = W - padL - padR;
  const x = (ns) => padL + (Math.min(ns, maxNs) / maxNs) * plotW;

  // each lane's marks in sub-rows, so that marks close in time do not overlap
  const laneOf = (vm) => (vm === null ? lanes.length - 1 : vm);
  const placed = lanes.map(() => []);      // per lane: {m, row, x0, x1}
  const rowEnds = lanes.map(() => []);
  for (const m of [...marks].sort((a, b) => a.at - b.at || a.i - b.i)) {
    const targets = m.vms.length ? m.vms.filter((v) => v < nVms) : [null];
    const x0 = x(m.at);
    const x1 = m.dur > 0 ? Math.max(x0 + 3, x(m.at + m.dur)) : x0;
    const label = String(m.i + 1).length * 6;
    const from = x0 - Math.max(6, label / 2), to = Math.max(x1, x0 + Math.max(6, label / 2));
    for (const vm of targets) {
      const li = laneOf(vm);
      const ends = rowEnds[li];
      let row = ends.findIndex((e) => e + 2 <= from);
      if (row < 0) { row = ends.length; ends.push(0); }
      ends[row] = to;
      placed[li].push({ m, row, x0, x1 });
    }
  }
  const laneH = rowEnds.map((e) => Math.max(1, e.length) * rowH + lanePad);
  const laneY = [];
  let yy = top;
  for (const hgt of laneH) { laneY.push(yy); yy += hgt; }
  const axisY = yy;
  const H = axisY + axisH;

  const svg = s('svg', {
    id, class: 'timeline', width: W, height: H, viewBox: `0 0 ${W} ${H}`,
    role: 'img', 'aria-label': 'faults along virtual time',
  });

  // lanes
  lanes.forEach((ln, li) => {
    const y = laneY[li];
    svg.append(s('rect', { class: li % 2 ? 'lane lane-odd' : 'lane', x: padL, y, width: plotW, height: laneH[li] }));
    svg.append(s('text', { class: 'lane-label', x: padL - 6, y: y + laneH[li] / 2 + 4, 'text-anchor': 'end' }, ln.label));
  });

  // time axis with ticks
  svg.append(s('line', { class: 'axis', x1: padL, x2: padL + plotW, y1: axisY, y2: axisY }));
  const step = niceStep(maxNs, Math.max(2, Math.floor(plotW / 70)));
  for (let t = 0; t <= maxNs + 1; t += step) {
    const xx = x(t);
    svg.append(s('line', { class: 'grid', x1: xx, x2: xx, y1: top, y2: axisY }));
    svg.append(s('line', { class: 'axis', x1: xx, x2: xx, y1: axisY, y2: axisY + 4 }));
    svg.append(s('text', { class: 'tick', x: xx, y: axisY + 16, 'text-anchor': 'middle' }, tickLabel(t, step)));
  }

  // stops: small ticks above the lanes
  for (const ns of stopNs) {
    const xx = x(ns);
    const g = s('g', { class: 'stop' },
      s('title', null, `stop at ${(ns / 1e9).toFixed(6)} s`),
      s('path', { d: `M${xx - 4} ${top - 9} L${xx + 4} ${top - 9} L${xx} ${top - 2} Z` }),
      s('line', { x1: xx, x2: xx, y1: top, y2: axisY }));
    svg.append(g);
  }

  // faults
  placed.forEach((list, li) => {
    for (const { m, row, x0, x1 } of list) {
      const color = faultColor(m.f.type);
      const desc = `#${m.i + 1} at ${(m.at / 1e9).toFixed(6)} s: ${describeFault(m.f)}`;
      const y = laneY[li] + lanePad / 2 + row * rowH;
      const g = s('g', { class: 'fault', 'data-type': String(m.f.type ?? ''), 'data-index': String(m.i + 1) }, s('title', null, desc));
      if (m.dur > 0)
        g.append(s('rect', { x: x0, y: y + 8, width: x1 - x0, height: 9, rx: 2, fill: color, 'fill-opacity': 0.35, stroke: color }));
      g.append(s('path', { d: `M${x0} ${y + 7} l5 5.5 l-5 5.5 l-5 -5.5 Z`, fill: color }));
      g.append(s('text', { class: 'fault-num', x: x0, y: y + 6.5, 'text-anchor': 'middle', fill: color }, String(m.i + 1)));
      svg.append(g);
    }
  });

  // the failure
  if (Number.isFinite(failNs)) {
    const xx = x(failNs);
    const g = s('g', { class: 'failure' },
      s('title', null, `failure${isVm(failVm) ? ` on vm ${failVm}` : ''} at ${(failNs / 1e9).toFixed(6)} s`),
      s('line', { x1: xx, x2: xx, y1: top - 12, y2: axisY }));
    if (isVm(failVm) && failVm < nVms) {
      const cy = laneY[failVm] + laneH[failVm] / 2;
      g.append(s('path', { d: `M${xx - 5} ${cy - 5} L${xx + 5} ${cy + 5} M${xx + 5} ${cy - 5} L${xx - 5} ${cy + 5}`, class: 'fail-x' }));
    }
    const left = xx > padL + plotW * 0.7;
    g.append(s('text', { x: left ? xx - 8 : xx + 8, y: top - 6, 'text-anchor': left ? 'end' : 'start' }, 'failure'));
    svg.append(g);
  }
  return svg;
}

/** The legend for the fault types present. */
export function legend(faultLists) {
  const types = new Set();
  for (const list of faultLists) if (Array.isArray(list)) for (const f of list) if (f && f.type) types.add(String(f.type));
  const items = [...types].sort().map((t) => {
    const sw = s('svg', { width: 12, height: 12, viewBox: '0 0 12 12', class: 'swatch' },
      s('path', { d: 'M6 0 L12 6 L6 12 L0 6 Z', fill: faultColor(t) }));
    const span = document.createElement('span');
    span.className = 'legend-item';
    span.append(sw, document.createTextNode(t));
    return span;
  });
  return items;
}
