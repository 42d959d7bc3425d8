// The bug detail panel (/api/bug/N).
import { h, s, fill, fileLink } from './dom.js';
import { fint, fwall, fvirt, parseDuration, basename, DASH } from './fmt.js';
import { timeline, legend, describeFault, faultColor } from './timeline.js';

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = h('textarea', { readonly: true, class: 'offscreen' });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch { ok = false; }
    ta.remove();
    return ok;
  }
}

function commandBlock(id, label, cmd) {
  const code = h('code', { id }, String(cmd ?? ''));
  const btn = h('button', { type: 'button', class: 'copy', title: `copy the ${label} command` }, 'copy');
  btn.addEventListener('click', async () => {
    const ok = await copyText(code.textContent);
    btn.textContent = ok ? 'copied' : 'select and copy';
    setTimeout(() => { btn.textContent = 'copy'; }, 1500);
  });
  return h('div', { class: 'cmd' }, h('div', { class: 'cmd-label' }, label), h('div', { class: 'cmd-row' }, h('pre', null, code), btn));
}

function faultList(faults) {
  const list = Array.isArray(faults) ? faults : [];
  if (!list.length) return h('p', { class: 'muted' }, 'no faults: the failure happens without any');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'faults-list' },
    h('thead', null, h('tr', null, h('th', { class: 'num' }, '#'), h('th', { class: 'num' }, 'at (s)'), h('th', null, 'fault'))),
    h('tbody', null, list.map((f, i) => {
      const at = parseDuration(f?.at);
      return h('tr', null,
        h('td', { class: 'num' }, String(i + 1)),
        h('td', { class: 'num' }, Number.isFinite(at) ? (at / 1e9).toFixed(6) : String(f?.at ?? DASH)),
        h('td', null, s('svg', { class: 'type-dot', width: 10, height: 10, viewBox: '0 0 10 10', 'aria-hidden': 'true' }, s('path', { d: 'M5 0 L10 5 L5 10 L0 5 Z', fill: faultColor(f?.type) })), describeFault(f ?? {})));
    }))));
}

function recipeOf(bugFile) {
  const r = bugFile?.recipe ?? {};
  return {
    faults: Array.isArray(r.schedule?.faults) ? r.schedule.faults : [],
    overrides: Array.isArray(r.overrides) ? r.overrides : [],
    stops: Array.isArray(r.stops) ? r.stops : [],
    end: parseDuration(r.end),
  };
}

