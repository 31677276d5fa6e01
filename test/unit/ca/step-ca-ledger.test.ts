import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SubmissionLedger, type LedgerEntry } from '../../../src/activities/ca/step-ca/ledger';

describe('step-ca submission ledger', () => {
  let dir: string;
  let ledger: SubmissionLedger;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
    ledger = new SubmissionLedger(join(dir, 'ledger'));
  });
  afterEach(() => dir && rmSync(dir, { recursive: true, force: true }));

  const entry = (overrides: Partial<LedgerEntry> = {}): LedgerEntry => ({
    version: 1,
    idempotencyKey: 'wf/signing',
    csrSha256: 'ab'.repeat(32),
    kind: 'signing',
    email: 'ann@example.com',
    attempt: 0,
    serial: '4abc',
    submittedAt: '2026-01-01T00:00:00.000Z',
    supersededSerials: [],
    ...overrides,
  });

  it('names an entry by idempotency key and CSR: stable, 40 hex characters, different for another CSR', () => {
    const id = SubmissionLedger.entryId('wf/signing', 'ab');
    assert.match(id, /^[0-9a-f]{40}$/);
    assert.equal(SubmissionLedger.entryId('wf/signing', 'ab'), id);
    assert.notEqual(SubmissionLedger.entryId('wf/signing', 'ac'), id);
  });

  it('reads back what it wrote, and nothing for an unknown id', async () => {
    const id = SubmissionLedger.entryId('wf/signing', 'ab');
    assert.equal(await ledger.read(id), undefined);
    const written = entry({ issued: { certificatePem: 'PEM', chainPem: ['CHAIN'], serial: '4abc', issuedAt: '2026-01-01T00:00:01.000Z' } });
    await ledger.write(id, written);
    assert.deepEqual(await ledger.read(id), written);
  });

  it('replaces an entry whole and leaves no temporary file; entries are private to the owner', async () => {
    const id = SubmissionLedger.entryId('k', 'c');
    await ledger.write(id, entry({ attempt: 0 }));
    await ledger.write(id, entry({ attempt: 1, supersededSerials: ['4abc'] }));
    assert.equal((await ledger.read(id))?.attempt, 1);
    assert.deepEqual(readdirSync(ledger.dir), [`${id}.json`]);
    assert.equal(statSync(join(ledger.dir, `${id}.json`)).mode & 0o077, 0);
  });

  it('refuses a damaged entry instead of guessing', async () => {
    const id = SubmissionLedger.entryId('k', 'c');
    writeFileSync(join(ledger.dir, `${id}.json`), JSON.stringify({ version: 1, attempt: 'x' }));
    await assert.rejects(ledger.read(id), /damaged/);
  });

  it('refuses ids that are not ledger ids (no path tricks)', async () => {
    await assert.rejects(ledger.read('../../etc/passwd'), /not a step-ca ledger id/);
  });

  it('runs work for the same entry one at a time, even when the first fails', async () => {
    const id = SubmissionLedger.entryId('k', 'c');
    const events: string[] = [];
    const slow = ledger.exclusive(id, async () => {
      events.push('a-start');
      await new Promise((r) => setTimeout(r, 30));
      events.push('a-end');
      throw new Error('a failed');
    });
    const next = ledger.exclusive(id, async () => {
      events.push('b');
      return 'b done';
    });
    await assert.rejects(slow, /a failed/);
    assert.equal(await next, 'b done');
    assert.deepEqual(events, ['a-start', 'a-end', 'b']);
  });
});
