/** createCertificateAuthority for CA_TYPE=order-poll: missing or unusable settings are named. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createAdapter } from '../../../src/activities/adapters';
import { caRegistry } from '../../../src/activities/ca/registry';
import { assertConfigFor, ConfigError, loadSettings, type Config, type SettingName } from '../../../src/config';
import { createLogger } from '../../../src/logging';

const logger = createLogger({ level: 'silent' });
/** What every worker needs besides its CA (presence only matters here). */
const WORKER_BASICS = { sealingKeys: `s1:${Buffer.alloc(32, 1).toString('base64')}`, codecKeys: `c1:${Buffer.alloc(32, 2).toString('base64')}`, cegUrl: 'https://ceg.test', cegClientCertFile: 'client.crt', cegClientKeyFile: 'client.key', cegCaFile: 'ca.crt' };

/** As the worker builds it: its requirements first (presence), then the factory (usability). */
async function createCertificateAuthority(config: Config, log: typeof logger) {
  assertConfigFor(config, 'worker');
  return createAdapter(caRegistry, config, log);
}

describe('certificate authority registry: order-poll', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ca-registry-order-'));
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  function config(overrides: Partial<Record<SettingName, string>>): Config {
    const settings = loadSettings({ env: {}, overrides: { ...WORKER_BASICS, dataDir: dir, caType: 'order-poll', caUrl: 'https://api.ca.example/', orderPollApiKey: 'key-123', certTrustRootsFile: 'roots.pem', ...overrides } });
    return { ...settings, dataDirAbsolute: resolve(settings.dataDir) };
  }

  async function rejects(cfg: Config, key: string): Promise<void> {
    await assert.rejects(createCertificateAuthority(cfg, logger), (err: unknown) => err instanceof ConfigError && err.message.includes(key));
  }

  it('builds the order-poll adapter over https, or http for a loopback simulator', async () => {
    assert.equal((await createCertificateAuthority(config({}), logger)).type, 'order-poll');
    assert.equal((await createCertificateAuthority(config({ caUrl: 'http://127.0.0.1:8445' }), logger)).type, 'order-poll');
  });

  it('names ORDER_CA_API_KEY when it is missing', async () => {
    await rejects(config({ orderPollApiKey: '' }), 'ORDER_CA_API_KEY');
  });

  it('names CA_URL when it is missing or not http(s)', async () => {
    await rejects(config({ caUrl: '' }), 'CA_URL');
    await rejects(config({ caUrl: 'ftp://api.ca.example' }), 'CA_URL');
  });

  it('names CA_ROOT_FILE when it cannot be read', async () => {
    await rejects(config({ caRootFile: join(dir, 'missing.pem') }), 'CA_ROOT_FILE');
  });
});
