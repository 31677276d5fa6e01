/**
 * createCertificateAuthority for CA_TYPE=step-ca (and the embedded default): every missing or
 * unusable setting stops the worker with an error that names it. The configuration is loaded
 * without the start-up cross checks so the registry's own checks are what is tested.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { createAdapter } from '../../../src/activities/adapters';
import type { EmbeddedCa } from '../../../src/activities/ca/embedded-ca';
import { caRegistry, createCertificateChecks, embeddedCaRepositoryUrls } from '../../../src/activities/ca/registry';
import { assertConfigFor, ConfigError, loadConfig, loadSettings, type Config, type SettingName } from '../../../src/config';
import { createLogger } from '../../../src/logging';

const logger = createLogger({ level: 'silent' });
/** What every worker needs besides its CA (presence only matters here). */
const WORKER_BASICS = { sealingKeys: `s1:${Buffer.alloc(32, 1).toString('base64')}`, codecKeys: `c1:${Buffer.alloc(32, 2).toString('base64')}`, cegUrl: 'https://ceg.test', cegClientCertFile: 'client.crt', cegClientKeyFile: 'client.key', cegCaFile: 'ca.crt' };

/** As the worker builds it: its requirements first (presence), then the factory (usability). */
async function createCertificateAuthority(config: Config, log: typeof logger) {
  assertConfigFor(config, 'worker');
  return createAdapter(caRegistry, config, log);
}

