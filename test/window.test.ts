import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  GRACE_HOURS,
  folderPath,
  folderTime,
  fromMs,
  listingStart,
  nextListingStart,
  pastDateFolders,
  pruneBefore,
  rescanStart,
  toMs,
} from '../src/walk/window.js';

// A fixed clock: 2026-03-10 at 12:34 UTC.
const NOW = new Date('2026-03-10T12:34:56Z');

describe('GRACE_HOURS', () => {
  test('is one day', () => {
    assert.equal(GRACE_HOURS, 24);
  });
});

describe('toMs / fromMs', () => {
  test('toMs reads a day folder as its UTC midnight', () => {
    assert.equal(toMs('2026-11-29'), Date.UTC(2026, 10, 29, 0));
  });

  test('toMs reads an hour folder as that UTC hour', () => {
    assert.equal(toMs('2026-11-29T13'), Date.UTC(2026, 10, 29, 13));
    assert.equal(toMs('2026-11-29T00'), Date.UTC(2026, 10, 29, 0));
  });

  test('a day and its first hour are the same instant', () => {
    assert.equal(toMs('2026-11-29'), toMs('2026-11-29T00'));
  });

  test('fromMs writes a day folder or an hour folder', () => {
    const ms = Date.UTC(2026, 10, 29, 13, 45, 12);
    assert.equal(fromMs(ms, 'day'), '2026-11-29');
    assert.equal(fromMs(ms, 'hour'), '2026-11-29T13');
    assert.equal(fromMs(Date.UTC(2026, 0, 5, 7), 'hour'), '2026-01-05T07');
  });

  test('toMs and fromMs round-trip', () => {
    assert.equal(fromMs(toMs('2026-02-28'), 'day'), '2026-02-28');
    assert.equal(fromMs(toMs('2026-12-31T23'), 'hour'), '2026-12-31T23');
  });
});

describe('folderTime', () => {
  test('a day with no hour is a day folder', () => {
    assert.equal(folderTime('2026-11-29', null), '2026-11-29');
  });

  test('an hour is padded to two digits', () => {
    assert.equal(folderTime('2026-11-29', 0), '2026-11-29T00');
    assert.equal(folderTime('2026-11-29', 5), '2026-11-29T05');
    assert.equal(folderTime('2026-11-29', 13), '2026-11-29T13');
    assert.equal(folderTime('2026-11-29', 23), '2026-11-29T23');
  });
});

describe('folderPath', () => {
  test('a day folder', () => {
    assert.equal(folderPath('2026-11-29'), '2026/11/29/');
    assert.equal(folderPath('2026-01-05'), '2026/01/05/');
  });

  test('an hour folder', () => {
    assert.equal(folderPath('2026-11-29T13'), '2026/11/29/13/');
    assert.equal(folderPath('2026-11-29T00'), '2026/11/29/00/');
    assert.equal(folderPath('2026-01-05T07'), '2026/01/05/07/');
  });
});

describe('listingStart', () => {
  test('no stored start: only_logs_after (day)', () => {
    assert.equal(listingStart(null, '2026-01-10', NOW, 'day'), '2026-01-10');
  });

  test('no stored start: only_logs_after (hour)', () => {
    assert.equal(listingStart(null, '2026-01-10', NOW, 'hour'), '2026-01-10T00');
  });

  test('no stored start and no only_logs_after: today from now (day)', () => {
    assert.equal(listingStart(null, null, NOW, 'day'), '2026-03-10');
  });

  test('no stored start and no only_logs_after: the start of today from now (hour)', () => {
    assert.equal(listingStart(null, null, NOW, 'hour'), '2026-03-10T00');
  });

  test('today follows the injected clock', () => {
    assert.equal(listingStart(null, null, new Date('2027-01-01T00:00:00Z'), 'day'), '2027-01-01');
    assert.equal(listingStart(null, null, new Date('2026-12-31T23:59:59Z'), 'day'), '2026-12-31');
  });

  test('a stored start is kept (no only_logs_after)', () => {
    assert.equal(listingStart('2026-02-01', null, NOW, 'day'), '2026-02-01');
    assert.equal(listingStart('2026-02-01T07', null, NOW, 'hour'), '2026-02-01T07');
  });

  test('a stored start after only_logs_after is kept', () => {
    assert.equal(listingStart('2026-02-01', '2026-01-10', NOW, 'day'), '2026-02-01');
    assert.equal(listingStart('2026-02-01T07', '2026-01-10', NOW, 'hour'), '2026-02-01T07');
  });

  test('a stored start is never before only_logs_after', () => {
    assert.equal(listingStart('2026-01-01', '2026-01-10', NOW, 'day'), '2026-01-10');
    assert.equal(listingStart('2026-01-09T23', '2026-01-10', NOW, 'hour'), '2026-01-10T00');
  });

  test('a stored day read at hour granularity becomes its first hour', () => {
    assert.equal(listingStart('2026-02-01', null, NOW, 'hour'), '2026-02-01T00');
    assert.equal(listingStart('2026-02-01', '2026-01-10', NOW, 'hour'), '2026-02-01T00');
  });

  test('a stored hour read at day granularity becomes its day', () => {
    assert.equal(listingStart('2026-02-01T07', null, NOW, 'day'), '2026-02-01');
  });
});

