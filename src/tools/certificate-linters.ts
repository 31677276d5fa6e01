/**
 * The certificate linters public CAs run before issuance, as the test suite and `npm run
 * lint:certs` use them:
 *
 * - DigiCert's **pkilint** (PyPI, into `.tools/pkilint/venv`): `lint_cabf_smime_cert lint -d`
 *   for S/MIME subscriber certificates — `-d` makes it *detect* the validation type and
 *   generation from the reserved policy OID and refuse a certificate it cannot classify, so the
 *   certificate has to say what it is; `lint_pkix_cert` for CA certificates (its S/MIME linter
 *   covers subscribers only), `lint_pkix_signer_signee_cert_chain` for issuer/subject pairs and
 *   `lint_crl` for CRLs.
 * - **zlint** (built from the Go module proxy into `.tools/bin`): every lint it has, which
 *   includes the CABF_SMIME_BR source; lints that do not apply answer NA.
 *
 * Findings are normalised to one shape; `blocking()` picks what a test must not see (fatal,
 * error, warning), notices and infos are reported but allowed.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureGoTool } from './go-tool';
import { ensurePythonTool, type PythonTool } from './python-tool';

const run = promisify(execFile);

export const PKILINT: PythonTool = { name: 'pkilint', distribution: 'pkilint', version: '0.13.3' };
/** The newest zlint release on the module proxy (go.mod without `replace`, builds with the machine's Go). */
export const ZLINT_VERSION = 'v3.7.3';
export const ZLINT_MODULE = `github.com/zmap/zlint/v3/cmd/zlint@${ZLINT_VERSION}`;

export function ensureZlint(): Promise<string> {
  // Not from PATH: another version judges by other lints, and the README's results name this one.
  return ensureGoTool({ binary: 'zlint', envVar: 'ZLINT_BIN', installTarget: ZLINT_MODULE, acceptFromPath: false, buildEnv: { CGO_ENABLED: '0' } });
}

export async function ensurePkilint(): Promise<string> {
  return (await ensurePythonTool(PKILINT)).binDir;
}

export type Severity = 'fatal' | 'error' | 'warning' | 'notice' | 'info';

export interface LintFinding {
  linter: 'pkilint' | 'zlint';
  severity: Severity;
  /** pkilint's finding code or zlint's lint name. */
  code: string;
  /** Where in the document (pkilint's node path), or zlint's details. */
  detail?: string;
}

export interface SubscriberLint {
  /** What pkilint detected from the policy OID, e.g. MAILBOX-STRICT (absent: it could not tell, which is itself a fatal finding). */
  detectedType?: string;
  findings: LintFinding[];
}

/** Findings a clean certificate must not have: fatal, error, warning. */
export function blocking(findings: readonly LintFinding[]): LintFinding[] {
  return findings.filter((f) => f.severity === 'fatal' || f.severity === 'error' || f.severity === 'warning');
}

export function formatFindings(findings: readonly LintFinding[]): string {
  return findings.map((f) => `${f.linter} ${f.severity} ${f.code}${f.detail ? ` (${f.detail})` : ''}`).join('\n');
}

export class CertificateLinters {
  private constructor(
    private readonly pkilintBin: string,
    private readonly zlintBin: string,
  ) {}

  /** Both linters, installed or built on first use. */
  static async ensure(): Promise<CertificateLinters> {
    const [pkilintBin, zlintBin] = [await ensurePkilint(), await ensureZlint()];
    return new CertificateLinters(pkilintBin, zlintBin);
  }

  get versions(): { pkilint: string; zlint: string } {
    return { pkilint: PKILINT.version, zlint: ZLINT_VERSION };
  }

  /** An S/MIME subscriber certificate (PEM file): pkilint with type detection, and zlint. */
  async subscriber(pemFile: string): Promise<SubscriberLint> {
    const [pkilint, zlint] = await Promise.all([this.pkilintSubscriber(pemFile), this.zlint(pemFile)]);
    return { detectedType: pkilint.detectedType, findings: [...pkilint.findings, ...zlint] };
  }

  /** A CA certificate (PEM file): pkilint's RFC 5280 linter and zlint. */
  async caCertificate(pemFile: string): Promise<LintFinding[]> {
    const [pkix, zlint] = await Promise.all([this.pkilintJson('lint_pkix_cert', ['lint', pemFile]), this.zlint(pemFile)]);
    return [...pkix, ...zlint];
  }

