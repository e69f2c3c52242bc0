// `npm run build`, after tsc: the command line becomes one file. Resolving and compiling some 300
// modules (the AWS SDK's most of all) took half of a short run's start-up: 0.45 s to 0.25 s here.
// Native modules stay outside (their .node files load from node_modules), and the bundle keeps the
// entry's shebang. The modules tsc wrote stay beside it for the tests that import them.
import { chmodSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = join(root, 'dist', 'src', 'cli.js');

await build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Packages with native code, and the SDK's optional CRT bindings, are loaded from node_modules.
  external: ['better-sqlite3', 'unix-dgram', 'zlib-sync', 'snappy', 'aws-crt', '@aws-sdk/signature-v4-crt'],
  // CommonJS packages inside an ES module bundle still call require().
  banner: { js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);" },
  sourcemap: true,
  logLevel: 'warning',
});
chmodSync(entry, 0o755);
