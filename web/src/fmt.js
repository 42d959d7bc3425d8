// Number, time and duration formatting.

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

export const DASH = '\u2013';

export function fint(v) {
  return isNum(v) ? intFmt.format(v) : DASH;
}

export function ffix(v, digits = 1) {
  return isNum(v) ? v.toFixed(digits) : DASH;
}

/** Wall-clock seconds: "16.4 s", "4m41s", "2h05m". */
export function fwall(sec) {
  if (!isNum(sec)) return DASH;
  if (sec < 60) return sec.toFixed(1) + ' s';
  const t = Math.round(sec);
  const hrs = Math.floor(t / 3600), min = Math.floor((t % 3600) / 60), s = t % 60;
  if (hrs > 0) return `${hrs}h${String(min).padStart(2, '0')}m`;
  return `${min}m${String(s).padStart(2, '0')}s`;
}

/** Short wall-clock label for chart axes: "45s", "4m", "4m30s", "2h". */
export function fwallAxis(sec) {
  if (!isNum(sec)) return '';
  if (sec < 60) return (Math.round(sec * 10) / 10) + 's';
  const t = Math.round(sec);
  const hrs = Math.floor(t / 3600), min = Math.floor((t % 3600) / 60), s = t % 60;
  if (hrs > 0) return min ? `${hrs}h${String(min).padStart(2, '0')}m` : `${hrs}h`;
  return s ? `${min}m${String(s).padStart(2, '0')}s` : `${min}m`;
}

/** Virtual time in ns as seconds: "2.857505 s". */
export function fvirt(ns, digits = 6) {
  return isNum(ns) ? (ns / 1e9).toFixed(digits) + ' s' : DASH;
}

const UNITS = { ns: 1, us: 1e3, '\u00b5s': 1e3, ms: 1e6, s: 1e9, m: 60e9, min: 60e9, h: 3600e9 };

/** A duration string ("508594066ns", "385ms", "1.5s", "16300us") or a
 * number (ns) to ns; NaN if it is neither. */
export function parseDuration(v) {
  if (isNum(v)) return v;
  if (typeof v !== 'string') return NaN;
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)(?:e([+-]?\d+))?\s*(ns|us|\u00b5s|ms|s|min|m|h)?\s*$/.exec(v);
  if (!m) return NaN;
  const n = parseFloat(m[1]) * (m[2] ? Math.pow(10, +m[2]) : 1);
  return n * UNITS[m[3] || 'ns'];
}

/** ns as a short human duration: "385 ms", "1.26 s", "16.3 µs". */
export function fdur(ns) {
  if (!isNum(ns)) return DASH;
  const a = Math.abs(ns);
  const r = (x) => String(Math.abs(x) >= 100 ? Math.round(x) : +x.toFixed(Math.abs(x) >= 10 ? 1 : 2));
  if (a >= 1e9) return r(ns / 1e9) + ' s';
  if (a >= 1e6) return r(ns / 1e6) + ' ms';
  if (a >= 1e3) return r(ns / 1e3) + ' \u00b5s';
  return r(ns) + ' ns';
}

export function basename(p) {
  if (typeof p !== 'string') return '';
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}
