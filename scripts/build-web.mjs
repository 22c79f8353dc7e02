// Bundles the web interface (src/web/ui, Preact) with esbuild into dist/web/assets/app.js and app.css.
// Run by `npm run build` after tsc; the web plugin serves the files (src/web/index.ts ASSETS_DIR).
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const outdir = join(root, 'dist', 'web', 'assets');
await build({
  entryPoints: { app: join(root, 'src', 'web', 'ui', 'main.tsx') },
  bundle: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  minify: true,
  sourcemap: false,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir,
  loader: { '.css': 'css' },
  logLevel: 'warning',
  legalComments: 'none',
});
const js = readFileSync(join(outdir, 'app.js'));
const gz = gzipSync(js).length;
// The webmail's JavaScript must stay under 150 KB gzipped.
if (gz > 150 * 1024) {
  console.error(`web bundle is ${gz} bytes gzipped (limit 153600)`);
  process.exit(1);
}
