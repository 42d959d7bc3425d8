// The coverage chart: edges and assertion states over rounds or wall time,
// with a vertical marker at each bug's discovery.
import uPlot from 'uplot';
import { fint, fwallAxis, fwall } from './fmt.js';

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

function colors() {
  return {
    edges: cssVar('--c-edges', '#2563eb'),
    asserts: cssVar('--c-asserts', '#d97706'),
    bug: cssVar('--c-bad', '#dc2626'),
    axis: cssVar('--fg-muted', '#555'),
    grid: cssVar('--grid', 'rgba(0,0,0,0.07)'),
    bg: cssVar('--bg-card', '#fff'),
  };
}

/** Draws "bug N" markers (vertical dashed lines) from opts.bugs(). */
function bugMarkers(getBugs, col) {
  return {
    hooks: {
      draw: [(u) => {
        const bugs = getBugs();
        if (!bugs.length) return;
        const ctx = u.ctx;
        const { left, top, width, height } = u.bbox;
        const dpr = uPlot.pxRatio;
        ctx.save();
        ctx.beginPath();
        ctx.rect(left, top, width, height);
        ctx.clip();
        ctx.font = `${Math.round(11 * dpr)}px system-ui, sans-serif`;
        ctx.textBaseline = 'top';
        const placed = [];   // label boxes drawn so far: [x0, x1, row]
        for (const b of bugs) {
          const x = Math.round(u.valToPos(b.x, 'x', true));
          if (x < left - 1 || x > left + width + 1) continue;
          ctx.strokeStyle = col.bug;
          ctx.lineWidth = 1.5 * dpr;
          ctx.setLineDash([5 * dpr, 3 * dpr]);
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
          ctx.setLineDash([]);
          const label = b.label;
          const tw = ctx.measureText(label).width;
          // right of the line, or left of it at the right edge; a row down when it would overlap
          const tx = x + 4 * dpr + tw > left + width ? x - 4 * dpr - tw : x + 4 * dpr;
          let row = 0;
          while (placed.some(([a, z, r]) => r === row && tx < z + 10 * dpr && tx + tw > a - 10 * dpr)) row++;
          placed.push([tx, tx + tw, row]);
          const ty = top + 3 * dpr + row * 15 * dpr;
          ctx.fillStyle = col.bg;
          ctx.globalAlpha = 0.85;
          ctx.fillRect(tx - 2 * dpr, ty - 1 * dpr, tw + 4 * dpr, 14 * dpr);
          ctx.globalAlpha = 1;
          ctx.fillStyle = col.bug;
          ctx.fillText(label, tx, ty);
        }
        ctx.restore();
      }],
    },
  };
}

// dots on the data points while they are far enough apart
function showPoints(u) {
  return u.data[0].length <= 1 || u.bbox.width / uPlot.pxRatio / u.data[0].length >= 12;
}

function axisSize(self, values, axisIdx, cycleNum) {
  const axis = self.axes[axisIdx];
  if (cycleNum > 1) return axis._size;
  let size = axis.ticks.size + axis.gap;
  const longest = (values ?? []).reduce((acc, v) => (v && v.length > acc.length ? v : acc), '');
  if (longest) {
    self.ctx.font = axis.font[0];
    size += self.ctx.measureText(longest).width / uPlot.pxRatio;
  }
  return Math.ceil(size) + 4;
}

export class CoverageChart {
  constructor(el) {
    this.el = el;               // #coverage-chart
    this.mode = 'round';        // or 'wall'
    this.u = null;
    this.history = [];
    this.bugs = [];
    this.markers = [];
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(el);
    const mq = window.matchMedia?.('(prefers-color-scheme: dark)');
    mq?.addEventListener?.('change', () => this.rebuild());
  }

  size() {
    const w = Math.max(200, Math.floor(this.el.clientWidth));
    const h = Math.round(Math.min(380, Math.max(220, w * 0.42)));
    return { width: w, height: h };
  }

