// discard_regex on a linear-time engine (RE2, re2js): the same decisions as the JavaScript RegExp it
// replaced on ordinary patterns, and patterns it cannot run refused at load time (the CLI's exit 2 for
// them: process/command-line-errors.test.ts). A pattern that backtracking engines take hours over, in
// real runs with the process answering SIGTERM and /health: process/discard-regex-runs.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRegex } from '../src/config/values.js';
import { compileDiscardRules, compileStartMatcher, discardedBy } from '../src/decode/discard.js';
import type { JsonObject } from '../src/decode/finding.js';
import { readSample, sampleNames } from '../support/paths.js';
import { refusalOf } from './helpers/config-refusal.js';

/** 41 'a' and a '!': `(a+)+$` fails on it only after trying every way of splitting the a's, 2^41 for a backtracker. */
const EVIL_TITLE = `${'a'.repeat(41)}!`;

/** What discard.ts did before the engine changed: a sticky JavaScript RegExp. */
function previousEngine(pattern: string): (text: string) => boolean {
  const regex = new RegExp(pattern, 'y');
  return (text) => {
    regex.lastIndex = 0;
    return regex.test(text);
  };
}

/** Every string, number and boolean of the public sample findings, as discard_regex sees them. */
function sampleValues(): string[] {
  const values = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (typeof value === 'object' && value !== null) Object.values(value).forEach(walk);
    else if (typeof value === 'string') values.add(value);
    else if (typeof value === 'number' || typeof value === 'boolean') values.add(JSON.stringify(value));
  };
  for (const name of sampleNames()) walk(JSON.parse(readSample(name)));
  return [...values];
}

// Patterns an operator writes for GuardDuty: literal prefixes, types, severities, addresses, ports.
const ORDINARY = [
  'Recon:EC2',
  'EC2',
  'Recon:EC2/PortProbeUnprotectedPort',
  'UnauthorizedAccess:.*TorRelay',
  '(Recon|Discovery):',
  '[A-Z][a-zA-Z]+:[A-Za-z0-9]+/',
  '.*Tor',
  '.*[Pp]ort',
  '8$',
  '[78](\\.\\d+)?$',
  '\\d+$',
  '\\d{1,3}(\\.\\d{1,3}){3}$',
  '10\\.',
  'true',
  'false',
  'arn:aws:guardduty:[a-z0-9-]+:\\d{12}:',
  '443|80|22',
  '(a+)+b',
  'x*',
  '.',
  '^i-',
  '\\w+-\\w+',
  '[^:]+:[^/]+/',
];

describe('the compiled matcher', () => {
  const values = sampleValues();

  test(`same decisions as the previous JavaScript RegExp: ${ORDINARY.length} patterns over every value of the sample findings`, () => {
    assert.ok(values.length > 300, `only ${values.length} sample values`);
    let matched = 0;
    for (const pattern of ORDINARY) {
      const before = previousEngine(pattern);
      const now = compileStartMatcher(pattern);
      for (const value of values) {
        assert.equal(now(value), before(value), `${JSON.stringify(pattern)} against ${JSON.stringify(value)}`);
        if (before(value)) matched++;
      }
    }
    assert.ok(matched > 100, 'the patterns match something');
  });

  test('anchored at the start only, like re.match; case-sensitive', () => {
    const m = compileStartMatcher('Recon');
    assert.equal(m('Recon:EC2/PortProbeUnprotectedPort'), true);
    assert.equal(m('X Recon'), false);
    assert.equal(m('recon:EC2'), false);
    assert.equal(compileStartMatcher('EC2')('Recon:EC2'), false);
    assert.equal(compileStartMatcher('.*EC2')('Recon:EC2'), true);
    assert.equal(compileStartMatcher('Recon$')('Recon:EC2'), false, '$ is the end of the value');
    assert.equal(compileStartMatcher('a|Recon')('Recon'), true, 'an alternation is anchored as a whole');
  });

  test('an unterminated \\Q quote (it would swallow the anchoring group) still matches at the start only', () => {
    const m = compileStartMatcher('Recon:\\QEC2/');
    assert.equal(m('Recon:EC2/PortProbe'), true);
    assert.equal(m('xRecon:EC2/'), false);
    assert.equal(m('Recon:EC2'), false);
  });

  test('RE2 syntax that Python has and JavaScript had not: inline flags, (?P<name>), \\A and \\z', () => {
    assert.equal(compileStartMatcher('(?i)recon:ec2')('Recon:EC2/PortProbeUnprotectedPort'), true);
    assert.equal(compileStartMatcher('(?P<kind>Recon):')('Recon:EC2'), true);
    assert.equal(compileStartMatcher('\\ARecon')('Recon'), true);
    assert.equal(compileStartMatcher('Recon\\z')('Recon'), true);
    assert.equal(compileStartMatcher('Recon\\z')('Recon:EC2'), false);
  });

  test('linear time: (a+)+$ against 41 a and a "!" does not match, and 10,000 such matches take well under a second', () => {
    const m = compileStartMatcher('(a+)+$');
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) assert.equal(m(EVIL_TITLE), false);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 5_000, `${elapsed.toFixed(0)} ms`);
    assert.equal(m('a'.repeat(41)), true, 'without the "!" it matches to the end');
    assert.equal(compileStartMatcher('(x+x+)+y')('x'.repeat(5_000)), false);
  });
});

