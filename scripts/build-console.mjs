// Bundles the web console (src/console/web) into dist/console/web, which the server serves under
// /console/. Run by `npm run build`; the page's TypeScript is type-checked by its own tsconfig first.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const source = 'src/console/web';
const out = 'dist/console/web';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [`${source}/main.ts`],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  legalComments: 'eof',
  outfile: `${out}/app.js`,
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css', 'icon.svg']) copyFileSync(`${source}/${file}`, `${out}/${file}`);
