/**
 * A real step-ca for tests, configured from scratch in a temporary folder on loopback: an OpenSSL
 * root and intermediate (the intermediate key encrypted, opened with --password-file; the
 * intermediate in the CA/B Forum S/MIME BR subordinate-CA profile as far as step-ca allows, see
 * makePki), a JWK
 * provisioner whose key `jose` generates (public half in ca.json, private half in a file the
 * adapter reads), the provider's S/MIME template, a bbolt database (step-ca needs one to refuse
 * reused tokens and to record revocations) and a CRL (so a test can see what was revoked).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { Agent, request } from 'undici';
import { SMIME_X509_TEMPLATE } from '../../src/activities/ca/step-ca/smime-template';
import { ensureStepCa } from '../../src/tools/step-ca';

const run = promisify(execFile);
const OPENSSL = '/usr/bin/openssl';

export interface StepCaFixture {
  /** https://127.0.0.1:<port> */
  url: string;
  dir: string;
  rootFile: string;
  rootPem: string;
  intermediatePem: string;
  provisionerName: string;
  /** The decrypted private JWK, as STEP_CA_PROVISIONER_KEY_FILE holds it. */
  provisionerKeyFile: string;
  /** What step-ca printed so far (JSON log lines). */
  logs(): string;
  /** Serial numbers (lower-case hex) of every certificate step-ca has signed so far, from its log. */
  issuedSerials(): string[];
  /** How many sign requests step-ca has answered so far (any status), from its log. */
  signRequests(): number;
  /** Serial numbers (lower-case hex) on the CA's current CRL. */
  revokedSerials(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface StepCaFixtureOptions {
  /** Authority-wide x509 policy: only these email constraints may be certified (e.g. `@example.com`). */
  allowedEmails?: string[];
}

export async function startStepCa(options: StepCaFixtureOptions = {}): Promise<StepCaFixture> {
  const binary = await ensureStepCa();
  const dir = mkdtempSync(join(tmpdir(), 'step-ca-'));
  const file = (name: string) => join(dir, name);
  let child: ChildProcess | undefined;
  try {
    await makePki(dir);
    const provisionerName = 'smime-provider';
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk: JWK = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
    writeFileSync(file('provisioner-key.json'), JSON.stringify(privateJwk), { mode: 0o600 });
    mkdirSync(file('templates'));
    writeFileSync(file('templates/smime.tpl'), SMIME_X509_TEMPLATE);

    const port = await freePort();
    const config = {
      root: file('root.crt'),
      crt: file('intermediate.crt'),
      key: file('intermediate.key'),
      address: `127.0.0.1:${port}`,
      dnsNames: ['127.0.0.1', 'localhost'],
      logger: { format: 'json' },
      db: { type: 'bbolt', dataSource: file('db.bolt') },
      crl: { enabled: true, generateOnRevoke: true },
      authority: {
        ...(options.allowedEmails ? { policy: { x509: { allow: { email: options.allowedEmails } } } } : {}),
        provisioners: [
          {
            type: 'JWK',
            name: provisionerName,
            key: { ...publicJwk, kid, alg: 'ES256', use: 'sig' },
            // No smallstep provisioner extension: the S/MIME BR allow no such extension in a subscriber certificate.
            claims: { defaultTLSCertDuration: '8760h', maxTLSCertDuration: '19800h', disableSmallstepExtensions: true },
            options: { x509: { templateFile: file('templates/smime.tpl') } },
          },
        ],
      },
      tls: { minVersion: 1.2, maxVersion: 1.3, renegotiation: false },
    };
    writeFileSync(file('ca.json'), JSON.stringify(config, null, 2));

    const output: string[] = [];
    child = spawn(binary, [file('ca.json'), '--password-file', file('password.txt')], {
      cwd: dir,
      env: { ...process.env, STEPPATH: dir, HOME: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const running = child;
    running.stdout!.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
    running.stderr!.setEncoding('utf8').on('data', (chunk: string) => output.push(chunk));
    const url = `https://127.0.0.1:${port}`;
    const rootPem = readFileSync(file('root.crt'), 'utf8');
    await waitUntilHealthy(url, rootPem, running, () => output.join(''));

    return {
      url,
      dir,
      rootFile: file('root.crt'),
      rootPem,
      intermediatePem: readFileSync(file('intermediate.crt'), 'utf8'),
      provisionerName,
      provisionerKeyFile: file('provisioner-key.json'),
      logs: () => output.join(''),
      issuedSerials: () => logEntries(output.join('')).filter((e) => e.path === '/1.0/sign' && e.status === 201 && typeof e.serial === 'string').map((e) => BigInt(e.serial as string).toString(16)),
      signRequests: () => logEntries(output.join('')).filter((e) => e.path === '/1.0/sign').length,
      revokedSerials: () => crlSerials(url, rootPem, dir),
      stop: async () => {
        await stopChild(running);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (child) await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Where the step-ca PKI says its CRLs and CA certificates are published: a documentation host
 * (RFC 2606) — nothing in the tests fetches them (step-ca's own CRL is read at /1.0/crl), and a
 * public name keeps the linters' internal-name findings out of what the tests lint.
 */
export const STEP_CA_PUBLICATION = {
  leaves: { crl: 'http://pki.example.com/step-ca/intermediate.crl', caIssuers: 'http://pki.example.com/step-ca/intermediate.cer' },
  intermediate: { crl: 'http://pki.example.com/step-ca/root.crl', caIssuers: 'http://pki.example.com/step-ca/root.cer' },
} as const;

/** Root (self-signed) and intermediate, both P-256, like `step ca init` makes, with the S/MIME BR's CA extensions. */
async function makePki(dir: string): Promise<void> {
  const file = (name: string) => join(dir, name);
  writeFileSync(file('password.txt'), 'intermediate-key-password\n', { mode: 0o600 });
  await run(OPENSSL, [
    'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', file('root.key'), '-out', file('root.crt'), '-days', '30', '-subj', '/C=XX/O=Test/CN=Test SMIME Root CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run(OPENSSL, [
    'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-aes-256-cbc',
    '-pass', `file:${file('password.txt')}`, '-out', file('intermediate.key'),
  ]);
  await run(OPENSSL, [
    'req', '-new', '-key', file('intermediate.key'), '-passin', `file:${file('password.txt')}`,
    '-subj', '/C=XX/O=Test/CN=Test SMIME Intermediate CA', '-out', file('intermediate.csr'),
  ]);
  writeFileSync(
    file('intermediate.ext'),
    [
      'basicConstraints=critical,CA:TRUE,pathlen:0',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
      // No extendedKeyUsage, although BR 7.1.2.2(g) wants emailProtection on an S/MIME issuing CA:
      // step-ca signs its own HTTPS certificate with this intermediate, and OpenSSL (so Node)
      // refuses a server certificate whose issuer's EKU lacks serverAuth — which the BR forbid.
      'certificatePolicies=2.5.29.32.0',
      `crlDistributionPoints=URI:${STEP_CA_PUBLICATION.intermediate.crl}`,
      `authorityInfoAccess=caIssuers;URI:${STEP_CA_PUBLICATION.intermediate.caIssuers}`,
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      '',
    ].join('\n'),
  );
  await run(OPENSSL, [
    'x509', '-req', '-in', file('intermediate.csr'), '-CA', file('root.crt'), '-CAkey', file('root.key'),
    '-CAcreateserial', '-days', '30', '-extfile', file('intermediate.ext'), '-out', file('intermediate.crt'),
  ]);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitUntilHealthy(url: string, rootPem: string, child: ChildProcess, logs: () => string): Promise<void> {
  const dispatcher = new Agent({ connect: { ca: rootPem } });
  const deadline = Date.now() + 20_000;
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`step-ca exited with ${child.exitCode}:\n${logs()}`);
      try {
        const response = await request(`${url}/health`, { dispatcher });
        const body = await response.body.text();
        if (response.statusCode === 200) return;
        throw new Error(`health: ${response.statusCode} ${body}`);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`step-ca did not become healthy in 20 s:\n${logs()}`);
  } finally {
    await dispatcher.close();
  }
}

function logEntries(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function crlSerials(url: string, rootPem: string, dir: string): Promise<string[]> {
  const dispatcher = new Agent({ connect: { ca: rootPem } });
  try {
    const response = await request(`${url}/1.0/crl`, { dispatcher });
    const der = Buffer.from(await response.body.arrayBuffer());
    if (response.statusCode !== 200) throw new Error(`CRL: ${response.statusCode} ${der.toString('utf8')}`);
    const crlFile = join(dir, 'current.crl');
    writeFileSync(crlFile, der);
    const { stdout } = await run(OPENSSL, ['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text']);
    return [...stdout.matchAll(/Serial Number:\s*([0-9A-Fa-f]+)/g)].map((m) => BigInt(`0x${m[1]}`).toString(16));
  } finally {
    await dispatcher.close();
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** An S/MIME CSR made with the OpenSSL CLI: key type, CN and email SAN as asked. */
export async function opensslSmimeCsr(options: { email: string; commonName?: string; keyType: 'rsa' | 'ec'; dir: string }): Promise<string> {
  const keyFile = join(options.dir, `csr-${Date.now()}-${Math.random().toString(16).slice(2)}.key`);
  const keyArgs = options.keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  const subject = options.commonName ? `/CN=${options.commonName}` : '/';
  const { stdout } = await run(OPENSSL, [
    'req', '-new', ...keyArgs, '-nodes', '-keyout', keyFile, '-subj', subject,
    '-addext', `subjectAltName=email:${options.email}`, '-addext', 'extendedKeyUsage=emailProtection',
  ]);
  return stdout;
}

export interface LossyProxy {
  /** https://127.0.0.1:<port>, a TLS endpoint of its own in front of step-ca. */
  url: string;
  /** PEM to trust for the proxy's TLS certificate (add it to the step-ca root). */
  certificatePem: string;
  /** The next `count` requests (to `path`, if given) reach step-ca, but their answers never reach the caller. */
  loseAnswers(count: number, path?: string): void;
  close(): Promise<void>;
}

/**
 * An HTTPS reverse proxy to step-ca that can lose answers the way a network does: it forwards
 * the request, lets step-ca finish (sign, record the token), reads the whole answer, and then
 * drops the caller's connection instead of answering.
 */
export async function startLossyProxy(target: StepCaFixture, dir: string): Promise<LossyProxy> {
  await run(OPENSSL, [
    'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', join(dir, 'proxy.key'), '-out', join(dir, 'proxy.crt'), '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-addext', 'basicConstraints=critical,CA:FALSE',
  ]);
  const certificatePem = readFileSync(join(dir, 'proxy.crt'), 'utf8');
  const upstream = new Agent({ connect: { ca: target.rootPem } });
  let toLose = 0;
  let losePath: string | undefined;
  const server = createHttpsServer({ key: readFileSync(join(dir, 'proxy.key')), cert: certificatePem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const lose = toLose > 0 && (losePath === undefined || req.url === losePath);
      if (lose) toLose -= 1;
      request(`${target.url}${req.url ?? '/'}`, {
        method: req.method as 'GET' | 'POST',
        headers: { 'content-type': req.headers['content-type'] ?? 'application/json' },
        body: chunks.length ? Buffer.concat(chunks) : undefined,
        dispatcher: upstream,
      })
        .then(async (answer) => {
          const body = Buffer.from(await answer.body.arrayBuffer());
          if (lose) {
            req.socket.destroy();
            return;
          }
          res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') });
          res.end(body);
        })
        .catch(() => req.socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('proxy has no address');
  return {
    url: `https://127.0.0.1:${address.port}`,
    certificatePem,
    loseAnswers: (count, path) => {
      toLose = count;
      losePath = path;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await upstream.close();
    },
  };
}
