// The V8 memory flags (MEMORY_FLAGS in src/cli.ts) that bound the collector's heap: the executable's
// shebang starts node with them; started as `node dist/src/cli.js`, the collector runs without them and
// says so in one warning.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { MEMORY_FLAGS } from '../../src/cli.js';
import { runCli, startCli, writeConfig } from '../../support/cli.js';
import { useFakeS3 } from '../../support/s3.js';
import { tempDir } from '../helpers/files.js';

describe('V8 memory flags', () => {
  const fake = useFakeS3();

  test('the executable starts node with them; `node dist/src/cli.js` runs without them and says so', async () => {
    const dir = tempDir();
    fake.s3.createBucket('memory-flags');
    const config = writeConfig(dir, [{ name: 'memory-flags', endpoint: fake.s3.endpoint }]);
    const args = ['--config', config, '--once', '--state', join(dir, 'state.db'), '--output', 'file:/dev/null'];
    const started = (logs: Array<Record<string, unknown>>) => logs.find((l) => String(l['msg']).startsWith('guardduty-wodle 0.1.0 started'));
    const warned = (logs: Array<Record<string, unknown>>) => logs.filter((l) => String(l['msg']).startsWith("started without the executable's V8 memory flags"));

    const viaBin = await runCli(args);
    assert.equal(viaBin.code, 0, viaBin.stderr);
    assert.equal(started(viaBin.logs)?.['memoryFlags'], true);
    assert.deepEqual(warned(viaBin.logs), []);

    const viaNode = await startCli(args, { mode: 'node' }).done;
    assert.equal(viaNode.code, 0, viaNode.stderr);
    assert.equal(started(viaNode.logs)?.['memoryFlags'], false);
    const warning = warned(viaNode.logs);
    assert.equal(warning.length, 1);
    assert.deepEqual(warning[0]!['missing'], MEMORY_FLAGS);
    assert.match(String(warning[0]!['msg']), /start dist\/src\/cli\.js itself/);
  });
});