describe('certificate authority registry: step-ca and embedded', () => {
  let dir: string;
  let keyFile: string;
  let rootFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ca-registry-'));
    keyFile = join(dir, 'provisioner.json');
    writeFileSync(keyFile, JSON.stringify(await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey)));
    rootFile = join(dir, 'root.pem');
    execFileSync('openssl', ['req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'root.key'), '-out', rootFile, '-subj', '/CN=Registry Test Root', '-days', '1'], { stdio: 'ignore' });
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  function config(overrides: Partial<Record<SettingName, string>>): Config {
    const settings = loadSettings({ env: {}, overrides: { ...WORKER_BASICS, dataDir: dir, ...overrides } });
    return { ...settings, dataDirAbsolute: resolve(settings.dataDir) };
  }

  const stepCa = (overrides: Partial<Record<SettingName, string>> = {}) =>
    config({ caType: 'step-ca', caUrl: 'https://ca.internal:9000', caRootFile: rootFile, stepCaProvisioner: 'smime', stepCaProvisionerKeyFile: keyFile, certCrlUrl: 'http://pki.example.com/smime.crl', ...overrides });

  async function rejects(cfg: Config, key: string): Promise<void> {
    await assert.rejects(createCertificateAuthority(cfg, logger), (err: unknown) => err instanceof ConfigError && err.message.includes(key));
  }

  it('builds the step-ca adapter from complete settings', async () => {
    const ca = await createCertificateAuthority(stepCa(), logger);
    assert.equal(ca.type, 'step-ca');
    assert.equal(typeof ca.revoke, 'function');
  });

  it('names CA_URL when it is missing, not a URL, or not https', async () => {
    await rejects(stepCa({ caUrl: '' }), 'CA_URL');
    await rejects(stepCa({ caUrl: 'ca.internal:9000' }), 'CA_URL');
    await rejects(stepCa({ caUrl: 'http://ca.internal:9000' }), 'CA_URL');
  });

  it('names CERT_CRL_URL when it is missing (the template must write a CRL distribution point)', async () => {
    await rejects(stepCa({ certCrlUrl: '' }), 'CERT_CRL_URL');
  });

  it('checks what step-ca returns against CA_ROOT_FILE, or CERT_TRUST_ROOTS_FILE when set', async () => {
    const cfg = stepCa();
    const checks = createCertificateChecks(cfg, await createCertificateAuthority(cfg, logger));
    assert.deepEqual(checks.policy.trustRootsPem, [readFileSync(rootFile, 'utf8')]);
    assert.equal(checks.policy.profile, 'mailbox-strict');
    assert.throws(() => createCertificateChecks(stepCa({ certTrustRootsFile: join(dir, 'missing.pem') }), { type: 'step-ca', submit: async () => ({ status: 'pending', requestId: 'x' }), poll: async () => ({ status: 'pending', requestId: 'x' }) }), /CERT_TRUST_ROOTS_FILE/);
  });

  it('names STEP_CA_PROVISIONER when it is missing', async () => {
    await rejects(stepCa({ stepCaProvisioner: '' }), 'STEP_CA_PROVISIONER');
  });

  it('names STEP_CA_PROVISIONER_KEY_FILE when it is missing, unreadable, not a JWK, or only a public key', async () => {
    await rejects(stepCa({ stepCaProvisionerKeyFile: '' }), 'STEP_CA_PROVISIONER_KEY_FILE');
    await rejects(stepCa({ stepCaProvisionerKeyFile: join(dir, 'nope.json') }), 'STEP_CA_PROVISIONER_KEY_FILE');
    const notJwk = join(dir, 'encrypted.json');
    writeFileSync(notJwk, 'eyJhbGciOiJQQkVTMi1IUzI1NitBMTI4S1ciLCJlbmMiOiJBMTI4R0NNIn0.x.y.z.w');
    await rejects(stepCa({ stepCaProvisionerKeyFile: notJwk }), 'STEP_CA_PROVISIONER_KEY_FILE');
    const publicOnly = join(dir, 'public.json');
    writeFileSync(publicOnly, JSON.stringify(await exportJWK((await generateKeyPair('ES256')).publicKey)));
    await rejects(stepCa({ stepCaProvisionerKeyFile: publicOnly }), 'STEP_CA_PROVISIONER_KEY_FILE');
  });

  it('never puts the provisioner key in an error', async () => {
    const leaky = join(dir, 'leaky.json');
    writeFileSync(leaky, '{"kty":"EC","crv":"P-256","d":"SECRETSECRETSECRET","x":"bad","y":"bad"}');
    await assert.rejects(createCertificateAuthority(stepCa({ stepCaProvisionerKeyFile: leaky }), logger), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(!err.message.includes('SECRETSECRETSECRET'));
      return true;
    });
  });

  it('names CA_ROOT_FILE when it cannot be read or holds no certificate', async () => {
    await rejects(stepCa({ caRootFile: join(dir, 'missing.pem') }), 'CA_ROOT_FILE');
    await rejects(stepCa({ caRootFile: keyFile }), 'CA_ROOT_FILE');
  });

  it('builds the embedded CA by default with DEV_MODE=true, in <DATA_DIR>/embedded-ca, checked against its own root', async () => {
    const settings = loadConfig({ env: {}, overrides: { ...WORKER_BASICS, dataDir: dir, devMode: 'true' } });
    const ca = await createCertificateAuthority(settings, logger);
    assert.equal(ca.type, 'embedded');
    assert.deepEqual(createCertificateChecks(settings, ca).policy.trustRootsPem, [(ca as EmbeddedCa).rootCertificatePem]);
  });

  it('writes the repository server\'s URLs into embedded certificates, or CERT_CRL_URL / CERT_CA_ISSUERS_URL / CERT_OCSP_URL when set', () => {
    assert.deepEqual(embeddedCaRepositoryUrls(config({ caRepositoryPort: '8446' })), {
      intermediate: { crl: 'http://127.0.0.1:8446/embedded-ca/root.crl', caIssuers: 'http://127.0.0.1:8446/embedded-ca/root.cer' },
      leaves: { crl: 'http://127.0.0.1:8446/embedded-ca/intermediate.crl', caIssuers: 'http://127.0.0.1:8446/embedded-ca/intermediate.cer' },
    });
    const set = embeddedCaRepositoryUrls(config({ certCrlUrl: 'http://pki.example.com/a.crl', certCaIssuersUrl: 'http://pki.example.com/a.cer', certOcspUrl: 'http://ocsp.example.com/' }));
    assert.deepEqual(set.leaves, { crl: 'http://pki.example.com/a.crl', caIssuers: 'http://pki.example.com/a.cer', ocsp: 'http://ocsp.example.com/' });
  });

  it('refuses the embedded CA, and a missing CA_TYPE, outside DEV_MODE', async () => {
    await rejects(config({ caType: 'embedded' }), 'CA_TYPE: embedded is the development CA');
    await rejects(config({}), 'CA_TYPE: required');
  });
});
