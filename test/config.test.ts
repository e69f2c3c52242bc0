// The configuration as the collector reads it (src/config/), in this process: values, Wazuh's types,
// and the one-line errors that stop it. The CLI prints such an error as `guardduty-wodle: <message>` and
// exits 2 (checked through the built CLI in process/command-line-errors.test.ts); here each refusal's
// message is checked as loadConfig gives it, from a real file.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KINDS, notifiedBucket, parseConfig } from '../src/config/load.js';
import { parseDate, parseInterval, parseRegion, parseRoleArn } from '../src/config/values.js';
import { refusalOf } from './helpers/config-refusal.js';

function bucketConf(inner: string, wodleExtra = ''): string {
  return `<ossec_config>
  <global><logall>no</logall></global>
</ossec_config>
<ossec_config>
  <wodle name="aws-s3">
    <disabled>no</disabled>
${wodleExtra}
    <bucket type="guardduty">
${inner}
    </bucket>
  </wodle>
</ossec_config>
`;
}

describe('a configuration the collector refuses', () => {
  const badCases: Array<[label: string, conf: string, mustName: string[]]> = [
    ['interval 10x', bucketConf('<name>b</name>', '<interval>10x</interval>'), ['<interval>', '10x', ':7:']],
    ['date 2026-13-45', bucketConf('<name>b</name><only_logs_after>2026-13-45</only_logs_after>'), ['<only_logs_after>', '2026-13-45']],
    ['empty <name>', bucketConf('<name></name>'), ['<name>', 'empty']],
    ['region mars-north', bucketConf('<name>b</name><regions>us-east-1,mars-north</regions>'), ['<regions>', 'mars-north']],
    ['discard_regex without field', bucketConf('<name>b</name><discard_regex>^x</discard_regex>'), ['<discard_regex>', 'field']],
    ['iam_role_duration 100', bucketConf('<name>b</name><iam_role_duration>100</iam_role_duration>'), ['<iam_role_duration>', '100', '900']],
    ['account id 12345', bucketConf('<name>b</name><aws_account_id>12345</aws_account_id>'), ['<aws_account_id>', '12345']],
    ['an unknown tag', bucketConf('<name>b</name><bucket_region>x</bucket_region>'), ['<bucket_region>', 'not a known option']],
    ['malformed XML', bucketConf('<name>b</name><path>x</pth>'), ['malformed XML', ':9:']],
    ['a regex that does not compile', bucketConf('<name>b</name><discard_regex field="type">(unclosed</discard_regex>'), ['<discard_regex>', '(unclosed']],
    ['a bad role ARN', bucketConf('<name>b</name><iam_role_arn>arn:aws:iam::12:user/x</iam_role_arn>'), ['<iam_role_arn>', 'arn:aws:iam::12:user/x']],
    ['a misspelt bucket type', bucketConf('<name>b</name>').replace('type="guardduty"', 'type="guarduty"'), [':8:', '<bucket>', 'type="guarduty"', 'did you mean type="guardduty"']],
  ];

  for (const [label, conf, mustName] of badCases) {
    test(`refused naming the problem: ${label}`, () => {
      const { file, message } = refusalOf(conf);
      assert.ok(message.includes(file), message);
      for (const part of mustName) assert.ok(message.includes(part), `${label}: "${message}" should name ${part}`);
    });
  }
});

