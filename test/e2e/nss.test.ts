/**
 * What the provider delivers, imported into NSS — the certificate and key store of Firefox and
 * Thunderbird — with Debian's NSS tools: both PKCS#12 profiles import with their password, and
 * NSS itself accepts the certificates for S/MIME signing and encryption under the CA's root.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { enrollmentEvent } from '../helpers/events';
import { startProviderStack, type ProviderStack } from '../helpers/provider-stack';

function run(command: string, args: string[]): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${command} ${args.join(' ')}\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

describe('NSS (Firefox/Thunderbird) accepts the delivered credentials', function () {
  this.timeout(120_000);
  let stack: ProviderStack;
  let work: string;
  before(async function () {
    if (spawnSync('certutil', ['-H']).error) assert.fail('NSS tools (certutil) missing: run npm run tools, which installs Debian\'s libnss3-tools (or prints the apt-get command when it may not)');
    stack = await startProviderStack({ codec: false });
    work = mkdtempSync(join(tmpdir(), 'nss-'));
  });
  after(async () => {
    await stack?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A fresh NSS database that trusts the CA's root for S/MIME. */
  function nssDatabase(name: string): { db: string; password: string } {
    const db = join(work, name);
    run('mkdir', ['-p', db]);
    const password = join(work, `${name}.dbpass`);
    writeFileSync(password, 'nss-db-password\n');
    run('certutil', ['-N', '-d', `sql:${db}`, '-f', password]);
    const root = join(work, `${name}-root.pem`);
    writeFileSync(root, stack.ca.rootCertificatePem);
    run('certutil', ['-A', '-d', `sql:${db}`, '-f', password, '-n', 'provider-root', '-t', 'C,C,C', '-a', '-i', root]);
    return { db: `sql:${db}`, password };
  }

  for (const [platform, profile] of [['Apple', 'legacy'], ['WinRT', 'modern']] as const) {
    it(`imports the ${profile} PKCS#12 and validates signing (S) and encryption (R) usage`, async () => {
      const event = enrollmentEvent({ platform });
      await (await stack.start(event)).result();
      const received = join(stack.dataDir, 'ceg-sim', 'received', event.enrollmentUserUuid, event.deviceUuid);
      // One database per credential: both share the user's subject, and NSS files certificates
      // with one subject under one nickname, so a shared database would make -V pick either.
      for (const [kind, usage, expected] of [['signing', 'S', 'Digital Signature'], ['encryption', 'R', 'Key Encipherment']] as const) {
        const { db, password } = nssDatabase(`${profile}-${kind}`);
        run('pk12util', ['-i', join(received, `${kind}.p12`), '-d', db, '-k', password, '-w', join(received, `${kind}.pass`)]);
        const listing = run('certutil', ['-L', '-d', db]);
        const nickname = listing
          .split('\n')
          .find((line) => /u,u,u\s*$/.test(line))
          ?.replace(/\s+u,u,u\s*$/, '')
          .trim();
        assert.ok(nickname, `the ${kind} certificate and its key are in NSS:\n${listing}`);
        assert.match(run('certutil', ['-L', '-d', db, '-n', nickname]), new RegExp(`Usages: ${expected}`));
        assert.equal(run('certutil', ['-K', '-d', db, '-f', password]).match(/<\s*\d+>/g)?.length, 1, 'the private key was imported');
        assert.match(run('certutil', ['-V', '-d', db, '-n', nickname, '-u', usage]), /certificate is valid/);
        const misuse = spawnSync('certutil', ['-V', '-d', db, '-n', nickname, '-u', 'V'], { encoding: 'utf8' });
        assert.doesNotMatch(misuse.stdout + misuse.stderr, /certificate is valid/, 'an S/MIME certificate is not a TLS server certificate');
      }
    });
  }
});
