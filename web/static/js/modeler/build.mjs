// Bundles the modeler (bpmn-js Modeler, bpmn-js-properties-panel, Caseflow's groups) with esbuild into
// web/static/vendor/modeler/, with the CSS it needs. Run from the repository root after `npm install`:
// `node web/static/js/modeler/build.mjs` (the Makefile's static step does).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const out = join(root, 'web', 'static', 'vendor', 'modeler');
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(root, 'web', 'static', 'js', 'modeler', 'modeler.js')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outfile: join(out, 'modeler.js'),
  legalComments: 'linked',
  logLevel: 'warning',
});

const css = {
  'bpmn-js/dist/assets/diagram-js.css': 'diagram-js.css',
  'bpmn-js/dist/assets/bpmn-js.css': 'bpmn-js.css',
  // the icon font as files: the pages' Content-Security-Policy allows no data: fonts
  'bpmn-js/dist/assets/bpmn-font/css/bpmn.css': 'bpmn-font/css/bpmn.css',
  'bpmn-js/dist/assets/bpmn-font/font/bpmn.woff2': 'bpmn-font/font/bpmn.woff2',
  'bpmn-js/dist/assets/bpmn-font/font/bpmn.woff': 'bpmn-font/font/bpmn.woff',
  '@bpmn-io/properties-panel/dist/assets/properties-panel.css': 'properties-panel.css',
  'bpmn-js-bpmnlint/dist/assets/css/bpmn-js-bpmnlint.css': 'bpmn-js-bpmnlint.css',
  'bpmn-js-properties-panel/LICENSE': 'LICENSE.bpmn-js-properties-panel',
  'bpmn-js/LICENSE': 'LICENSE.bpmn-js',
};
for (const [src, dst] of Object.entries(css)) {
  mkdirSync(dirname(join(out, dst)), { recursive: true });
  copyFileSync(join(root, 'node_modules', src), join(out, dst));
}
console.log('built web/static/vendor/modeler/');
