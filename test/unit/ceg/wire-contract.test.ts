import assert from 'node:assert/strict';
import {
  archivedAllowedFor,
  classifyStatus,
  credentialPath,
  devicePath,
  MAX_ARCHIVED_CREDENTIALS,
  parseRetryAfter,
  problem,
  validateUploadBody,
} from '../../../src/activities/ceg/wire-contract';

const USER = '6F9619FF-8B86-D011-B42D-00C04FC964FF';
const DEVICE = 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d';
const valid = {
  pkcs12: Buffer.from('pkcs12 bytes').toString('base64'),
  password: 'correct horse battery staple',
  thumbprint: 'ab'.repeat(32),
  email: 'alice@example.test',
};

describe('CEG wire contract', () => {
  describe('paths', () => {
    it('builds the upload path with lower-case UUIDs and the kind', () => {
      assert.equal(credentialPath(USER, DEVICE, 'encryption'), `/api/v1/credentials/${USER.toLowerCase()}/${DEVICE}/encryption`);
    });

    it('builds the device path for clean-up', () => {
      assert.equal(devicePath(USER, DEVICE), `/api/v1/credentials/${USER.toLowerCase()}/${DEVICE}`);
    });

    it('refuses a path segment that is not a UUID (no path tricks)', () => {
      assert.throws(() => credentialPath('../../etc', DEVICE, 'signing'));
    });

    it('refuses an unknown credential kind', () => {
      assert.throws(() => credentialPath(USER, DEVICE, 'authentication' as 'signing'));
    });
  });

  describe('upload body', () => {
    it('accepts a body with a clear password', () => {
      const result = validateUploadBody(valid);
      assert.equal(result.ok, true);
    });

    it('accepts an encrypted password instead of the clear one', () => {
      const { password: _omitted, ...rest } = valid;
      assert.equal(validateUploadBody({ ...rest, passwordEncrypted: Buffer.from('x'.repeat(256)).toString('base64') }).ok, true);
    });

    it('normalises an upper-case thumbprint to lower case', () => {
      const result = validateUploadBody({ ...valid, thumbprint: 'AB'.repeat(32) });
      assert.ok(result.ok);
      assert.equal(result.body.thumbprint, 'ab'.repeat(32));
    });

    it('requires a password or an encrypted password', () => {
      const { password: _omitted, ...rest } = valid;
      const result = validateUploadBody(rest);
      assert.ok(!result.ok);
      assert.deepEqual(result.problems.map((p) => p.path), ['password']);
    });

    it('names the broken fields without echoing their values', () => {
      const secret = 'line one\nline two';
      const result = validateUploadBody({ ...valid, password: secret, pkcs12: 'not base64!', thumbprint: '1234' });
      assert.ok(!result.ok);
      assert.deepEqual(result.problems.map((p) => p.path).sort(), ['password', 'pkcs12', 'thumbprint']);
      assert.ok(!JSON.stringify(result.problems).includes('line one'));
    });

    it('ignores fields it does not know (either side may add optional ones)', () => {
      assert.equal(validateUploadBody({ ...valid, deviceModel: 'iPhone' }).ok, true);
    });
  });

  describe('archived credentials', () => {
    const archive = (n: number) => ({ pkcs12: Buffer.from(`earlier key ${n}`).toString('base64'), thumbprint: n.toString(16).padStart(64, '0') });

    it('accepts earlier credentials with base64 files and thumbprints, normalised and in the order sent', () => {
      const result = validateUploadBody({ ...valid, archived: [{ ...archive(2), thumbprint: 'CD'.repeat(32) }, archive(1)] });
      assert.ok(result.ok);
      assert.deepEqual(result.body.archived?.map((a) => a.thumbprint), ['cd'.repeat(32), archive(1).thumbprint]);
    });

    it(`accepts at most ${MAX_ARCHIVED_CREDENTIALS}`, () => {
      const many = Array.from({ length: MAX_ARCHIVED_CREDENTIALS + 1 }, (_, i) => archive(i + 1));
      assert.equal(validateUploadBody({ ...valid, archived: many.slice(0, MAX_ARCHIVED_CREDENTIALS) }).ok, true);
      const result = validateUploadBody({ ...valid, archived: many });
      assert.ok(!result.ok);
      assert.deepEqual(result.problems.map((p) => p.path), ['archived']);
    });

    it('refuses an archived thumbprint equal to the main one or to another archived one, naming the entry', () => {
      const result = validateUploadBody({ ...valid, archived: [archive(1), { ...archive(3), thumbprint: valid.thumbprint }, { ...archive(2), thumbprint: archive(1).thumbprint.toUpperCase() }] });
      assert.ok(!result.ok);
      assert.deepEqual(result.problems.map((p) => p.path), ['archived.1.thumbprint', 'archived.2.thumbprint']);
    });

    it('names a broken archived entry without echoing it', () => {
      const result = validateUploadBody({ ...valid, archived: [archive(1), { pkcs12: 'secret key!', thumbprint: 'x' }] });
      assert.ok(!result.ok);
      assert.deepEqual(result.problems.map((p) => p.path).sort(), ['archived.1.pkcs12', 'archived.1.thumbprint']);
      assert.ok(!JSON.stringify(result.problems).includes('secret key'));
    });

    it('allows them for encryption only; the refusal on signing is a 400 problem of its own', () => {
      assert.equal(archivedAllowedFor('encryption'), true);
      assert.equal(archivedAllowedFor('signing'), false);
      assert.deepEqual(problem('archivedNotAllowed'), {
        type: 'urn:smime-escrow-provider:ceg:archived-not-allowed',
        title: 'Archived credentials are allowed only in an encryption upload',
        status: 400,
      });
    });
  });

  describe('answers', () => {
    it('treats 200 and 201 as success, 4xx as rejection, 408/429/5xx as transient', () => {
      const table = Object.fromEntries([200, 201, 400, 401, 403, 404, 409, 413, 422, 408, 429, 500, 502, 503].map((s) => [s, classifyStatus(s)]));
      assert.deepEqual(table, {
        200: 'success', 201: 'success',
        400: 'rejected', 401: 'rejected', 403: 'rejected', 404: 'rejected', 409: 'rejected', 413: 'rejected', 422: 'rejected',
        408: 'transient', 429: 'transient', 500: 'transient', 502: 'transient', 503: 'transient',
      });
    });

    it('reads Retry-After in seconds and as an HTTP date', () => {
      const now = Date.parse('2025-01-01T00:00:00Z');
      assert.equal(parseRetryAfter('120', now), 120_000);
      assert.equal(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now), 30_000);
      assert.equal(parseRetryAfter('soon', now), undefined);
      assert.equal(parseRetryAfter(undefined, now), undefined);
    });

    it('builds RFC 9457 problem documents with a URN type per problem', () => {
      assert.deepEqual(problem('wrongPassword', 'MAC did not verify'), {
        type: 'urn:smime-escrow-provider:ceg:wrong-password',
        title: 'The password does not open the PKCS#12',
        status: 422,
        detail: 'MAC did not verify',
      });
    });
  });
});
