// `npm run bench:engine`: what the request size costs the wazuh-engine output. 40,000 GuardDuty events
// (one public sample's, ~2.4 KB each) go through the output to a stand-in engine in another process
// (support/engine.ts, started by this script), for several request limits; prints wall time, the
// collector side's CPU and the requests made. The limits in src/emit/engine.ts are chosen from it.
import { fork } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineOutput, type RequestLimits } from '../src/emit/engine.js';
import { Outputs } from '../src/emit/index.js';
import { findingToEvents, type JsonObject } from '../src/decode/finding.js';
import type { EncodedEvent } from '../src/event-batch.js';
import { readSample } from '../support/paths.js';
import { EngineStandIn } from '../support/engine.js';

const EVENTS = 40_000;
const OBJECT_EVENTS = 20;

if (process.argv[2] === 'serve') {
  const engine = await EngineStandIn.start(process.argv[3]!, { keep: false });
  process.send?.('ready');
  process.on('message', () => process.send?.(engine.requests));
} else {
  const finding = JSON.parse(readSample('SEKOIA-IO__UnauthorizedAccess-EC2-TorRelay.json')) as JsonObject;
  const events: EncodedEvent[] = Array.from({ length: EVENTS }, (_, i) => {
    const [event] = findingToEvents({ ...structuredClone(finding), id: `f${i}` }, 'guardduty', { bucket: 'b', key: `k${i}`, accountAlias: '' });
    return { json: event!.json, rulesJson: event!.rulesJson, findingId: `f${i}`, fields: event!.fields };
  });
  const bytes = events.reduce((sum, e) => sum + e.json.length, 0);
  console.log(`${EVENTS} events, ${(bytes / 1e6).toFixed(1)} MB, delivered ${OBJECT_EVENTS} at a time by 32 objects at once`);
  const socket = join(mkdtempSync(join(tmpdir(), 'gdw-bench-')), 'queue-http.sock');
  const server = fork(fileURLToPath(import.meta.url), ['serve', socket]);
  await new Promise((resolve) => server.once('message', resolve));
  const requestsSoFar = () => new Promise<number>((resolve) => { server.once('message', (n) => resolve(n as number)); server.send('count'); });
  console.log('request limit        wall      CPU   requests');
  const limits: RequestLimits[] = [
    { bytes: 64 * 1024, events: 2000 },
    { bytes: 256 * 1024, events: 2000 },
    { bytes: 1024 * 1024, events: 2000 },
    { bytes: 4 * 1024 * 1024, events: 2000 },
    { bytes: 1024 * 1024, events: 100 },
    { bytes: 1024 * 1024, events: 10_000 },
  ];
  for (const limit of limits) {
    const outputs = new Outputs([new EngineOutput(socket, { id: '000', name: 'bench' }, 60_000, limit)]);
    await outputs.open();
    const before = await requestsSoFar();
    const cpu = process.cpuUsage();
    const started = performance.now();
    let next = 0;
    const object = async () => {
      while (next < EVENTS) {
        const from = next;
        next += OBJECT_EVENTS;
        await outputs.deliver(events.slice(from, from + OBJECT_EVENTS), { bucket: 'b', key: 'k' });
      }
    };
    await Promise.all(Array.from({ length: 32 }, object));
    const wall = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const requests = (await requestsSoFar()) - before;
    await outputs.close();
    const label = `${limit.bytes / 1024} KiB, ${limit.events} ev`;
    console.log(`${label.padEnd(18)} ${(wall / 1000).toFixed(2).padStart(6)} s ${((used.user + used.system) / 1e6).toFixed(2).padStart(6)} s ${String(requests).padStart(8)}`);
  }
  server.kill();
}
