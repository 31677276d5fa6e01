/**
 * EC encryption credentials (KEY_ALGORITHM=ec) carry keyAgreement, not keyEncipherment: an EC key
 * cannot encipher, it agrees a key (ECDH, RFC 5753), and the CA/B Forum S/MIME BR and RFC 8550
 * say so. What real S/MIME software does with one, measured on the credential as delivered:
 *
 * - OpenSSL `cms -encrypt` / `-decrypt`: works (ECDH KeyAgreeRecipientInfo).
 * - OpenSSL `verify -purpose smimeencrypt`: refuses ("unsuitable certificate purpose") — OpenSSL's
 *   purpose check for S/MIME encryption asks for keyEncipherment whatever the key type. `cms
 *   -encrypt` does not run that check, so only code that calls the purpose check itself is hit.
 * - NSS (Firefox, Thunderbird): imports the PKCS#12 and validates the certificate for email
 *   recipients (`certutil -V -u R`), but the NSS CMS library on this machine (3.87, Debian 12)
 *   cannot encrypt to an EC key nor read a message encrypted to one (`cmsutil`). The last test
 *   pins that down; if it starts failing, NSS has learnt ECDH and the README should say so.
 *
 * The README repeats this; RSA (the default) works everywhere.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onDemandKeys } from '../../src/activities/crypto/key-pool';
import { x509 } from '../../src/activities/crypto/x509';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

const exec = promisify(execFile);

/** A command's outcome, never thrown: the tests look at failures too. */
async function run(command: string, args: string[]): Promise<{ status: number; out: string }> {
  try {
    const { stdout, stderr } = await exec(command, args, { encoding: 'utf8', timeout: 30_000 });
    return { status: 0, out: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { status: typeof failed.code === 'number' ? failed.code : 1, out: (failed.stdout ?? '') + (failed.stderr ?? '') };
  }
}

async function ok(command: string, args: string[]): Promise<string> {
  const result = await run(command, args);
  assert.equal(result.status, 0, `${command} ${args.join(' ')}\n${result.out}`);
  return result.out;
}

describe('EC encryption credentials (keyAgreement) in OpenSSL and NSS', function () {
  this.timeout(120_000);
  let stack: ProviderStack;
  let work: string;
  const files = { cert: '', key: '', p12: '', pass: '', root: '', chain: '', message: '' };

  before(async () => {
    if (spawnSync('certutil', ['-H']).error) assert.fail('NSS tools missing: apt-get install libnss3-tools');
    stack = await startProviderStack({ codec: false, overrides: { keys: onDemandKeys({ algorithm: 'ec', rsaBits: 2048, ecCurve: 'P-256' }) } });
    work = mkdtempSync(join(tmpdir(), 'ec-encryption-'));
    const event = enrollmentEvent({ platform: 'Android' });
    await (await stack.start(event)).result();
    const received = join(stack.dataDir, 'ceg-sim', 'received', event.enrollmentUserUuid, event.deviceUuid);
    Object.assign(files, {
      p12: join(received, 'encryption.p12'),
      pass: join(received, 'encryption.pass'),
      cert: join(work, 'encryption.crt'),
      key: join(work, 'encryption.key'),
      root: join(work, 'root.pem'),
      chain: join(work, 'chain.pem'),
      message: join(work, 'message.txt'),
    });
    writeFileSync(files.cert, await ok('openssl', ['pkcs12', '-in', files.p12, '-clcerts', '-nokeys', '-passin', `file:${files.pass}`]));
    writeFileSync(files.key, await ok('openssl', ['pkcs12', '-in', files.p12, '-nocerts', '-noenc', '-passin', `file:${files.pass}`]), { mode: 0o600 });
    writeFileSync(files.root, stack.ca.rootCertificatePem);
    writeFileSync(files.chain, stack.ca.intermediateCertificatePem);
    writeFileSync(files.message, 'The board minutes, encrypted to an EC key.\n');
  });
  after(async () => {
    await stack?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the delivered encryption certificate is EC with keyAgreement only', () => {
    const certificate = new x509.X509Certificate(readFileSync(files.cert, 'utf8'));
    assert.equal(certificate.publicKey.algorithm.name, 'ECDSA');
    assert.equal(certificate.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.keyAgreement);
  });

  it('OpenSSL encrypts to it and decrypts with its key (cms, ECDH key agreement)', async () => {
    const encrypted = join(work, 'openssl.p7m');
    await ok('openssl', ['cms', '-encrypt', '-binary', '-aes-256-cbc', '-in', files.message, '-out', encrypted, files.cert]);
    assert.match(await ok('openssl', ['cms', '-cmsout', '-print', '-in', encrypted]), /d\.kari:/, 'a KeyAgreeRecipientInfo');
    const decrypted = await ok('openssl', ['cms', '-decrypt', '-in', encrypted, '-recip', files.cert, '-inkey', files.key]);
    assert.equal(decrypted, readFileSync(files.message, 'utf8'));
  });

  it("OpenSSL's smimeencrypt purpose check refuses it (it wants keyEncipherment), while the chain itself verifies", async () => {
    await ok('openssl', ['verify', '-CAfile', files.root, '-untrusted', files.chain, files.cert]);
    const purpose = await run('openssl', ['verify', '-purpose', 'smimeencrypt', '-CAfile', files.root, '-untrusted', files.chain, files.cert]);
    assert.notEqual(purpose.status, 0);
    assert.match(purpose.out, /unsuitable certificate purpose/);
  });

  describe('NSS', () => {
    let db: string;
    let dbPassword: string;
    let nickname: string;
    before(async () => {
      db = join(work, 'nssdb');
      mkdirSync(db);
      dbPassword = join(work, 'nssdb.pass');
      writeFileSync(dbPassword, 'nss-db-password\n');
      await ok('certutil', ['-N', '-d', `sql:${db}`, '-f', dbPassword]);
      await ok('certutil', ['-A', '-d', `sql:${db}`, '-f', dbPassword, '-n', 'provider-root', '-t', 'C,C,C', '-a', '-i', files.root]);
      await ok('pk12util', ['-i', files.p12, '-d', `sql:${db}`, '-k', dbPassword, '-w', files.pass]);
      const listing = await ok('certutil', ['-L', '-d', `sql:${db}`]);
      nickname = listing.split('\n').find((line) => /u,u,u\s*$/.test(line))?.replace(/\s+u,u,u\s*$/, '').trim() ?? '';
      assert.ok(nickname, `the certificate and its key are in NSS:\n${listing}`);
    });

    it('imports the PKCS#12 and accepts the certificate for email recipients (R), not for signing (S)', async () => {
      assert.match(await ok('certutil', ['-L', '-d', `sql:${db}`, '-n', nickname]), /Usages: Key Agreement/);
      assert.match(await ok('certutil', ['-V', '-d', `sql:${db}`, '-n', nickname, '-u', 'R']), /certificate is valid/);
      assert.match((await run('certutil', ['-V', '-d', `sql:${db}`, '-n', nickname, '-u', 'S'])).out, /key usage inadequate/);
    });

    it('cannot encrypt to the EC key nor decrypt a message encrypted to it (NSS 3.87 CMS has no ECDH recipients)', async () => {
      const password = readFileSync(dbPassword, 'utf8').trim();
      const email = new x509.X509Certificate(readFileSync(files.cert, 'utf8')).getExtension(x509.SubjectAlternativeNameExtension)!.names.items[0]!.value;
      const encrypt = await run('cmsutil', ['-E', '-r', email, '-d', `sql:${db}`, '-p', password, '-i', files.message, '-o', join(work, 'nss.p7m')]);
      assert.notEqual(encrypt.status, 0, 'NSS encrypted to an EC key: update the README (EC encryption now works in NSS)');
      assert.match(encrypt.out, /SEC_ERROR_INVALID_ALGORITHM/);

      const fromOpenssl = join(work, 'openssl.der');
      await ok('openssl', ['cms', '-encrypt', '-aes-256-cbc', '-in', files.message, '-outform', 'DER', '-out', fromOpenssl, files.cert]);
      const decrypt = await run('cmsutil', ['-D', '-d', `sql:${db}`, '-p', password, '-i', fromOpenssl]);
      assert.notEqual(decrypt.status, 0, 'NSS decrypted an ECDH message: update the README (EC encryption now works in NSS)');
      assert.match(decrypt.out, /SEC_ERROR_BAD_DER/);
    });
  });
});
