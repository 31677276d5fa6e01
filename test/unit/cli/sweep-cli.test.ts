/**
 * The sweep commands' pieces without a server: the argument checks (the API's own schemas, in the
 * command's words), the progress line (redrawn on a terminal, plain lines elsewhere), the summary.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { StartBackfillRequest, StartRenewalRequest } from '../../../src/api/schemas/fleet';
import { bar, checkedInput, formatSummary, numberFlag, ProgressLine, progressText, UsageError } from '../../../src/cli/sweep-cli';
import type { SweepView } from '../../../src/temporal/fleet';
import { noCounts } from '../../../src/workflows/fleet-definitions';

const BACKFILL_FLAGS = { smartGroupId: '--smart-group', all: '--all', ratePerSecond: '--rate' };

function stream(tty: boolean): Writable & { written: string[]; isTTY?: boolean; columns?: number } {
  const written: string[] = [];
  const s = new Writable({
    write(chunk, _encoding, callback) {
      written.push(String(chunk));
      callback();
    },
  }) as Writable & { written: string[]; isTTY?: boolean; columns?: number };
  s.written = written;
  if (tty) {
    s.isTTY = true;
    s.columns = 80;
  }
  return s;
}

const backfill: SweepView = {
  id: 'smime-backfill-3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f',
  kind: 'backfill',
  state: 'Completed',
  startTime: '2026-11-30T10:00:00.000Z',
  closeTime: '2026-11-30T10:01:05.000Z',
  progress: {
    kind: 'backfill',
    phase: 'enroll',
    counts: { ...noCounts(), devicesSeen: 120, started: 100, alreadyDelivered: 15, skipped: 5 },
    startedAt: '2026-11-30T10:00:00.000Z',
    updatedAt: '2026-11-30T10:01:04.000Z',
    runs: 1,
    ratePerSecond: 40,
    scope: { smartGroupId: 42 },
  },
};

describe('sweep commands', () => {
  describe('arguments', () => {
    it('takes what the API takes, and says what is wrong in flags', () => {
      assert.deepEqual(checkedInput(StartBackfillRequest, { smartGroupId: 42, ratePerSecond: 2.5 }, BACKFILL_FLAGS), { smartGroupId: 42, ratePerSecond: 2.5 });
      assert.throws(() => checkedInput(StartBackfillRequest, {}, BACKFILL_FLAGS), (err: Error) => err instanceof UsageError && err.message === 'give one of --smart-group, --all');
      assert.throws(() => checkedInput(StartBackfillRequest, { smartGroupId: numberFlag('x'), all: true }, BACKFILL_FLAGS), /--smart-group: must be a number/);
      assert.throws(() => checkedInput(StartBackfillRequest, { all: true, ratePerSecond: numberFlag(' ') }, BACKFILL_FLAGS), /--rate: must be a number/);
      assert.throws(() => checkedInput(StartRenewalRequest, { all: true }, { reason: '--reason', all: '--all' }), /--reason: required/);
    });

    it('normalises what it accepts like the API: lower-case UUIDs, UTC instants', () => {
      const parsed = checkedInput(StartRenewalRequest, { expiringBefore: '2027-03-01T01:00:00+01:00', reason: ' rotation ' }, {});
      assert.deepEqual(parsed, { expiringBefore: '2027-03-01T00:00:00.000Z', reason: 'rotation' });
      assert.equal(checkedInput(StartRenewalRequest, { deviceUuid: '3F6C2D1E-8A4B-4C7D-9E0F-1A2B3C4D5E6F', reason: 'r' }, {}).deviceUuid, '3f6c2d1e-8a4b-4c7d-9e0f-1a2b3c4d5e6f');
    });
  });

  describe('progress', () => {
    it('names the counts of the kind, and the elapsed time', () => {
      assert.equal(progressText(backfill), '[backfill] Completed · enroll · devices seen 120 · started 100 · already delivered 15 · already running 0 · skipped 5 · failed 0 · 1:05');
      const running: SweepView = { ...backfill, state: 'Running', closeTime: undefined, progress: undefined };
      assert.equal(progressText(running, Date.parse('2026-11-30T10:00:07Z')), '[backfill] Running · first page · devices seen 0 · started 0 · already delivered 0 · already running 0 · skipped 0 · failed 0 · 0:07');
    });

    it('a settling renewal shows a bar of the runs that have ended', () => {
      const renewal: SweepView = {
        ...backfill,
        kind: 'renewal',
        state: 'Running',
        closeTime: undefined,
        progress: { ...backfill.progress!, kind: 'renewal', phase: 'settle', counts: { ...noCounts(), selected: 10, started: 10 }, outcomes: { running: 5, completed: 4, failed: 1, cancelled: 0 } },
      };
      assert.match(progressText(renewal, Date.parse('2026-11-30T10:00:30Z')), /settle · selected 10 · started 10 · \[#{10}\.{10}\] 5\/10 ended · completed 4 · failed 1 · 0:30$/);
      assert.equal(bar(0, 0), `[${'#'.repeat(20)}]`);
    });

    it('on a terminal: one line redrawn in place, then left on screen', () => {
      const tty = stream(true);
      const line = new ProgressLine(tty);
      line.show('[backfill] Running · a · 0:01');
      line.show('[backfill] Running · a · 0:02');
      line.end();
      assert.deepEqual(tty.written, ['\r\x1b[2K[backfill] Running · a · 0:01', '\r\x1b[2K[backfill] Running · a · 0:02', '\n']);
    });

    it('elsewhere: a plain line when something other than the time changed', () => {
      const file = stream(false);
      const line = new ProgressLine(file);
      line.show('[backfill] Running · seen 0 · 0:01');
      line.show('[backfill] Running · seen 0 · 0:02');
      line.show('[backfill] Running · seen 100 · 0:03');
      line.end();
      assert.deepEqual(file.written, ['[backfill] Running · seen 0 · 0:01\n', '[backfill] Running · seen 100 · 0:03\n']);
    });
  });

  it('the summary: one fact a line, with notes and the failure', () => {
    const summary = formatSummary({ ...backfill, kind: 'reconcile', state: 'Failed', progress: { ...backfill.progress!, kind: 'reconcile', notes: ['retired nothing: …'] } }, { type: 'ConfigurationError', message: 'UEM answered 401' });
    assert.match(summary, /^id:\s+smime-backfill-/m);
    assert.match(summary, /^state:\s+Failed$/m);
    assert.match(summary, /^devices seen:\s+120$/m);
    assert.match(summary, /^retired:\s+0$/m);
    assert.match(summary, /^rate:\s+40\/s$/m);
    assert.match(summary, /^took:\s+1:05$/m);
    assert.match(summary, /^note:\s+retired nothing: …$/m);
    assert.match(summary, /^failure:\s+ConfigurationError: UEM answered 401$/m);
  });
});