  resize() {
    if (!this.u) return;
    const sz = this.size();
    if (this.compact !== sz.width < 560) {
      this.rebuild();
      return;
    }
    if (sz.width !== this.u.width || sz.height !== this.u.height) this.u.setSize(sz);
  }

  data() {
    const hist = this.history;
    let total = 0;
    const x = hist.map((r) => {
      total += typeof r.wall_s === 'number' ? r.wall_s : 0;
      if (this.mode === 'round') return r.round;
      return typeof r.wall_total_s === 'number' ? r.wall_total_s : total;
    });
    this.markers = this.bugs
      .map((b) => ({ x: this.mode === 'round' ? b.round : b.wall_s, label: `bug ${b.number}` }))
      .filter((b) => typeof b.x === 'number' && Number.isFinite(b.x));
    return [x, hist.map((r) => r.edges ?? null), hist.map((r) => r.assert_bits ?? null)];
  }

  setMode(mode) {
    if (mode === this.mode) return;
    this.mode = mode;
    this.rebuild();
  }

  rebuild() {
    if (this.u) {
      this.u.destroy();
      this.u = null;
    }
    if (this.history.length) this.create();
  }

  create() {
    const col = colors();
    const round = this.mode === 'round';
    const size = this.size();
    this.compact = size.width < 560;
    const compact = this.compact;
    const font = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    const opts = {
      ...size,
      class: 'cov-chart',
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      legend: { live: true },
      scales: {
        x: {
          time: false,
          range: (u, min, max) => {
            if (min === max) return round ? [min - 1, max + 1] : [Math.max(0, min - 1), max + 1];
            // leave room after the last point so a bug marker there is visible
            const pad = (max - min) * 0.02;
            return [min, max + pad];
          },
        },
        edges: { auto: true },
        asserts: { auto: true },
      },
      series: [
        {
          label: round ? 'round' : 'wall',
          value: (u, v) => (v == null ? '\u2013' : round ? String(v) : fwall(v)),
        },
        {
          label: 'edges',
          scale: 'edges',
          stroke: col.edges,
          width: 2,
          points: { show: showPoints, size: 5 },
          value: (u, v) => fint(v),
        },
        {
          label: 'assertion states',
          scale: 'asserts',
          stroke: col.asserts,
          width: 2,
          dash: [6, 3],
          points: { show: showPoints, size: 5 },
          value: (u, v) => fint(v),
        },
      ],
      axes: [
        {
          scale: 'x',
          label: round ? 'round' : 'wall time',
          labelSize: compact ? 18 : 22,
          font,
          labelFont: font,
          stroke: col.axis,
          grid: { stroke: col.grid },
          ticks: { stroke: col.grid },
          incrs: round ? [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000]
            : [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400],
          values: (u, vals) => vals.map((v) => (round ? fint(v) : fwallAxis(v))),
          space: round ? 40 : 60,
        },
        {
          scale: 'edges',
          label: compact ? undefined : 'edges',
          labelSize: compact ? 0 : 22,
          font,
          labelFont: font,
          stroke: col.edges,
          grid: { stroke: col.grid },
          ticks: { stroke: col.grid },
          values: (u, vals) => vals.map((v) => fint(v)),
          size: axisSize,
        },
        {
          scale: 'asserts',
          side: 1,
          label: compact ? undefined : 'assertion states',
          labelSize: compact ? 0 : 22,
          font,
          labelFont: font,
          stroke: col.asserts,
          grid: { show: false },
          ticks: { stroke: col.grid },
          values: (u, vals) => vals.map((v) => fint(v)),
          size: axisSize,
        },
      ],
      plugins: [bugMarkers(() => this.markers, col)],
    };
    this.u = new uPlot(opts, this.data(), this.el);
  }

  update(history, bugs) {
    this.history = Array.isArray(history) ? history : [];
    this.bugs = Array.isArray(bugs) ? bugs : [];
    this.el.setAttribute('data-points', String(this.history.length));
    if (!this.history.length) {
      if (this.u) {
        this.u.destroy();
        this.u = null;
      }
      return;
    }
    if (!this.u) this.create();
    else this.u.setData(this.data());
  }
}
