// The dashboard in headless Chromium (Debian's, driven by playwright-core
// from web/node_modules), for tests/web/dashboard.sh. Prints one TAP-like
// line per check ("ok - ..." / "not ok - ...", "# ..." comments); the shell
// test numbers them.
//
//   node dashboard.mjs live URL OUTDIR     a running exploration: the chart
//       gains rounds through SSE, a bug appears and opens, hostile paths
//       get 4xx, screenshots OUTDIR/dashboard.png and dashboard-phone.png
//   node dashboard.mjs serve URL REPORT    a finished one (chaoscontrol
//       serve): the page's numbers equal report.txt's
//   node dashboard.mjs shot URL FILE.png   the top of the page, 1280x1100
//       (the README's docs/dashboard.png)
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'web', 'package.json'));
const { chromium } = require('playwright-core');

const [mode, url, arg] = process.argv.slice(2);
let failed = 0;
const ok = (cond, desc) => {
  console.log(`${cond ? 'ok' : 'not ok'} - ${desc}`);
  if (!cond) failed++;
  return cond;
};
const diag = (s) => console.log(`# ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitHttp(u, seconds) {
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000) {
    try {
      const r = await fetch(u);
      if (r.ok) return true;
    } catch { /* not up yet */ }
    await sleep(500);
  }
  return false;
}

const browser = await chromium.launch({
  executablePath: process.env.CC_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

  if (!ok(await waitHttp(url + 'api/state', 300), `the dashboard answers at ${url} (within 300 s)`))
    process.exit(1);
  await page.goto(url);
  const attr = (sel, name) => page.$eval(sel, (e, n) => e.getAttribute(n), name).catch(() => null);

  if (mode === 'live') {
    await page.evaluate(() => { window.__ccNoReload = 1; });
    await page.waitForSelector('#coverage-chart[data-points]:not([data-points="0"])', { timeout: 180000 })
      .catch(() => null);
    const p0 = Number(await attr('#coverage-chart', 'data-points'));
    ok(p0 >= 1, `the coverage chart shows data (${p0} round(s) plotted)`);
    ok(await page.isHidden('#empty'), 'the "waiting" notice is gone once a round is in');
    const t0 = Date.now();
    let p1 = p0;
    while (Date.now() - t0 < 180000 && p1 < p0 + 2) {
      await sleep(250);
      p1 = Number(await attr('#coverage-chart', 'data-points'));
    }
    const same = await page.evaluate(() => window.__ccNoReload === 1);
    ok(p1 >= p0 + 2 && same, `it gains points over two more rounds without a reload (${p0} -> ${p1})`);
    ok((await page.textContent('#conn', { timeout: 5000 }).catch(() => null))?.trim() === 'live', 'the event stream is connected ("live")');

    const row = await page.waitForSelector('#bugs-table tbody tr[data-bug]', { timeout: 180000 })
      .catch(() => null);
    ok(row !== null, 'a bug appears in the bug table');
    if (row) {
      const n = await row.getAttribute('data-bug');
      await row.click();
      const det = await page.waitForSelector(`#bug-detail[data-bug="${n}"]`, { timeout: 30000 })
        .catch(() => null);
      ok(det !== null, `clicking bug ${n} opens its detail`);
      const marks = await page.$$eval('#bug-timeline *', (es) => es.length).catch(() => 0);
      ok(marks > 3, `its timeline is drawn (${marks} SVG elements)`);
      const repro = (await page.textContent('#bug-reproduce').catch(() => '')) || '';
      ok(/^chaoscontrol reproduce --bug \S*bug_\d+\.json$/.test(repro.trim()),
         `it shows the reproduce command (${repro.trim()})`);
    }
    const rows = await page.$$eval('#props-table tbody tr', (es) => es.length);
    await page.click('button[data-filter="failed"]');
    const verdicts = await page.$$eval('#props-table tbody tr',
      (es) => es.filter((e) => e.offsetParent !== null).map((e) => e.getAttribute('data-verdict')));
    ok(rows >= 2 && verdicts.length >= 1 && verdicts.every((v) => v === 'failed'),
       `the property filter "failed" leaves only failed properties (${verdicts.length} of ${rows})`);
    await page.click('button[data-filter="all"]');
    for (const t of ['#rounds-table', '#frontier-table', '#links-table', '#faults-table']) {
      const k = await page.$$eval(`${t} tbody tr`, (es) => es.length).catch(() => 0);
      ok(k >= 1, `${t} has rows (${k})`);
    }
    await page.screenshot({ path: path.join(arg, 'dashboard.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(500);
    await page.screenshot({ path: path.join(arg, 'dashboard-phone.png'), fullPage: false });
    diag(`screenshots: ${path.join(arg, 'dashboard.png')}, dashboard-phone.png`);

    // hostile requests: 4xx, and the server still answers afterwards
    const hostile = ['files/../checkpoint.json', 'files/..%2fcheckpoint.json', 'files/%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      'files/.hidden', 'files/', 'api/bug/../../etc/passwd', 'api/bug/1x', 'api/bug/99999', 'nope',
      'files/' + 'a'.repeat(4000), '..%2f..%2fetc%2fpasswd', 'files/%00'];
    const codes = [];
    for (const h of hostile) {
      let c = 0;
      try { c = (await fetch(url + h)).status; } catch { c = -1; }
      codes.push(c);
    }
    let post = 0;
    try { post = (await fetch(url + 'api/state', { method: 'POST', body: 'x' })).status; } catch { post = -1; }
    ok(codes.every((c) => c >= 400 && c < 500) && post === 405,
       `hostile paths get 4xx (${codes.join(' ')}), POST gets ${post}`);
    ok(await waitHttp(url + 'api/state', 10), 'the server still answers after them');
  } else if (mode === 'shot') {
    // the README's picture: node dashboard.mjs shot URL FILE.png
    await page.setViewportSize({ width: 1280, height: 1100 });
    await page.waitForSelector('#coverage-chart[data-points]:not([data-points="0"])', { timeout: 60000 });
    await sleep(1000);
    await page.screenshot({ path: arg });
    ok(true, `screenshot ${arg}`);
  } else if (mode === 'serve') {
    const rep = readFileSync(arg, 'utf8');
    const m = rep.match(/status: +(\d+) rounds, (\d+) branches/);
    const c = rep.match(/coverage: (\d+) edges, (\d+) assertion states/);
    const bugs = (rep.match(/^bug \d+: /gm) || []).length;
    await page.waitForSelector('#status[data-rounds]', { timeout: 60000 }).catch(() => null);
    const got = {
      rounds: await attr('#status', 'data-rounds'), branches: await attr('#status', 'data-branches'),
      edges: await attr('#status', 'data-edges'), asserts: await attr('#status', 'data-assert-bits'),
    };
    const want = { rounds: m?.[1], branches: m?.[2], edges: c?.[1], asserts: c?.[2] };
    diag(`report.txt: ${JSON.stringify(want)}; page: ${JSON.stringify(got)}`);
    ok(m && c && Object.keys(want).every((k) => got[k] === want[k]),
       'the page shows report.txt\'s rounds, branches, edges and assertion states');
    const brows = await page.$$eval('#bugs-table tbody tr[data-bug]', (es) => es.length);
    const rrows = await page.$$eval('#rounds-table tbody tr', (es) => es.length);
    ok(brows === bugs && rrows === Number(m?.[1]),
       `and as many bugs (${brows}, report ${bugs}) and rounds (${rrows}) as report.txt`);
    ok((await attr('#status', 'data-live')) === 'false', 'it says the exploration is finished');
    const conn = (await page.textContent('#conn', { timeout: 5000 }).catch(() => null))?.trim();
    ok(conn === 'connected', `and its stream light says "connected", not "live" (${conn})`);
  }
  ok(errors.length === 0, `no errors in the page's console (${errors.slice(0, 3).join(' | ')})`);
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