describe('discard rules on findings', () => {
  const finding = (): JsonObject => ({
    id: 'f',
    type: 'Recon:EC2/PortProbeUnprotectedPort',
    severity: 8,
    confidence: 7.5,
    count: 5.0,
    service: {
      archived: false,
      resourceRole: 'TARGET',
      additionalInfo: { tags: ['alpha', 'beta'], empty: null, nested: { list: [{ port: 22 }, { port: 443 }] } },
    },
  });
  const discards = (field: string, pattern: string) => discardedBy(finding(), compileDiscardRules([{ field, pattern }])) !== null;

  test('numbers by their JSON text (no ".0" on whole numbers), booleans as true/false', () => {
    assert.equal(discards('severity', '8$'), true);
    assert.equal(discards('severity', '8\\.0'), false);
    assert.equal(discards('confidence', '7\\.5$'), true);
    assert.equal(discards('count', '5$'), true);
    assert.equal(discards('count', '5\\.0'), false);
    assert.equal(discards('service.archived', 'false'), true);
    assert.equal(discards('service.archived', 'False'), false);
  });

  test('paths go through lists, any element matching discards; objects, null and missing fields never match', () => {
    assert.equal(discards('service.additionalInfo.tags', 'beta'), true);
    assert.equal(discards('service.additionalInfo.tags', 'gamma'), false);
    assert.equal(discards('service.additionalInfo.nested.list.port', '443'), true);
    assert.equal(discards('service.additionalInfo.nested.list.port', '80'), false);
    assert.equal(discards('service.additionalInfo', '.*'), false);
    assert.equal(discards('service.additionalInfo.empty', '.*'), false);
    assert.equal(discards('no.such.field', '.*'), false);
  });

  test('several rules: the first that matches is named', () => {
    const rules = compileDiscardRules([
      { field: 'type', pattern: 'Canary' },
      { field: 'service.resourceRole', pattern: 'TARGET' },
      { field: 'severity', pattern: '8' },
    ]);
    const by = discardedBy(finding(), rules);
    assert.equal(by?.pattern, 'TARGET');
    assert.deepEqual(by?.path, ['service', 'resourceRole']);
  });
});

describe('patterns the engine cannot run are configuration errors', () => {
  const unsupported: Array<[pattern: string, says: string]> = [
    ['(a)\\1', 'back-references'],
    ['(?P<x>a)(?P=x)', 'back-references'],
    ['(?<x>a)\\k<x>', 'back-references'],
    ['Recon(?=:EC2)', 'lookahead and lookbehind'],
    ['Recon(?!:EC2)', 'lookahead and lookbehind'],
    ['(?<=Recon):EC2', 'lookahead and lookbehind'],
    ['(?<!Recon):EC2', 'lookahead and lookbehind'],
    ['(?>a+)b', 'atomic groups'],
    ['a++b', 'possessive quantifiers'],
    ['(unclosed', 'missing closing )'],
    ['a{2000}', 'invalid repeat count'],
  ];

  test('parseRegex refuses them with the reason', () => {
    for (const [pattern, says] of unsupported) {
      const parsed = parseRegex(pattern);
      assert.equal(parsed.ok, false, pattern);
      if (!parsed.ok) assert.ok(parsed.reason.includes(says), `${pattern}: ${parsed.reason}`);
    }
    for (const pattern of [...ORDINARY, '(?i)canary', '(?P<k>Recon)', 'Recon:\\QEC2/']) assert.equal(parseRegex(pattern).ok, true, pattern);
  });

  const xml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

  for (const [pattern, says] of unsupported.slice(0, 9)) {
    test(`a configuration with it is refused naming file, line and the pattern: ${pattern}`, () => {
      const { file, message } = refusalOf(
        `<ossec_config>
  <wodle name="aws-s3">
    <bucket type="guardduty">
      <name>b</name>
      <discard_regex field="type">Canary</discard_regex>
      <discard_regex field="title">${xml(pattern)}</discard_regex>
    </bucket>
  </wodle>
</ossec_config>
`,
      );
      assert.ok(message.startsWith(`${file}:6: <discard_regex> "${pattern}" `), message);
      assert.ok(message.includes(says), message);
    });
  }
});
