import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, problemsFor, provisioningPolicy, type ProcessRole } from '../../../src/config';
import { withSettingsTable } from '../../../src/config/docs';
import { projectPath } from '../../../src/tools/paths';
import { HOUR_MS } from '../../../src/domain/schedule';

describe('configuration', () => {
  it('loads defaults with nothing set, and no CA until one is chosen', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.temporalAddress, '127.0.0.1:7233');
    assert.equal(config.apiPort, 3000);
    assert.equal(config.caType, undefined);
    assert.equal(config.devMode, false);
    assert.deepEqual(config.credentialKinds, ['signing', 'encryption']);
    assert.equal(config.interval, 4 * HOUR_MS);
    assert.equal(config.window, 12.5 * 24 * HOUR_MS);
  });

  it('leaves the worker cache to the SDK unless WORKER_MAX_CACHED_WORKFLOWS sets a whole number', () => {
    assert.equal(loadConfig({ env: {} }).maxCachedWorkflows, undefined);
    assert.equal(loadConfig({ env: { WORKER_MAX_CACHED_WORKFLOWS: '' } }).maxCachedWorkflows, undefined);
    assert.equal(loadConfig({ env: { WORKER_MAX_CACHED_WORKFLOWS: '500' } }).maxCachedWorkflows, 500);
    for (const bad of ['0', '-1', '2.5', 'lots']) {
      assert.throws(() => loadConfig({ env: { WORKER_MAX_CACHED_WORKFLOWS: bad } }), /WORKER_MAX_CACHED_WORKFLOWS .*positive whole number/, bad);
    }
  });

  it('refuses a worker cache smaller than the workflow tasks it runs at once', () => {
    assert.throws(
      () => loadConfig({ env: { WORKER_MAX_CACHED_WORKFLOWS: '10', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '40' } }),
      /WORKER_MAX_CACHED_WORKFLOWS: 10 is below WORKER_MAX_CONCURRENT_WORKFLOW_TASKS \(40\)/,
    );
    assert.equal(loadConfig({ env: { WORKER_MAX_CACHED_WORKFLOWS: '10', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '10' } }).maxCachedWorkflows, 10);
  });

  it('names the environment variable and YAML path of a bad value', () => {
    assert.throws(
      () => loadConfig({ env: { API_PORT: 'eighty' } }),
      (err: unknown) => err instanceof ConfigError && /API_PORT \(YAML api\.port\)/.test(err.message) && /"eighty"/.test(err.message),
    );
  });

  it('reports every problem at once', () => {
    assert.throws(
      () => loadConfig({ env: { API_PORT: '0', PROVISION_SCHEDULE: 'hourly', CERT_VALIDITY_DAYS: '900' } }),
      (err: unknown) => err instanceof ConfigError && err.problems.length === 3 && /825/.test(err.message),
    );
  });

  it('never echoes a secret setting in an error', () => {
    assert.throws(
      () => loadConfig({ env: { API_TOKENS: 'short-secret-token:admin' } }),
      (err: unknown) => err instanceof ConfigError && /API_TOKENS/.test(err.message) && !err.message.includes('short-secret-token'),
    );
  });

  it('reads the codec\'s v1 cut-off as a time with a zone, and refuses anything else', () => {
    assert.equal(loadConfig({ env: {} }).codecAcceptUnboundV1Until, Date.parse('2027-03-01T00:00:00Z'));
    assert.equal(loadConfig({ env: { CODEC_ACCEPT_UNBOUND_V1_UNTIL: '2026-12-14T12:00:00+01:00' } }).codecAcceptUnboundV1Until, Date.parse('2026-12-14T11:00:00Z'));
    for (const bad of ['2026-12-14', 'next month', '2026-12-14T12:00:00']) {
      assert.throws(() => loadConfig({ env: { CODEC_ACCEPT_UNBOUND_V1_UNTIL: bad } }), /CODEC_ACCEPT_UNBOUND_V1_UNTIL .*ISO 8601/, bad);
    }
  });

  it('takes proxies to trust as addresses, CIDR ranges or express\'s named ranges', () => {
    assert.deepEqual(loadConfig({ env: { API_TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::1' } }).apiTrustProxy, ['loopback', '10.0.0.0/8', 'fd00::1']);
    for (const bad of ['proxy.internal', '10.0.0.0/33', '10.0.0.1/8/1', '*']) {
      assert.throws(() => loadConfig({ env: { API_TRUST_PROXY: bad } }), /API_TRUST_PROXY: .*not an address/, bad);
    }
  });

  it('refuses webhook passwords shorter than 16 characters, without echoing them', () => {
    assert.throws(
      () => loadConfig({ env: { UEM_WEBHOOK_USERS: 'uem:long-enough-password-1,uem:tooShort:14char' } }),
      (err: unknown) => err instanceof ConfigError && /UEM_WEBHOOK_USERS: each password must be at least 16 characters/.test(err.message) && !err.message.includes('tooShort'),
    );
    assert.deepEqual(loadConfig({ env: { UEM_WEBHOOK_USERS: 'uem:sixteen-chars-ok' } }).webhookUsers, ['uem:sixteen-chars-ok']);
  });

  it('PostgreSQL over the network needs verified TLS in the URL, or ESCROW_DATABASE_ALLOW_PLAINTEXT; never echoes the URL', () => {
    const postgres = (url: string, extra: Record<string, string> = {}) => () => loadConfig({ env: { ESCROW_STORE: 'postgres', ESCROW_DATABASE_URL: url, ...extra } });
    for (const url of ['postgresql://app:S3cretPw@db.internal:5432/escrow', 'postgresql://app:S3cretPw@db.internal/escrow?sslmode=require', 'postgresql://app:S3cretPw@10.0.0.5/escrow?sslmode=disable']) {
      assert.throws(postgres(url), (err: unknown) => err instanceof ConfigError && /ESCROW_DATABASE_URL: .*sslmode=verify-full/.test(err.message) && !err.message.includes('S3cretPw'), url);
    }
    for (const url of [
      'postgresql://app:S3cretPw@db.internal:5432/escrow?sslmode=verify-full',
      'postgresql://app:S3cretPw@db.internal/escrow?sslmode=verify-ca&sslrootcert=/etc/pki/db-ca.pem',
      'postgresql://app:S3cretPw@127.0.0.1:5432/escrow',
      'postgresql://app:S3cretPw@[::1]/escrow',
      'postgresql:///escrow?host=/var/run/postgresql',
    ]) {
      assert.doesNotThrow(postgres(url), url);
    }
    assert.doesNotThrow(postgres('postgresql://app:S3cretPw@db.internal/escrow', { ESCROW_DATABASE_ALLOW_PLAINTEXT: 'true' }));
  });

  it('makes the embedded CA the default only in DEV_MODE', () => {
    assert.equal(loadConfig({ env: { DEV_MODE: 'true' } }).caType, 'embedded');
    assert.equal(loadConfig({ env: { DEV_MODE: 'true', CA_TYPE: 'step-ca' } }).caType, 'step-ca');
  });

  it('requires the keys an adapter needs, by name, for the process that needs them', () => {
    assert.throws(
      () => loadConfig({ env: { CA_TYPE: 'step-ca' }, role: 'worker' }),
      (err: unknown) => err instanceof ConfigError && /CA_URL: required when CA_TYPE=step-ca/.test(err.message) && /STEP_CA_PROVISIONER: required/.test(err.message) && /CA_ROOT_FILE: required/.test(err.message),
    );
    assert.doesNotThrow(() => loadConfig({ env: { CA_TYPE: 'step-ca' } }), 'without a role only values and their relations are checked');
  });

  it('asks each process only for what it needs', () => {
    const problems = (role: ProcessRole) => problemsFor(loadConfig({ env: {} }), role);
    assert.deepEqual(
      problems('worker').map((p) => p.split(':')[0]),
      ['SEALING_KEYS', 'CODEC_KEYS', 'CA_TYPE', 'CEG_URL', 'CEG_CLIENT_CERT', 'CEG_CLIENT_KEY', 'CEG_CA_FILE'],
    );
    assert.deepEqual(problems('api').map((p) => p.split(':')[0]), ['CODEC_KEYS']);
  });

  it('requires the S/MIME BR publication and trust settings a CA type needs', () => {
    assert.throws(() => loadConfig({ env: { CA_TYPE: 'step-ca' }, role: 'worker' }), (err: unknown) => err instanceof ConfigError && /CERT_CRL_URL: required/.test(err.message));
    assert.throws(() => loadConfig({ env: { CA_TYPE: 'order-poll', CA_URL: 'https://api.ca.example', ORDER_CA_API_KEY: 'k' }, role: 'worker' }), (err: unknown) => err instanceof ConfigError && /CERT_TRUST_ROOTS_FILE: required/.test(err.message));
    const orderPoll = loadConfig({ env: { CA_TYPE: 'order-poll', CA_URL: 'https://api.ca.example', ORDER_CA_API_KEY: 'k', CA_ROOT_FILE: '/etc/ssl/ca.pem' } });
    assert.equal(orderPoll.certTrustRootsFile, undefined, 'CA_ROOT_FILE stands in for it');
  });

  it('takes the certificate profile, organisation OIDs and http: URLs, and refuses anything else', () => {
    const config = loadConfig({ env: { CERT_PROFILE: 'mailbox-multipurpose', CERT_POLICY_OIDS: '1.3.6.1.4.1.99999.1.2, 1.3.6.1.4.1.99999.1.3', CERT_CRL_URL: 'http://pki.example.com/a.crl' } });
    assert.equal(config.certProfile, 'mailbox-multipurpose');
    assert.deepEqual(config.certPolicyOids, ['1.3.6.1.4.1.99999.1.2', '1.3.6.1.4.1.99999.1.3']);
    assert.equal(config.certCrlUrl, 'http://pki.example.com/a.crl');
    for (const [env, key] of [
      [{ CERT_PROFILE: 'mailbox-legacy' }, 'CERT_PROFILE'],
      [{ CERT_POLICY_OIDS: 'not-an-oid' }, 'CERT_POLICY_OIDS'],
      [{ CERT_POLICY_OIDS: '2.23.140.1.5.1.3' }, 'CERT_POLICY_OIDS'],
      [{ CERT_CRL_URL: 'https://pki.example.com/a.crl' }, 'CERT_CRL_URL'],
      [{ CERT_CA_ISSUERS_URL: 'ldap://pki.example.com/' }, 'CERT_CA_ISSUERS_URL'],
      [{ CERT_VALIDITY_DAYS: '30', CERT_MIN_VALIDITY_DAYS: '30' }, 'CERT_MIN_VALIDITY_DAYS'],
    ] as const) {
      assert.throws(() => loadConfig({ env }), (err: unknown) => err instanceof ConfigError && err.message.includes(key), key);
    }
  });

  it('reads a YAML file, and the environment wins over it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    try {
      const file = join(dir, 'provider.yml');
      writeFileSync(file, 'api:\n  port: 4000\nprovisioning:\n  schedule: event-driven\n  credentialKinds: [signing]\n');
      const fromFile = loadConfig({ env: {}, file });
      assert.equal(fromFile.apiPort, 4000);
      assert.equal(fromFile.schedule, 'event-driven');
      assert.deepEqual(fromFile.credentialKinds, ['signing']);
      assert.equal(loadConfig({ env: { API_PORT: '5000' }, file }).apiPort, 5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a YAML file that is not a mapping', () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-'));
    try {
      const file = join(dir, 'bad.yml');
      writeFileSync(file, '- just\n- a list\n');
      assert.throws(() => loadConfig({ env: {}, file }), /CONFIG_FILE: .* must hold a mapping/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('turns settings into the workflow policy', () => {
    const policy = provisioningPolicy(loadConfig({ env: { PROVISION_SCHEDULE: 'event-driven', CA_POLL_INTERVAL: '5m' } }));
    assert.equal(policy.schedule.name, 'event-driven');
    assert.equal(policy.schedule.maxAttempts, 75);
    assert.equal(policy.issuancePollIntervalMs, 5 * 60_000);
  });

  it('the README documents every setting (npm run config:docs)', () => {
    const readme = readFileSync(projectPath('README.md'), 'utf8');
    assert.equal(withSettingsTable(readme), readme, 'README configuration table is stale: run npm run config:docs');
  });
});
