// Builds the dashboard front end: node web/build.mjs OUTDIR
// writes OUTDIR/index.html, app.js (one minified bundle, uPlot inside),
// app.css (uPlot's CSS and ours) and favicon.svg. Same input, same bytes.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');

if (process.argv.length !== 3 || process.argv[2].startsWith('-')) {
  console.error('usage: node build.mjs OUTDIR');
  process.exit(2);
}
const out = resolve(process.argv[2]);

let esbuild;
try {
  esbuild = await import('esbuild');
} catch (e) {
  console.error(`build.mjs: cannot load esbuild (${e.message}); run "npm ci" in ${here} (or use build.sh)`);
  process.exit(1);
}

const common = {
  absWorkingDir: here,
  bundle: true,
  minify: true,
  write: false,
  logLevel: 'warning',
  legalComments: 'eof',
  charset: 'utf8',
};

async function one(options) {
  const r = await esbuild.build({ ...common, ...options });
  if (r.outputFiles.length !== 1) throw new Error(`expected one output, got ${r.outputFiles.length}`);
  return r.outputFiles[0].contents;
}

// uPlot's notice (its MIT license asks for it; its own header comment is not
// a legal comment, so minifying would drop it)
const uplotPkg = JSON.parse(readFileSync(join(here, 'node_modules', 'uplot', 'package.json'), 'utf8'));
const banner = `/*! ChaosControl dashboard. Includes uPlot v${uplotPkg.version}: Copyright (c) 2025, Leon Sorokin, ` +
  'MIT License, https://github.com/leeoniya/uPlot */';

const js = await one({
  banner: { js: banner },
  entryPoints: [join(src, 'main.js')],
  outfile: join(out, 'app.js'),
  format: 'iife',
  target: ['es2020', 'chrome90', 'firefox90', 'safari15'],
});
const css = await one({
  entryPoints: [join(src, 'style.css')],
  outfile: join(out, 'app.css'),
  banner: { css: banner },
  loader: { '.css': 'css' },
});

const version = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, 12);
const favicon = readFileSync(join(src, 'favicon.svg'));
let html = readFileSync(join(src, 'index.html'), 'utf8');
// the references carry their content's hash, so a browser never mixes an
// old app.js with a new page
const refs = { 'app.js': js, 'app.css': css, 'favicon.svg': favicon };
for (const [name, buf] of Object.entries(refs)) {
  const re = new RegExp(`(src|href)="${name.replace('.', '\\.')}"`, 'g');
  if (!re.test(html)) throw new Error(`index.html does not reference ${name}`);
  html = html.replace(re, `$1="${name}?v=${version(buf)}"`);
}

mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'index.html'), html);
writeFileSync(join(out, 'app.js'), js);
writeFileSync(join(out, 'app.css'), css);
writeFileSync(join(out, 'favicon.svg'), favicon);