  /** An issuer/subject pair (PEM files): names, key identifiers, signature, validity nesting. */
  chain(issuerPemFile: string, subjectPemFile: string): Promise<LintFinding[]> {
    return this.pkilintJson('lint_pkix_signer_signee_cert_chain', ['lint', issuerPemFile, subjectPemFile]);
  }

  /**
   * A CRL (DER or PEM file), against RFC 5280 and the CA/B Forum BR CRL profile. `ARL`: a CRL of
   * CA certificates (a root's), which the BR let live a year; `CRL`: of end-entity ones, 10 days.
   */
  async crl(file: string, type: 'CRL' | 'ARL'): Promise<LintFinding[]> {
    const [pkix, br] = await Promise.all([
      this.pkilintJson('lint_crl', ['lint', '-t', type, '-p', 'PKIX', file]),
      this.pkilintJson('lint_crl', ['lint', '-t', type, '-p', 'BR', file]),
    ]);
    return [...pkix, ...br];
  }

  private async pkilintSubscriber(pemFile: string): Promise<SubscriberLint> {
    const { stdout, stderr, code } = await exec(join(this.pkilintBin, 'lint_cabf_smime_cert'), ['lint', '-d', '-o', '-s', 'NOTICE', '-f', 'JSON', pemFile]);
    const detectedType = /^(MAILBOX|ORGANIZATION|SPONSORED|INDIVIDUAL)-(LEGACY|MULTIPURPOSE|STRICT)$/m.exec(stderr)?.[0];
    if (!detectedType) {
      const why = stderr.trim() || `exit ${code}`;
      return { findings: [{ linter: 'pkilint', severity: 'fatal', code: 'smime_type_not_detected', detail: why }] };
    }
    return { detectedType, findings: pkilintFindings(stdout) };
  }

  private async pkilintJson(script: string, args: string[]): Promise<LintFinding[]> {
    const { stdout, stderr, code } = await exec(join(this.pkilintBin, script), [...args.slice(0, 1), '-s', 'NOTICE', '-f', 'JSON', ...args.slice(1)]);
    if (!stdout.trim()) return [{ linter: 'pkilint', severity: 'fatal', code: `${script}_failed`, detail: stderr.trim() || `exit ${code}` }];
    return pkilintFindings(stdout);
  }

  private async zlint(pemFile: string): Promise<LintFinding[]> {
    const { stdout, stderr, code } = await exec(this.zlintBin, [pemFile]);
    let results: Record<string, { result: string; details?: string }>;
    try {
      results = JSON.parse(stdout) as typeof results;
    } catch {
      return [{ linter: 'zlint', severity: 'fatal', code: 'zlint_failed', detail: stderr.trim() || `exit ${code}` }];
    }
    const findings: LintFinding[] = [];
    for (const [lint, { result, details }] of Object.entries(results)) {
      const severity = ZLINT_SEVERITIES[result];
      if (severity) findings.push({ linter: 'zlint', severity, code: lint, ...(details ? { detail: details } : {}) });
    }
    return findings;
  }
}

const ZLINT_SEVERITIES: Record<string, Severity | undefined> = { fatal: 'fatal', error: 'error', warn: 'warning', notice: 'notice', info: 'info' };
const PKILINT_SEVERITIES: Record<string, Severity | undefined> = { FATAL: 'fatal', ERROR: 'error', WARNING: 'warning', NOTICE: 'notice', INFO: 'info' };

interface PkilintJson {
  results: { node_path: string; validator: string; finding_descriptions: { severity: string; code: string; message?: string | null }[] }[];
}

function pkilintFindings(stdout: string): LintFinding[] {
  const parsed = JSON.parse(stdout) as PkilintJson;
  return parsed.results.flatMap((result) =>
    result.finding_descriptions.map((finding) => ({
      linter: 'pkilint' as const,
      severity: PKILINT_SEVERITIES[finding.severity] ?? 'fatal',
      code: finding.code,
      detail: `${result.node_path}${finding.message ? `: ${finding.message}` : ''}`,
    })),
  );
}

/** Run a linter; a non-zero exit is normal (it counts findings), so the output is returned either way. */
async function exec(file: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(file, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: number | string };
    if (typeof failed.code !== 'number') throw error; // could not start it at all
    return { stdout: failed.stdout ?? '', stderr: failed.stderr ?? '', code: failed.code };
  }
}