describe('configuration values', () => {
  test('defaults: interval 10m, run_on_start yes, skip_on_error yes, only_logs_after unset', () => {
    const config = parseConfig(bucketConf('<name>b</name>'), 'ossec.conf');
    const wodle = config.wodles[0]!;
    assert.equal(wodle.intervalSeconds, 600);
    assert.equal(wodle.runOnStart, true);
    assert.equal(wodle.skipOnError, true);
    assert.equal(wodle.buckets[0]!.onlyLogsAfter, null);
    assert.equal(wodle.buckets[0]!.path, '');
  });

  test('intervals in every unit', () => {
    const cases: Array<[string, number]> = [['30s', 30], ['10m', 600], ['2h', 7200], ['1d', 86400], ['1w', 604800], ['1M', 2592000], ['45', 45]];
    for (const [text, seconds] of cases) assert.deepEqual(parseInterval(text), { ok: true, value: seconds }, text);
    for (const text of ['10x', '0m', 'm', '-5s', '1.5h']) assert.equal(parseInterval(text).ok, false, text);
  });

  test('dates: Wazuh form in any case and ISO; impossible days rejected', () => {
    assert.deepEqual(parseDate('2026-NOV-01'), { ok: true, value: '2026-11-01' });
    assert.deepEqual(parseDate('2026-nov-01'), { ok: true, value: '2026-11-01' });
    assert.deepEqual(parseDate('2024-Feb-29'), { ok: true, value: '2024-02-29' });
    assert.deepEqual(parseDate('2026-11-01'), { ok: true, value: '2026-11-01' });
    for (const text of ['2026-13-45', '2026-FEB-30', '2025-02-29', '2026-NOQ-01', '26-11-01', '2026/11/01']) assert.equal(parseDate(text).ok, false, text);
  });

  test('regions by AWS naming pattern, not a list', () => {
    for (const region of ['us-east-1', 'us-gov-west-1', 'cn-northwest-1', 'ap-southeast-7', 'mx-central-1', 'eusc-de-east-1', 'us-isob-east-1', 'xx-future-9']) {
      assert.equal(parseRegion(region).ok, true, region);
    }
    for (const region of ['mars-north', 'US-EAST-1', 'us_east_1', 'useast1', '']) assert.equal(parseRegion(region).ok, false, region);
  });

  test('role ARNs in every partition', () => {
    for (const arn of ['arn:aws:iam::123456789012:role/x', 'arn:aws-us-gov:iam::123456789012:role/path/x', 'arn:aws-cn:iam::123456789012:role/x']) {
      assert.equal(parseRoleArn(arn).ok, true, arn);
    }
    assert.equal(parseRoleArn('arn:aws:iam::123456789012:user/x').ok, false);
  });

  test('several <ossec_config> roots and several aws-s3 wodles are all read; a file without one is an error', () => {
    const two = `${bucketConf('<name>a</name>')}\n${bucketConf('<name>b</name>', '<interval>1h</interval>')}`;
    const config = parseConfig(two, 'x.conf');
    assert.deepEqual(config.wodles.map((w) => w.buckets[0]!.name), ['a', 'b']);
    assert.throws(() => parseConfig('<ossec_config><global/></ossec_config>', 'x.conf'), /x\.conf: no <wodle name="aws-s3">/);
  });

  test('<subscriber type="buckets">: queue, credentials and discard rules read; without sqs_name an error; other types skipped', () => {
    const wodle = (inner: string) => `<ossec_config><wodle name="aws-s3">\n${inner}\n</wodle></ossec_config>`;
    const config = parseConfig(
      wodle(
        '<subscriber type="buckets"><sqs_name>q</sqs_name><iam_role_arn>arn:aws:iam::123456789012:role/r</iam_role_arn>' +
          '<service_endpoint>http://127.0.0.1:4566</service_endpoint><discard_regex field="type">Canary</discard_regex></subscriber>',
      ),
      'x.conf',
    );
    const subscriber = config.wodles[0]!.subscribers[0]!;
    assert.equal(subscriber.sqsName, 'q');
    assert.equal(subscriber.access.iamRoleArn, 'arn:aws:iam::123456789012:role/r');
    assert.equal(subscriber.access.serviceEndpoint, 'http://127.0.0.1:4566');
    assert.deepEqual(subscriber.discardRegex, [{ field: 'type', pattern: 'Canary' }]);
    assert.throws(() => parseConfig(wodle('<subscriber type="buckets"><aws_profile>p</aws_profile></subscriber>'), 'x.conf'), /x\.conf:2: <subscriber> has no <sqs_name>/);
    assert.throws(() => parseConfig(wodle('<subscriber type="buckets"><sqs_name>q</sqs_name><regions>us-east-1</regions></subscriber>'), 'x.conf'), /<regions> is not a known option of <subscriber>/);
    const other = parseConfig(wodle('<subscriber type="security_lake"><sqs_name>q</sqs_name></subscriber>'), 'x.conf');
    assert.deepEqual(other.wodles[0]!.subscribers, []);
    assert.match(other.warnings[0]!, /x\.conf:2: <subscriber type="security_lake"> is not read by guardduty-wodle/);
  });

  test('a bucket named by a notification is read with the subscriber\'s access and discard rules, and nothing else of a <bucket>', () => {
    const config = parseConfig(
      '<ossec_config><wodle name="aws-s3">\n<subscriber type="buckets"><sqs_name>q</sqs_name><aws_profile>p</aws_profile>' +
        '<external_id>x</external_id><sts_endpoint>https://sts.example.com</sts_endpoint>' +
        '<discard_regex field="severity">^2</discard_regex></subscriber>\n</wodle></ossec_config>',
      'x.conf',
    );
    const bucket = notifiedBucket(config.wodles[0]!.subscribers[0]!, 'findings-eu');
    assert.equal(bucket.name, 'findings-eu');
    assert.equal(bucket.awsProfile, 'p');
    assert.equal(bucket.externalId, 'x');
    assert.equal(bucket.stsEndpoint, 'https://sts.example.com');
    assert.deepEqual(bucket.discardRegex, [{ field: 'severity', pattern: '^2' }]);
    assert.deepEqual([bucket.path, bucket.pathSuffix, bucket.accountIds, bucket.onlyLogsAfter, bucket.removeFromBucket], ['', '', null, null, false]);
    assert.equal(bucket.line, 2);
  });

  test('an option given twice and keys without their secret are errors naming the line', () => {
    assert.throws(() => parseConfig(bucketConf('<name>a</name>\n<name>b</name>'), 'x.conf'), /x\.conf:10: <name> is given more than once/);
    assert.throws(() => parseConfig(bucketConf('<name>a</name><access_key>AKIA</access_key>'), 'x.conf'), /access_key.*secret_key/);
  });
});

