import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EmbeddedCa } from '../../../src/activities/ca/embedded-ca';
import { UNSERVED_REPOSITORY } from '../../helpers/repository';
import { toPem } from '../../../src/activities/crypto/certificate-info';
import { buildSmimeCsr } from '../../../src/activities/crypto/csr';
import { generateKeyPair, type GeneratedKey, type KeyOptions } from '../../../src/activities/crypto/keys';
import { randomPassword } from '../../../src/activities/crypto/password';
import { buildPkcs12, PKCS12_PROFILES, readPkcs12 } from '../../../src/activities/crypto/pkcs12';
import type { Pkcs12Profile } from '../../../src/domain/credentials';
import type { CredentialKind } from '../../../src/domain/enrollment';
import { openssl, opensslOk, tempDir } from './support';

interface Credential {
  key: GeneratedKey;
  certificatePem: string;
  chainPem: string[];
}

/** What `openssl pkcs12 -info` must print for each profile (OpenSSL 3, default provider only). */
const EXPECTED_INFO: Record<Pkcs12Profile, string[]> = {
  legacy: [
    'MAC: sha1, Iteration 2048',
    'PKCS7 Encrypted data: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048',
    'Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048',
  ],
  modern: [
    'MAC: sha256, Iteration 2048',
    'PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256',
    'Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256',
  ],
};

