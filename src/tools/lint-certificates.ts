/**
 * `npm run lint:certs [-- [--strict] files...]`: run the S/MIME linters CAs use (pkilint `lint_cabf_smime_cert
 * lint -d`, zlint) over delivered certificates. Without arguments it takes every credential the
 * dev stack's CEG simulator received (`DATA_DIR/ceg-sim/received/<user>/<device>/<kind>.p12`, each
 * opened with its `.pass` file); arguments may be PEM certificates or such `.p12` files.
 *
 * Prints one line per certificate (detected type, errors/warnings per linter, the findings) and
 * exits 1 when any certificate has an error or warning. One finding is set apart: the dev stack's
 * CRL and issuer URLs point at its loopback repository (http://127.0.0.1:8446/...) so that they
 * answer on a developer machine, and both linters flag a host outside the public DNS — pkilint
 * `cabf.internal_domain_name` on those URLs, zlint `w_smime_aia_contains_internal_names`. They
 * are listed as "justified" (README, Linter results) and do not fail the run; `--strict` counts them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { splitPemBundle } from '../activities/crypto/certificate-info';
import { x509 } from '../activities/crypto/x509';
import { blocking, CertificateLinters, formatFindings, type LintFinding } from './certificate-linters';
import { ToolUnavailable } from './go-tool';
import { projectPath } from './paths';

/** Every `<kind>.p12` under `dir` that has its `<kind>.pass` next to it. */
function receivedCredentials(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...receivedCredentials(path));
    else if (name.endsWith('.p12') && existsSync(path.replace(/\.p12$/, '.pass'))) found.push(path);
  }
  return found.sort();
}

/** The leaf certificate of a PEM file or of a PKCS#12 with its `.pass` file, as PEM. */
function leafCertificate(file: string): string {
  if (file.endsWith('.p12')) {
    const out = execFileSync('openssl', ['pkcs12', '-in', file, '-clcerts', '-nokeys', '-passin', `file:${file.replace(/\.p12$/, '.pass')}`], { encoding: 'utf8' });
    const [pem] = splitPemBundle(out);
    if (!pem) throw new Error(`${file} holds no certificate`);
    return pem;
  }
  const [pem] = splitPemBundle(readFileSync(file, 'utf8'));
  if (!pem) throw new Error(`${file} holds no PEM certificate`);
  return pem;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** A finding caused only by CRL/AIA URLs on the loopback repository of the dev stack. */
function loopbackRepositoryFinding(finding: LintFinding, certificatePem: string): boolean {
  if (finding.linter === 'pkilint') {
    return finding.code === 'cabf.internal_domain_name' && /(cRLDistributionPoints|authorityInfoAccessSyntax)\..*Internal domain name: "(127\.0\.0\.1|localhost)"/.test(finding.detail ?? '');
  }
  if (finding.code !== 'w_smime_aia_contains_internal_names') return false;
  const aia = new x509.X509Certificate(certificatePem).getExtension(x509.AuthorityInfoAccessExtension);
  const urls = [...(aia?.caIssuers ?? []), ...(aia?.ocsp ?? [])].map((name) => new URL(name.value).hostname);
  return urls.length > 0 && urls.every((host) => LOOPBACK_HOSTS.has(host));
}

async function main(): Promise<number> {
  const dataDir = resolve(process.env.DATA_DIR ?? projectPath('.data'));
  const strict = process.argv.includes('--strict');
  const args = process.argv.slice(2).filter((arg) => arg !== '--strict');
  const files = args.length > 0 ? args.map((f) => resolve(f)) : receivedCredentials(join(dataDir, 'ceg-sim', 'received'));
  if (files.length === 0) {
    process.stderr.write(`no certificates to lint: none given, and none received under ${join(dataDir, 'ceg-sim', 'received')} (run npm run dev, then npm run simulate)\n`);
    return 2;
  }
  const linters = await CertificateLinters.ensure();
  const work = mkdtempSync(join(tmpdir(), 'lint-certs-'));
  let failed = 0;
  try {
    process.stdout.write(`pkilint ${linters.versions.pkilint} (lint_cabf_smime_cert lint -d), zlint ${linters.versions.zlint} (all lints)\n`);
    for (const [index, file] of files.entries()) {
      const pem = join(work, `${index}-${basename(file)}.pem`);
      const leaf = leafCertificate(file);
      writeFileSync(pem, leaf);
      const result = await linters.subscriber(pem);
      const justified = strict ? [] : blocking(result.findings).filter((f) => loopbackRepositoryFinding(f, leaf));
      const bad = blocking(result.findings).filter((f) => !justified.includes(f));
      const tally = (linter: string) => {
        const mine = bad.filter((f) => f.linter === linter);
        return `${mine.filter((f) => f.severity !== 'warning').length}/${mine.filter((f) => f.severity === 'warning').length}`;
      };
      if (bad.length > 0) failed += 1;
      const name = file.startsWith(dataDir) ? relative(dataDir, file) : file;
      const note = justified.length > 0 ? ` (+${justified.length} justified: loopback repository URLs)` : '';
      process.stdout.write(`${bad.length === 0 ? 'ok  ' : 'FAIL'} ${name}: ${result.detectedType ?? 'type not detected'}, pkilint E/W ${tally('pkilint')}, zlint E/W ${tally('zlint')}${note}\n`);
      if (bad.length > 0) process.stdout.write(`${formatFindings(bad).replace(/^/gm, '       ')}\n`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(`${files.length} certificate(s), ${failed} with errors or warnings\n`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof ToolUnavailable ? err.message : (err as Error).stack}\n`);
    process.exit(2);
  },
);