describe('bucket, service and subscriber types', () => {
  const wodle = (inner: string) => `<ossec_config>\n  <wodle name="aws-s3">\n${inner}\n  </wodle>\n</ossec_config>\n`;

  test("Wazuh's other bucket types are skipped with one note each; the GuardDuty bucket beside them is read", () => {
    const others = KINDS.bucket.wazuh.filter((t) => t !== 'guardduty');
    assert.deepEqual(others, ['cloudtrail', 'config', 'custom', 'vpcflow', 'cisco_umbrella', 'waf', 'alb', 'clb', 'nlb', 'server_access']);
    const inner = [...others, ...others].map((t) => `    <bucket type="${t}"><name>x-${t}</name></bucket>`).join('\n');
    const config = parseConfig(wodle(`${inner}\n    <bucket type="guardduty"><name>gd</name></bucket>`), 'x.conf');
    assert.deepEqual(config.wodles[0]!.buckets.map((b) => b.name), ['gd']);
    assert.equal(config.warnings.length, others.length, config.warnings.join('\n'));
    others.forEach((type, i) => assert.equal(config.warnings[i], `x.conf:${i + 3}: <bucket type="${type}"> is not collected by guardduty-wodle (only type="guardduty" is); skipped`));
  });

  test("Wazuh's services and other subscriber types are skipped with a note", () => {
    const config = parseConfig(
      wodle(
        '    <service type="inspector"><regions>us-east-1</regions></service>\n    <service type="cloudwatchlogs"></service>\n' +
          '    <subscriber type="security_lake"><sqs_name>q</sqs_name></subscriber>\n    <subscriber type="security_hub"><sqs_name>q</sqs_name></subscriber>',
      ),
      'x.conf',
    );
    assert.deepEqual(config.wodles[0]!.subscribers, []);
    assert.deepEqual(
      config.warnings.map((w) => w.split(' is ')[0]),
      ['x.conf:3: <service type="inspector">', 'x.conf:4: <service type="cloudwatchlogs">', 'x.conf:5: <subscriber type="security_lake">', 'x.conf:6: <subscriber type="security_hub">'],
    );
  });

  const unknown: Array<[label: string, inner: string, mustName: string[]]> = [
    ['a misspelt bucket type', '<bucket type="guarduty"><name>b</name></bucket>', ['<bucket>', 'type="guarduty"', 'did you mean type="guardduty"', 'cloudtrail, config']],
    ['a bucket type in capitals (Wazuh compares types exactly)', '<bucket type="GuardDuty"><name>b</name></bucket>', ['type="GuardDuty"', 'did you mean type="guardduty"']],
    ['a bucket type nobody knows', '<bucket type="s3"><name>b</name></bucket>', ['type="s3"', 'is not a bucket type of Wazuh']],
    ['an unknown service type', '<service type="cloudwatch"></service>', ['<service>', 'type="cloudwatch"', 'did you mean type="cloudwatchlogs"', 'inspector, cloudwatchlogs']],
    ['a service without a type', '<service><regions>us-east-1</regions></service>', ['<service>', 'needs a type attribute']],
    ['an unknown subscriber type', '<subscriber type="bucket"><sqs_name>q</sqs_name></subscriber>', ['<subscriber>', 'type="bucket"', 'did you mean type="buckets"']],
    ['a subscriber without a type', '<subscriber><sqs_name>q</sqs_name></subscriber>', ['<subscriber>', 'needs a type attribute (type="buckets")']],
  ];
  for (const [label, inner, mustName] of unknown) {
    test(`a type Wazuh does not know either is a configuration error naming file, line and value: ${label}`, () => {
      const { file, message } = refusalOf(wodle(`    <bucket type="guardduty"><name>gd</name></bucket>\n    ${inner}`));
      assert.ok(message.startsWith(`${file}:4: `), message);
      for (const part of mustName) assert.ok(message.includes(part), `"${message}" should name ${part}`);
    });
  }
});