describe('PKCS#12', () => {
  const dir = tempDir('pkcs12');
  let ca: EmbeddedCa;
  const credentials: Record<'rsa' | 'ec', Credential> = {} as Record<'rsa' | 'ec', Credential>;
  const password = randomPassword();

  async function issue(options: KeyOptions, kind: CredentialKind): Promise<Credential> {
    const key = await generateKeyPair(options);
    const email = `p12-${options.algorithm}@example.test`;
    const answer = await ca.submit({ idempotencyKey: randomUUID(), kind, csrPem: await buildSmimeCsr(key, { email }, kind), email, validityDays: 30 });
    assert.equal(answer.status, 'issued');
    const { certificatePem, chainPem } = answer as { certificatePem: string; chainPem: string[] };
    return { key, certificatePem, chainPem };
  }

  before(async () => {
    ca = await EmbeddedCa.open({ repository: UNSERVED_REPOSITORY, dir: join(dir.path, 'ca') });
    credentials.rsa = await issue({ algorithm: 'rsa', rsaBits: 2048, ecCurve: 'P-256' }, 'signing');
    credentials.ec = await issue({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' }, 'encryption');
    dir.file('password.txt', password);
    dir.file('wrong-password.txt', 'not the password');
  });
  after(() => dir.remove());

  function build(algorithm: 'rsa' | 'ec', profile: Pkcs12Profile, friendlyName = 'Mira S/MIME'): Promise<Buffer> {
    const { key, certificatePem, chainPem } = credentials[algorithm];
    return buildPkcs12({ privateKeyPkcs8: key.privateKeyPkcs8, certificatePem, chainPem, password, profile, friendlyName });
  }

  for (const profile of ['legacy', 'modern'] as const) {
    for (const algorithm of ['rsa', 'ec'] as const) {
      describe(`${profile} profile, ${algorithm.toUpperCase()} key`, () => {
        let file: string;

        before(async () => {
          file = `${profile}-${algorithm}.p12`;
          dir.file(file, await build(algorithm, profile));
        });

        it(`opens in OpenSSL 3 without -legacy and reports ${profile === 'legacy' ? '3DES with a SHA-1 MAC' : 'PBES2/AES-256 with a SHA-256 MAC'}`, async () => {
          const result = await openssl(['pkcs12', '-in', file, '-info', '-noout', '-passin', 'file:password.txt'], dir.path);
          assert.equal(result.code, 0, result.stderr);
          const info = result.stderr + result.stdout; // OpenSSL writes the -info report to stderr
          const lines = info.split('\n').map((line) => line.trim());
          for (const expected of EXPECTED_INFO[profile]) assert.ok(lines.includes(expected), `missing "${expected}" in:\n${info}`);
          assert.equal(lines.filter((l) => l === 'Certificate bag').length, 2);
        });

        it('holds a key that matches the leaf certificate, then the intermediate', async () => {
          const pem = await opensslOk(['pkcs12', '-in', file, '-nodes', '-passin', 'file:password.txt'], dir.path);
          dir.file('extracted.pem', pem);
          const fromKey = await opensslOk(['pkey', '-in', 'extracted.pem', '-pubout'], dir.path);
          const fromCert = await opensslOk(['x509', '-in', 'extracted.pem', '-pubkey', '-noout'], dir.path);
          assert.equal(fromKey, fromCert);
          const subjects = [...pem.matchAll(/^subject=(.*)$/gm)].map((m) => m[1]);
          assert.equal(subjects.length, 2);
          assert.match(subjects[0]!, new RegExp(`p12-${algorithm}@example.test`));
          assert.match(subjects[1]!, /issuing CA/);
        });

        it('labels key and leaf with the same localKeyID and the friendly name, and nothing else', async () => {
          const pem = await opensslOk(['pkcs12', '-in', file, '-nodes', '-passin', 'file:password.txt'], dir.path);
          const names = [...pem.matchAll(/friendlyName: (.*)$/gm)].map((m) => m[1]);
          const keyIds = [...pem.matchAll(/localKeyID: (.*)$/gm)].map((m) => m[1]!.trim());
          assert.deepEqual(names, ['Mira S/MIME', 'Mira S/MIME']);
          assert.equal(keyIds.length, 2);
          assert.equal(keyIds[0], keyIds[1]);
          assert.equal((pem.match(/Bag Attributes: <No Attributes>/g) ?? []).length, 1); // the intermediate
        });

        it('is refused by OpenSSL with a wrong password', async () => {
          const result = await openssl(['pkcs12', '-in', file, '-info', '-noout', '-passin', 'file:wrong-password.txt'], dir.path);
          assert.notEqual(result.code, 0);
          assert.match(result.stderr, /Mac verify error/);
        });

        it('reads back: the same key and the certificates leaf first', async () => {
          const back = await readPkcs12(readFileSync(join(dir.path, file)), password);
          assert.deepEqual(back.privateKeyPkcs8, credentials[algorithm].key.privateKeyPkcs8);
          assert.deepEqual(back.certificatesPem, [credentials[algorithm].certificatePem, ...credentials[algorithm].chainPem]);
        });
      });
    }
  }

  it('encrypts with fresh salts: two bundles of the same credential differ', async () => {
    const [a, b] = await Promise.all([build('rsa', 'modern'), build('rsa', 'modern')]);
    assert.notDeepEqual(a, b);
  });

  it('uses 2048 iterations in both profiles (OpenSSL 3 defaults)', () => {
    for (const profile of Object.values(PKCS12_PROFILES)) {
      assert.equal(profile.iterations, 2048);
      assert.equal(profile.macIterations, 2048);
    }
  });

  describe('readPkcs12', () => {
    it('refuses a wrong password without revealing either password', async () => {
      const bundle = await build('ec', 'legacy');
      const wrong = 'Wrong-Password-123';
      await assert.rejects(readPkcs12(bundle, wrong), (error: Error) => {
        assert.match(error.message, /wrong password or damaged file/);
        assert.ok(!error.message.includes(wrong) && !error.message.includes(password));
        return true;
      });
    });

    it('refuses a bundle whose content was altered', async () => {
      const bundle = await build('rsa', 'modern');
      const altered = Buffer.from(bundle);
      altered[Math.floor(altered.length / 2)]! ^= 0x01;
      await assert.rejects(readPkcs12(altered, password), /integrity check failed|not a PKCS#12/);
    });

    it('refuses bytes that are not PKCS#12', async () => {
      await assert.rejects(readPkcs12(Buffer.from('hello'), password), /not a PKCS#12/);
    });

    for (const [label, flags] of [
      ['OpenSSL 3 defaults (PBES2/AES-256, SHA-256 MAC)', []],
      ['OpenSSL with 3DES and a SHA-1 MAC', ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1']],
    ] as const) {
      it(`opens a bundle OpenSSL made with ${label}`, async () => {
        const { key, certificatePem, chainPem } = credentials.rsa;
        dir.file('export-key.pem', toPem(key.privateKeyPkcs8, 'PRIVATE KEY'));
        dir.file('export-cert.pem', certificatePem);
        dir.file('export-chain.pem', chainPem.join(''));
        await opensslOk(
          ['pkcs12', '-export', '-inkey', 'export-key.pem', '-in', 'export-cert.pem', '-certfile', 'export-chain.pem', '-passout', 'file:password.txt', '-out', 'openssl.p12', ...flags],
          dir.path,
        );
        const back = await readPkcs12(readFileSync(join(dir.path, 'openssl.p12')), password);
        assert.deepEqual(back.privateKeyPkcs8, key.privateKeyPkcs8);
        assert.deepEqual(new Set(back.certificatesPem), new Set([certificatePem, ...chainPem]));
      });
    }
  });

  describe('buildPkcs12 input checks', () => {
    it('refuses an unknown profile, an empty password and a certificate that is not one', async () => {
      const { key, certificatePem, chainPem } = credentials.rsa;
      const base = { privateKeyPkcs8: key.privateKeyPkcs8, certificatePem, chainPem, password, profile: 'legacy' as Pkcs12Profile, friendlyName: 'x' };
      await assert.rejects(buildPkcs12({ ...base, profile: 'rc2' as Pkcs12Profile }), /unknown PKCS#12 profile/);
      await assert.rejects(buildPkcs12({ ...base, password: '' }), /must not be empty/);
      await assert.rejects(buildPkcs12({ ...base, certificatePem: 'nope' }), /certificate must be exactly one PEM certificate/);
      await assert.rejects(buildPkcs12({ ...base, chainPem: ['nope'] }), /chain certificate 1 must be exactly one PEM certificate/);
    });
  });
});
