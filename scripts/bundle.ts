// `npm run build`, after tsc: the command line becomes one entry file (dist/src/cli.js) and its chunks
// (dist/src/chunks/). Resolving and compiling some 300 modules (the AWS SDK's most of all) took half
// of a short run's start-up: 0.45 s to 0.25 s here.
// Native modules stay outside (their .node files load from node_modules), and the bundle keeps the
// entry's shebang. The modules tsc wrote stay beside it for the tests that import them.
import { chmodSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = join(root, 'dist', 'src', 'cli.js');

// Chunks are named by their content: those of an earlier build would pile up.
rmSync(join(dirname(entry), 'chunks'), { recursive: true, force: true });
await build({
  // Code only some runs need (the subcommands, the SQS subscriber, metrics, the progress bar, and the
  // SDK's rarer credential providers) goes to chunks of its own, loaded when first imported: a pass
  // then compiles and keeps less code (peak RSS -13 MB on dataset a, docs/performance.md).
  entryPoints: { cli: entry },
  outdir: dirname(entry),
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  splitting: true,
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
