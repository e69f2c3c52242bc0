// The Dockerfile's HEALTHCHECK command run for real (with this node, as the image's node runs it)
// against a /health stand-in: which port it asks, and its exit status for each answer.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HEALTHCHECK, PORT_VARIABLE } from '../helpers/packaging.js';
import { closed, freePort, healthServer, healthcheck } from '../helpers/processes.js';

describe('Dockerfile HEALTHCHECK', () => {
  test(`HEALTHCHECK asks /health on the port ${PORT_VARIABLE} names: 0 on 200, 1 on 503, on another port and when nothing listens`, async () => {
    assert.match(HEALTHCHECK.options, /--timeout=\d+s/);
    assert.ok(HEALTHCHECK.command.some((arg) => arg.includes(`process.env.${PORT_VARIABLE}`)), 'the port comes from the environment');
    let status = 200;
    const { server, port, paths } = await healthServer(0, () => status);
    const elsewhere = await freePort();
    try {
      assert.equal(await healthcheck({ [PORT_VARIABLE]: String(port) }), 0, `asks port ${port}`);
      assert.equal(await healthcheck({ [PORT_VARIABLE]: String(elsewhere) }), 1, 'asks the port named, not the one that answers');
      status = 503;
      assert.equal(await healthcheck({ [PORT_VARIABLE]: String(port) }), 1);
      assert.deepEqual(paths, ['/health', '/health']);
    } finally {
      await closed(server);
    }
    assert.equal(await healthcheck({ [PORT_VARIABLE]: String(port) }), 1, 'nothing listening');
  });

  test(`HEALTHCHECK asks port 9464 when ${PORT_VARIABLE} is unset or empty, as the entrypoint does`, async (t) => {
    let standIn: Awaited<ReturnType<typeof healthServer>>;
    try {
      standIn = await healthServer(9464, () => 200);
    } catch (err) {
      t.skip(`port 9464 is taken on this machine: ${(err as Error).message}`);
      return;
    }
    try {
      assert.equal(await healthcheck({}), 0);
      assert.equal(await healthcheck({ [PORT_VARIABLE]: '' }), 0);
      assert.deepEqual(standIn.paths, ['/health', '/health']);
    } finally {
      await closed(standIn.server);
    }
  });
});