describe('rescanStart', () => {
  test('no rescan: the normal start', () => {
    assert.equal(rescanStart('2026-03-04', null, null, 'day'), '2026-03-04');
    assert.equal(rescanStart('2026-03-04T05', null, '2026-01-01', 'hour'), '2026-03-04T05');
  });

  test('a rescan day earlier than the normal start: the rescan day', () => {
    assert.equal(rescanStart('2026-03-04', '2026-02-01', null, 'day'), '2026-02-01');
    assert.equal(rescanStart('2026-03-04T05', '2026-02-01', null, 'hour'), '2026-02-01T00');
  });

  test('a rescan of the normal start day at hour granularity starts at its first hour', () => {
    assert.equal(rescanStart('2026-03-04T05', '2026-03-04', null, 'hour'), '2026-03-04T00');
  });

  test('a rescan day later than the normal start: the normal start', () => {
    assert.equal(rescanStart('2026-03-04', '2026-03-10', null, 'day'), '2026-03-04');
    assert.equal(rescanStart('2026-03-04T05', '2026-03-10', null, 'hour'), '2026-03-04T05');
  });

  test('a rescan day equal to the normal start: the normal start', () => {
    assert.equal(rescanStart('2026-03-04', '2026-03-04', null, 'day'), '2026-03-04');
  });

  test('a rescan never starts before only_logs_after', () => {
    assert.equal(rescanStart('2026-03-04', '2026-01-01', '2026-01-10', 'day'), '2026-01-10');
    assert.equal(rescanStart('2026-03-04T05', '2026-01-01', '2026-01-10', 'hour'), '2026-01-10T00');
  });

  test('a rescan before only_logs_after, which is after the normal start: the normal start', () => {
    assert.equal(rescanStart('2026-03-04', '2026-01-01', '2026-03-20', 'day'), '2026-03-04');
  });

  test('a rescan after only_logs_after and before the normal start: the rescan day', () => {
    assert.equal(rescanStart('2026-03-04', '2026-02-15', '2026-01-10', 'day'), '2026-02-15');
  });
});

