// The npm package, the tarball the README installs: what npm pack puts in it, and what it leaves out.
// (Where npm install -g --prefix /usr/local puts it, against the unit and the README: systemd-unit.test.ts.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ROOT } from '../../support/paths.js';
import { run } from '../helpers/processes.js';

describe('npm package', () => {
  test('npm pack holds the bundle, config/ and README.md, and nothing of test/, the sources or the CI runtimes', async () => {
    // --ignore-scripts: the list of what the build left in dist/ (the suite runs after npm run build),
    // without building again; npm pack itself runs prepare (tsc and the bundle) first.
    const result = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT });
    assert.equal(result.error, undefined, 'npm is on PATH');
    assert.equal(result.code, 0, result.stderr);
    const [pack] = JSON.parse(result.stdout) as Array<{ name: string; version: string; filename: string; files: Array<{ path: string; mode: number }> }>;
    assert.ok(pack);
    const paths = pack.files.map((f) => f.path);
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; bin: Record<string, string>; scripts: Record<string, string> };
    assert.equal(pack.filename, `${manifest.name}-${manifest.version}.tgz`);
    for (const path of ['package.json', 'README.md', 'dist/src/cli.js', 'config/guardduty-wodle.service', 'config/docker-entrypoint.sh', 'config/docker-compose.yml', 'config/ossec.conf']) {
      assert.ok(paths.includes(path), `${path} is in the tarball`);
    }
    assert.equal(manifest.bin['guardduty-wodle'], 'dist/src/cli.js', 'the bin is the bundle');
    assert.ok(pack.files.find((f) => f.path === 'dist/src/cli.js')!.mode & 0o111, 'the bundle is executable');
    assert.match(manifest.scripts['prepare'] ?? '', /\btsc\b.*&&.*bundle/, 'npm pack builds the bundle before packing');
    const stray = paths.filter((p) => /^(test|dist\/test|src|scripts|dist\/scripts|bench|dist\/bench|node_modules|\.node24|\.ci-node24|\.ci|\.git)\//.test(p) || /\.db(-|$)/.test(p));
    assert.deepEqual(stray, []);
  });
});