function dl(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

export class BugDetail {
  constructor(el, onClose) {
    this.el = el;             // #bug-detail
    this.onClose = onClose;
    this.number = null;
    this.key = null;
    this.token = 0;
    this.timelines = [];
    this.ro = new ResizeObserver(() => this.redrawTimelines());
  }

  /** Show bug n; key: the bug's summary in the state (reloads when it changes). */
  async open(n, key, scroll) {
    const token = ++this.token;
    const same = this.number === n;
    this.number = n;
    this.key = key;
    this.el.hidden = false;
    if (!same) {
      this.el.removeAttribute('data-bug');
      fill(this.el, this.head(n), h('p', { class: 'muted' }, 'loading\u2026'));
    }
    if (scroll) this.el.scrollIntoView({ behavior: 'smooth', block: 'start' });
    let data;
    try {
      const r = await fetch(`api/bug/${encodeURIComponent(n)}`, { cache: 'no-store' });
      if (!r.ok) throw new Error(r.status === 404 ? `no bug_${n}.json in the corpus (404)` : `HTTP ${r.status}`);
      data = await r.json();
    } catch (e) {
      if (token !== this.token) return;
      if (!same || !this.el.hasAttribute('data-bug'))
        fill(this.el, this.head(n), h('p', { class: 'bad' }, `could not load bug ${n}: ${e.message}`));
      return;
    }
    if (token !== this.token) return;
    this.render(n, data);
  }

  /** The state changed: reload when this bug's summary did. */
  refresh(key) {
    if (this.number !== null && key !== null && key !== this.key) this.open(this.number, key, false);
  }

  close() {
    this.token++;
    this.number = null;
    this.key = null;
    this.el.hidden = true;
    this.el.removeAttribute('data-bug');
    this.el.replaceChildren();
    this.timelines = [];
    this.ro.disconnect();
    this.onClose?.();
  }

  head(n) {
    return h('div', { class: 'card-head' }, h('h2', null, `Bug ${n}`),
      h('button', { type: 'button', class: 'close', title: 'close', onclick: () => this.close() }, '\u00d7 close'));
  }

  redrawTimelines() {
    for (const t of this.timelines) {
      const w = t.wrap.clientWidth;
      if (!w || Math.abs(w - t.width) < 2) continue;
      t.width = w;
      t.wrap.replaceChildren(timeline({ ...t.opts, width: w }));
    }
  }

  addTimeline(opts) {
    const wrap = h('div', { class: 'timeline-wrap' });
    const t = { wrap, opts, width: 0 };
    this.timelines.push(t);
    this.ro.observe(wrap);
    return wrap;
  }

  render(n, data) {
    this.ro.disconnect();
    this.timelines = [];
    const bug = data?.bug ?? {};
    const fail = bug.failure ?? {};
    const found = bug.found ?? {};
    const vms = bug.target?.vms;
    const rec = recipeOf(bug);
    const min = data?.minimized && typeof data.minimized === 'object' ? data.minimized : null;
    const mrec = min ? recipeOf(min) : null;

    const where = `${fail.file ?? '?'}${fail.line ? ':' + fail.line : ''}`;
    let details = null;
    if (typeof fail.details === 'string' && fail.details) {
      let text = fail.details;
      try { const o = JSON.parse(text); if (o && typeof o === 'object') text = JSON.stringify(o, null, 2); } catch { /* as is */ }
      details = h('pre', { class: 'details' }, text);
    }

    const sec = (title, ...body) => h('div', { class: 'detail-sec' }, h('h3', null, title), body);

    const failure = sec('Failure',
      h('p', { class: 'fail-msg' }, h('code', { class: 'kind' }, String(fail.kind ?? '')), ' ', String(fail.message ?? '')),
      dl([
        ['where', h('code', null, where + (fail.function ? ` (${fail.function})` : ''))],
        ['vm', fint(fail.vm)],
        ['virtual time', fvirt(fail.sim_vtime_ns)],
        fail.vm_vtime_ns !== undefined ? ['vm time', fvirt(fail.vm_vtime_ns)] : null,
        ['found', `round ${fint(found.round)}, branch ${fint(found.branch)}, ${fwall(found.wall_s)} into the exploration${found.mode ? ` (${found.mode} mode)` : ''}`],
      ]),
      details);

    const tlOpts = (r, f) => ({
      faults: r.faults, stops: r.stops, endNs: r.end, vms,
      failNs: typeof f?.sim_vtime_ns === 'number' ? f.sim_vtime_ns : NaN, failVm: f?.vm,
    });

    const schedule = sec(`Schedule: ${rec.faults.length} fault${rec.faults.length === 1 ? '' : 's'}, ${rec.overrides.length} override${rec.overrides.length === 1 ? '' : 's'}${Number.isFinite(rec.end) ? `, ends at ${fvirt(rec.end)}` : ''}`,
      h('div', { class: 'legend' }, legend([rec.faults, mrec?.faults]),
        h('span', { class: 'legend-item' }, h('span', { class: 'lg-stop' }, '\u25bc'), 'stop'),
        h('span', { class: 'legend-item' }, h('span', { class: 'lg-fail' }, '\u2715'), 'failure')),
      this.addTimeline({ id: 'bug-timeline', ...tlOpts(rec, fail) }),
      faultList(rec.faults),
      rec.overrides.length ? [h('h4', null, 'value overrides'), h('pre', { class: 'details' }, rec.overrides.map((o) => JSON.stringify(o)).join('\n'))] : null);

    let minimized;
    if (mrec) {
      const mfail = min.failure ?? fail;
      minimized = sec(`Minimized: ${rec.faults.length} \u2192 ${mrec.faults.length} fault${mrec.faults.length === 1 ? '' : 's'}` +
        (rec.overrides.length || mrec.overrides.length ? `, ${rec.overrides.length} \u2192 ${mrec.overrides.length} overrides` : ''),
        data.minimized_file ? h('p', null, 'from ', fileLink(data.minimized_file)) : null,
        this.addTimeline({ id: 'bug-timeline-min', ...tlOpts(mrec, mfail) }),
        faultList(mrec.faults));
    } else {
      minimized = sec('Minimized', h('p', { class: 'muted' }, 'not minimized yet: run the minimize command below; the result shows up here.'));
    }

    const commands = sec('Commands',
      commandBlock('bug-reproduce', 'reproduce', data?.reproduce),
      commandBlock('bug-minimize', 'minimize', data?.minimize));

    const files = [fileLink(`bug_${n}.json`)];
    if (typeof data?.text === 'string') files.push(fileLink(`bug_${n}.txt`));
    if (typeof bug.history?.file === 'string') files.push(fileLink(basename(bug.history.file)));
    if (data?.minimized_file) files.push(fileLink(data.minimized_file));
    const filesSec = sec('Files', h('p', { class: 'files' }, files.map((f, i) => [i ? ' \u00b7 ' : null, f])));

    const text = typeof data?.text === 'string' ? sec(`bug_${n}.txt`, h('pre', { class: 'report' }, data.text)) : null;

    fill(this.el, this.head(n), failure, schedule, minimized, commands, text, filesSec);
    this.el.setAttribute('data-bug', String(n));
    this.redrawTimelines();
  }
}