describe('malformed XML is reported at lines of the file itself', () => {
  const WRAPPER = 'guardduty-wodle-root';
  const good = bucketConf('<name>b</name>');
  const cases: Array<[label: string, conf: string, line: number, says: string]> = [
    ['an unclosed root at the end', good.replace(/<\/ossec_config>\n$/, ''), 4, '<ossec_config> (opened on line 4, column 1) is not closed before the end of the file'],
    ['an unclosed tag at the end, no final newline', '<ossec_config>\n  <wodle name="aws-s3">\n    <bucket type="guardduty">', 3, '<bucket> (opened on line 3, column 5) is not closed'],
    ['a file cut inside a tag', '<ossec_config>\n  <wodle name="aws-s3">\n    <bucket type="guardduty"', 3, 'the file ends inside the tag <bucket that starts on line 3'],
    ['a file cut inside a closing tag', `${good.trimEnd()}\n</ossec_con`, 13, 'the file ends inside the tag </ossec_con'],
    ['an unclosed comment', good.replace('<global>', '<!-- no end\n<global>'), 2, 'the comment <!-- on line 2, column 3 is never closed'],
    ['a mismatched tag', bucketConf('<name>b</pth>'), 9, 'closing tag </pth> at line 9, column 8 does not match <name> opened on line 9, column 1'],
    ['a closing tag never opened', `${good}</ossec_config>\n`, 13, 'closing tag </ossec_config> at line 13, column 1 has no opening tag'],
    ['an attribute without quotes', good.replace('<wodle name="aws-s3">', '<wodle name=aws-s3>'), 5, "Attribute 'name' is without value (column 10)"],
    ['an attribute given twice', good.replace('type="guardduty"', 'type="guardduty" type="x"'), 8, "Attribute 'type' is repeated"],
    ['an attribute with an open quote', good.replace('type="guardduty"', 'type="guardduty'), 8, "Attributes for 'bucket' have open quote"],
    ['an error on line 1 (the column does not count the wrapper)', '<ossec_config x=1>\n</ossec_config>\n', 1, "Attribute 'x' is without value (column 15)"],
    ['a column after a bare & on the same line', '<ossec_config><global>R&D & ops</global> <a x=1/>\n</ossec_config>\n', 1, "Attribute 'x' is without value (column 45)"],
  ];
  for (const [label, conf, line, says] of cases) {
    test(label, () => {
      const { file, message } = refusalOf(conf);
      const lines = conf.split('\n').length - (conf.endsWith('\n') ? 1 : 0);
      const at = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:(\\d+): malformed XML: `).exec(message);
      assert.ok(at, message);
      assert.ok(Number(at[1]) >= 1 && Number(at[1]) <= lines, `line ${at[1]} of a ${lines}-line file: ${message}`);
      assert.equal(Number(at[1]), line, message);
      assert.ok(!message.includes(WRAPPER), message);
      assert.ok(message.includes(says), `"${message}" should say ${says}`);
    });
  }
});

describe('only_logs_after in the future', () => {
  const conf = (day: string) =>
    `<ossec_config>\n  <wodle name="aws-s3">\n    <bucket type="guardduty">\n      <name>gd-config-bounds</name>\n      <service_endpoint>http://127.0.0.1:9</service_endpoint>\n      <only_logs_after>${day}</only_logs_after>\n    </bucket>\n  </wodle>\n</ossec_config>\n`;

  // Said at start and by --check-config, naming file and line: process/config-bounds.test.ts.
  test('"future" is after today in UTC: today and earlier days are not warned about', () => {
    const lateOnNovember30 = new Date('2026-11-30T23:59:59Z');
    assert.equal(parseConfig(conf('2026-DEC-01'), 'ossec.conf', lateOnNovember30).warnings.length, 1);
    assert.deepEqual(parseConfig(conf('2026-DEC-01'), 'ossec.conf', new Date('2026-12-01T00:00:00Z')).warnings, []);
    assert.deepEqual(parseConfig(conf('2026-NOV-30'), 'ossec.conf', lateOnNovember30).warnings, []);
    assert.deepEqual(parseConfig(conf('2020-01-01'), 'ossec.conf', lateOnNovember30).warnings, []);
  });
});
