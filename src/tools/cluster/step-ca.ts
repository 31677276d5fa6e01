/**
 * The cluster's certificate authority for S/MIME: smallstep step-ca (built into `.tools/bin` by
 * `npm run tools`), the CA a real deployment of the provider talks to, configured once under
 * `DATA_DIR/cluster/step-ca/` and reused by every later start:
 *
 *   root.crt / root.key                    S/MIME root (ECDSA P-256, self-signed)
 *   intermediate.crt / intermediate.key    the issuing CA; its key encrypted, opened with password.txt
 *   provisioner-key.json                   the JWK provisioner's private key (what the workers sign
 *                                          one-time tokens with: STEP_CA_PROVISIONER_KEY_FILE)
 *   templates/smime.tpl                    the provider's S/MIME certificate template
 *   ca.json, db/                           step-ca's configuration and its bbolt database (spent
 *                                          tokens, revocations); a CRL is served at /1.0/crl
 *
 * Its TLS certificate is step-ca's own, from the intermediate, for 127.0.0.1 and localhost; the
 * workers trust it through CA_ROOT_FILE=root.crt.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { SMIME_X509_TEMPLATE } from '../../activities/ca/step-ca/smime-template';

const run = promisify(execFile);

export const STEP_CA_PROVISIONER = 'smime-provider';

export interface PreparedStepCa {
  dir: string;
  url: string;
  rootFile: string;
  /** The issuing certificate in DER, as the repository publishes it. */
  issuerDerFile: string;
  provisionerKeyFile: string;
  command: { args: string[]; env: NodeJS.ProcessEnv };
}

export async function prepareStepCa(options: { dir: string; port: number }): Promise<PreparedStepCa> {
  const dir = options.dir;
  const file = (name: string) => join(dir, name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (!existsSync(file('intermediate.crt'))) await makeHierarchy(dir);
  if (!existsSync(file('intermediate.der'))) await run('openssl', ['x509', '-in', file('intermediate.crt'), '-outform', 'DER', '-out', file('intermediate.der')]);
  if (!existsSync(file('provisioner-public.json'))) {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk: JWK = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    writeFileSync(file('provisioner-key.json'), JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' }), { mode: 0o600 });
    writeFileSync(file('provisioner-public.json'), JSON.stringify({ ...publicJwk, kid, alg: 'ES256', use: 'sig' }));
  }
  mkdirSync(file('templates'), { recursive: true });
  writeFileSync(file('templates/smime.tpl'), SMIME_X509_TEMPLATE); // the provider's current template, every start
  mkdirSync(file('db'), { recursive: true, mode: 0o700 });
  const config = {
    root: file('root.crt'),
    crt: file('intermediate.crt'),
    key: file('intermediate.key'),
    address: `127.0.0.1:${options.port}`,
    dnsNames: ['127.0.0.1', 'localhost'],
    logger: { format: 'json' },
    db: { type: 'bbolt', dataSource: file('db/step-ca.db') },
    crl: { enabled: true, generateOnRevoke: true },
    authority: {
      provisioners: [
        {
          type: 'JWK',
          name: STEP_CA_PROVISIONER,
          key: JSON.parse(readFileSync(file('provisioner-public.json'), 'utf8')) as JWK,
          claims: { defaultTLSCertDuration: '8760h', maxTLSCertDuration: '19800h' },
          options: { x509: { templateFile: file('templates/smime.tpl') } },
        },
      ],
    },
    tls: { minVersion: 1.2, maxVersion: 1.3, renegotiation: false },
  };
  writeFileSync(file('ca.json'), JSON.stringify(config, null, 2));
  return {
    dir,
    url: `https://127.0.0.1:${options.port}`,
    rootFile: file('root.crt'),
    issuerDerFile: file('intermediate.der'),
    provisionerKeyFile: file('provisioner-key.json'),
    command: { args: [file('ca.json'), '--password-file', file('password.txt')], env: { STEPPATH: dir, HOME: dir } },
  };
}

/** Wait until /health answers 200 over TLS verified against the root. */
export async function waitForStepCa(url: string, rootFile: string, timeoutMs: number, exited?: Promise<string>): Promise<void> {
  const dispatcher = new Agent({ connect: { ca: readFileSync(rootFile, 'utf8') } });
  let gone: string | undefined;
  void exited?.then((how) => (gone = how));
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        const response = await request(`${url}/health`, { dispatcher });
        await response.body.dump();
        if (response.statusCode === 200) return;
      } catch {
        // not listening yet
      }
      if (gone) throw new Error(`step-ca exited (${gone}) while starting`);
      if (Date.now() > deadline) throw new Error(`step-ca did not become healthy in ${timeoutMs / 1000}s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await dispatcher.close();
  }
}

/** Root and intermediate (P-256, like `step ca init`); the intermediate's key encrypted. */
async function makeHierarchy(dir: string): Promise<void> {
  const file = (name: string) => join(dir, name);
  writeFileSync(file('password.txt'), `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  await run('openssl', [
    'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', file('root.key'), '-out', file('root.crt'), '-days', '3650', '-subj', '/O=smime-escrow-provider cluster/CN=Cluster SMIME Root CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-aes-256-cbc', '-pass', `file:${file('password.txt')}`, '-out', file('intermediate.key')]);
  await run('openssl', ['req', '-new', '-key', file('intermediate.key'), '-passin', `file:${file('password.txt')}`, '-subj', '/O=smime-escrow-provider cluster/CN=Cluster SMIME Issuing CA', '-out', file('intermediate.csr')]);
  writeFileSync(file('intermediate.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  await run('openssl', ['x509', '-req', '-in', file('intermediate.csr'), '-CA', file('root.crt'), '-CAkey', file('root.key'), '-CAcreateserial', '-days', '1825', '-extfile', file('intermediate.ext'), '-out', file('intermediate.crt')]);
}