describe('nextListingStart', () => {
  test('day granularity: the newest settled folder less a day', () => {
    assert.equal(nextListingStart('2026-03-01', { newestSettled: '2026-03-04', firstUnfinished: null }, NOW, 'day'), '2026-03-03');
  });

  test('hour granularity: the newest settled folder less 24 hours', () => {
    assert.equal(nextListingStart('2026-03-01T00', { newestSettled: '2026-03-04T10', firstUnfinished: null }, NOW, 'hour'), '2026-03-03T10');
  });

  test('never behind the current start', () => {
    assert.equal(nextListingStart('2026-03-04', { newestSettled: '2026-03-04', firstUnfinished: null }, NOW, 'day'), '2026-03-04');
    assert.equal(nextListingStart('2026-03-04', { newestSettled: '2026-03-02', firstUnfinished: null }, NOW, 'day'), '2026-03-04');
    assert.equal(nextListingStart('2026-03-04T10', { newestSettled: '2026-03-05T09', firstUnfinished: null }, NOW, 'hour'), '2026-03-04T10');
  });

  test('a partition with nothing settled keeps its start', () => {
    assert.equal(nextListingStart('2026-03-04', { newestSettled: null, firstUnfinished: null }, NOW, 'day'), '2026-03-04');
    assert.equal(nextListingStart('2026-03-04T06', { newestSettled: null, firstUnfinished: null }, NOW, 'hour'), '2026-03-04T06');
  });

  test('an unfinished folder holds the start back', () => {
    assert.equal(nextListingStart('2026-03-01', { newestSettled: '2026-03-08', firstUnfinished: '2026-03-05' }, NOW, 'day'), '2026-03-05');
    assert.equal(
      nextListingStart('2026-03-01T00', { newestSettled: '2026-03-08T12', firstUnfinished: '2026-03-05T03' }, NOW, 'hour'),
      '2026-03-05T03',
    );
  });

  test('an unfinished folder holds the start back even before the current start', () => {
    assert.equal(nextListingStart('2026-03-04', { newestSettled: '2026-03-08', firstUnfinished: '2026-03-02' }, NOW, 'day'), '2026-03-02');
    assert.equal(nextListingStart('2026-03-04', { newestSettled: null, firstUnfinished: '2026-03-02' }, NOW, 'day'), '2026-03-02');
  });

  test('an unfinished folder after the newest settled less the grace does not move the start', () => {
    assert.equal(nextListingStart('2026-03-01', { newestSettled: '2026-03-08', firstUnfinished: '2026-03-09' }, NOW, 'day'), '2026-03-07');
  });

  test("a newest settled folder in the future is capped at now's folder (day)", () => {
    assert.equal(nextListingStart('2026-03-01', { newestSettled: '2026-06-01', firstUnfinished: null }, NOW, 'day'), '2026-03-09');
  });

  test("a newest settled folder in the future is capped at now's folder (hour)", () => {
    assert.equal(nextListingStart('2026-03-01T00', { newestSettled: '2026-06-01T00', firstUnfinished: null }, NOW, 'hour'), '2026-03-09T12');
  });

  test("a newest settled folder equal to now's folder is not capped further", () => {
    assert.equal(nextListingStart('2026-03-01', { newestSettled: '2026-03-10', firstUnfinished: null }, NOW, 'day'), '2026-03-09');
    assert.equal(nextListingStart('2026-03-01T00', { newestSettled: '2026-03-10T12', firstUnfinished: null }, NOW, 'hour'), '2026-03-09T12');
  });

  test('month boundary: newest 2026-03-01 gives 2026-02-28', () => {
    assert.equal(nextListingStart('2026-02-01', { newestSettled: '2026-03-01', firstUnfinished: null }, NOW, 'day'), '2026-02-28');
  });

  test('leap-year month boundary: newest 2028-03-01 gives 2028-02-29', () => {
    const now = new Date('2028-03-05T00:00:00Z');
    assert.equal(nextListingStart('2028-02-01', { newestSettled: '2028-03-01', firstUnfinished: null }, now, 'day'), '2028-02-29');
  });

  test('year boundary: newest 2027-01-01T05 gives 2026-12-31T05', () => {
    const now = new Date('2027-01-05T08:00:00Z');
    assert.equal(nextListingStart('2026-12-01T00', { newestSettled: '2027-01-01T05', firstUnfinished: null }, now, 'hour'), '2026-12-31T05');
  });

  test('year boundary: newest 2027-01-01 gives 2026-12-31 (day)', () => {
    const now = new Date('2027-01-05T08:00:00Z');
    assert.equal(nextListingStart('2026-12-01', { newestSettled: '2027-01-01', firstUnfinished: null }, now, 'day'), '2026-12-31');
  });
});

describe('pruneBefore', () => {
  test('the start less the margin, in days', () => {
    assert.equal(pruneBefore('2026-03-20', 7, 'day'), '2026-03-13');
  });

  test('across a month boundary', () => {
    assert.equal(pruneBefore('2026-03-02', 3, 'day'), '2026-02-27');
  });

  test('across a year boundary, in hours', () => {
    assert.equal(pruneBefore('2027-01-01T05', 2, 'hour'), '2026-12-30T05');
  });

  test('no margin: the start itself', () => {
    assert.equal(pruneBefore('2026-03-04', 0, 'day'), '2026-03-04');
    assert.equal(pruneBefore('2026-03-04T05', 0, 'hour'), '2026-03-04T05');
  });
});

describe('pastDateFolders', () => {
  test('a key in a date folder is not past them', () => {
    assert.equal(pastDateFolders('2026/11/29/x'), false);
    assert.equal(pastDateFolders('0000/01/01/x'), false);
  });

  test('a key in the last possible year is not past them', () => {
    assert.equal(pastDateFolders('9999/01/01/x'), false);
    assert.equal(pastDateFolders('9999/'), false);
  });

  test('keys sorting after every year are past them', () => {
    assert.equal(pastDateFolders('AWSLogs/123456789012/GuardDuty/x'), true);
    assert.equal(pastDateFolders('processing-failed/x'), true);
  });

  test('keys sorting before the digits are not past them', () => {
    assert.equal(pastDateFolders('-x'), false);
    assert.equal(pastDateFolders('.x'), false);
  });
});
