/**
 * Production processes never fall back to development material: the worker and the API started
 * as a deployment would start them (no DEV_MODE, no dev stack around them) stop within seconds
 * with exit code 2 and a message naming every missing setting, before connecting to anything.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SETTINGS } from '../../src/config';
import { projectPath } from '../../src/tools/paths';

interface Exit {
  code: number | null;
  stderr: string;
  ms: number;
}

/** Run a process entry point the way `npm run worker` / `npm run api` do, with only `env` as its settings. */
function run(entry: string, env: Record<string, string>, dataDir: string): Promise<Exit> {
  const started = Date.now();
  // The caller's provider settings must not leak in: start from a clean environment.
  const providerKeys = new Set(Object.values(SETTINGS).map((s) => s.env));
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !providerKeys.has(key) && key !== 'CONFIG_FILE'));
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', projectPath(entry)], {
    env: { ...base, DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${entry} still running after 30 s; stderr so far:\n${stderr}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, ms: Date.now() - started });
    });
  });
}

describe('a production start without the settings it needs', function () {
  this.timeout(60_000);
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'process-start-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('the worker exits 2 within seconds, naming the keys, the CA and each CEG setting, and writes nothing', async () => {
    const exit = await run('worker.ts', {}, dataDir);
    assert.equal(exit.code, 2, exit.stderr);
    for (const key of ['SEALING_KEYS', 'CODEC_KEYS', 'CA_TYPE', 'CEG_URL', 'CEG_CLIENT_CERT', 'CEG_CLIENT_KEY', 'CEG_CA_FILE']) {
      assert.match(exit.stderr, new RegExp(`- ${key}: required`), `${key} not named:\n${exit.stderr}`);
    }
    assert.ok(exit.ms < 20_000, `took ${exit.ms} ms`);
    assert.deepEqual(readdirSync(dataDir), [], 'no key file, PKI or CA was made');
  });

  it('the worker refuses the embedded CA outside DEV_MODE', async () => {
    const exit = await run('worker.ts', { CA_TYPE: 'embedded' }, dataDir);
    assert.equal(exit.code, 2);
    assert.match(exit.stderr, /CA_TYPE: embedded is the development CA/);
  });

  it('the API exits 2 naming CODEC_KEYS', async () => {
    const exit = await run('src/api/main.ts', { API_HOST: '127.0.0.1' }, dataDir);
    assert.equal(exit.code, 2, exit.stderr);
    assert.match(exit.stderr, /- CODEC_KEYS: required/);
    assert.doesNotMatch(exit.stderr, /CEG_|SEALING_KEYS/, 'the API needs neither the gateway nor the sealing keys');
  });
});
