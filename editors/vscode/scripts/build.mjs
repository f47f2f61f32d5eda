// Bundles the extension and its one runtime dependency (vscode-languageclient) into
// out/extension.js, so the .vsix needs no node_modules.
import * as esbuild from 'esbuild';

await esbuild.build({
  entryPoints: ['src/extension.ts'],
  bundle: true,
  outfile: 'out/extension.js',
  external: ['vscode'],
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minify: true,
  logLevel: 'info',
});
