/**
 * The cluster's own PKI, under `DATA_DIR/cluster/pki/`: one CA (`ca.pem`, ECDSA P-256, 10 years)
 * and the TLS certificates it signs, made with the OpenSSL CLI:
 *
 *   temporal-frontend    server: the frontend's gRPC port, which requires client certificates
 *   temporal-internode   server + client: history, matching, worker and frontend among themselves,
 *                        and Temporal's system worker calling the frontend
 *   postgres             server: PostgreSQL (TLS required for every TCP connection)
 *   proxy                server: the reverse proxy at https://127.0.0.1:<proxy port> (HAProxy reads
 *                        certificate and key from one file, proxy-bundle.pem)
 *   worker-<n>, api, admin  clients of the frontend: the provider's workers, its API replicas,
 *                        and the tools (cluster set-up, UI server, tests, bench)
 *
 * Every server certificate names localhost and 127.0.0.1. Certificates are kept across starts and
 * re-issued when they expire within 30 days. Keys are 0600. This CA signs nothing else: the S/MIME
 * certificates come from step-ca, with a hierarchy of their own.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const OPENSSL = 'openssl';
const LEAF_DAYS = 397;
const RENEW_WITHIN_SECONDS = 30 * 24 * 3600;

export type CertificateUse = 'server' | 'client' | 'server+client';

export interface IssuedFiles {
  cert: string;
  key: string;
}

export interface ClusterPki {
  dir: string;
  caFile: string;
  caKeyFile: string;
  files(name: string): IssuedFiles;
}

export function clusterPki(dir: string): ClusterPki {
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    caKeyFile: join(dir, 'ca-key.pem'),
    files: (name) => ({ cert: join(dir, `${name}.pem`), key: join(dir, `${name}-key.pem`) }),
  };
}

/** The CA, created on first use. */
export async function ensureCa(pki: ClusterPki, subject = '/O=smime-escrow-provider/CN=smime-escrow-provider cluster CA'): Promise<void> {
  if (existsSync(pki.caFile) && existsSync(pki.caKeyFile)) return;
  mkdirSync(pki.dir, { recursive: true, mode: 0o755 });
  await run(OPENSSL, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', pki.caKeyFile]);
  await run(OPENSSL, [
    'req', '-x509', '-new', '-key', pki.caKeyFile, '-sha256', '-days', '3650', '-subj', subject, '-out', pki.caFile,
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash',
  ]);
  chmodKey(pki.caKeyFile);
}

/**
 * A certificate signed by the cluster CA, issued when missing or expiring within 30 days.
 * Returns its files; `bundle` also writes `<name>-bundle.pem` (certificate, then key).
 */
export async function ensureCertificate(pki: ClusterPki, name: string, options: { use: CertificateUse; commonName?: string; dns?: string[]; ips?: string[]; bundle?: boolean }): Promise<IssuedFiles & { bundle?: string }> {
  const files = pki.files(name);
  const bundle = options.bundle ? join(pki.dir, `${name}-bundle.pem`) : undefined;
  if (existsSync(files.cert) && existsSync(files.key) && (!bundle || existsSync(bundle)) && (await validFor(files.cert, RENEW_WITHIN_SECONDS))) return { ...files, bundle };
  await issue(pki, files, { ...options, commonName: options.commonName ?? name, caFile: pki.caFile, caKeyFile: pki.caKeyFile });
  if (bundle) {
    writeFileSync(bundle, `${readFileSync(files.cert, 'utf8')}${readFileSync(files.key, 'utf8')}`, { mode: 0o600 });
  }
  return { ...files, bundle };
}

/** Issue a leaf certificate for `commonName` from any CA (tests use it with a CA of their own). */
export async function issue(pki: { dir: string }, files: IssuedFiles, options: { use: CertificateUse; commonName: string; dns?: string[]; ips?: string[]; caFile: string; caKeyFile: string; days?: number }): Promise<void> {
  const csr = `${files.cert}.csr`;
  const ext = `${files.cert}.ext`;
  const serial = join(pki.dir, 'serial.srl');
  const eku = { server: 'serverAuth', client: 'clientAuth', 'server+client': 'serverAuth,clientAuth' }[options.use];
  const sans = [...(options.dns ?? []).map((d) => `DNS:${d}`), ...(options.ips ?? []).map((ip) => `IP:${ip}`)];
  writeFileSync(
    ext,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${eku}`,
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
      '',
    ].join('\n'),
  );
  await run(OPENSSL, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', files.key]);
  chmodKey(files.key);
  await run(OPENSSL, ['req', '-new', '-key', files.key, '-subj', `/O=smime-escrow-provider/CN=${options.commonName}`, '-out', csr]);
  await run(OPENSSL, [
    'x509', '-req', '-in', csr, '-CA', options.caFile, '-CAkey', options.caKeyFile,
    ...(existsSync(serial) ? ['-CAserial', serial] : ['-CAcreateserial', '-CAserial', serial]),
    '-sha256', '-days', String(options.days ?? LEAF_DAYS), '-extfile', ext, '-out', files.cert,
  ]);
  rmSync(csr, { force: true });
  rmSync(ext, { force: true });
}

/** A self-signed CA somewhere else (a test's "rogue" CA, which the cluster must not trust). */
export async function makeCa(dir: string, commonName: string): Promise<{ caFile: string; caKeyFile: string }> {
  const pki = clusterPki(dir);
  await ensureCa(pki, `/O=elsewhere/CN=${commonName}`);
  return { caFile: pki.caFile, caKeyFile: pki.caKeyFile };
}

async function validFor(certFile: string, seconds: number): Promise<boolean> {
  try {
    await run(OPENSSL, ['x509', '-in', certFile, '-noout', '-checkend', String(seconds)]);
    return true;
  } catch {
    return false;
  }
}

function chmodKey(file: string): void {
  chmodSync(file, 0o600);
}
