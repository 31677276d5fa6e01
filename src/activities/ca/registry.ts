/**
 * The certificate authority the provider talks to, chosen by CA_TYPE. Each adapter's settings are
 * checked here, at worker start: a missing or unusable one throws a ConfigError naming its key.
 *
 *   embedded    a CA in <DATA_DIR>/embedded-ca (dev and tests); EMBEDDED_CA_PENDING_FOR, EMBEDDED_CA_REJECT;
 *               its CRL and certificates published by the repository server on CA_REPOSITORY_PORT
 *   step-ca     smallstep step-ca, JWK provisioner; CA_URL, CA_ROOT_FILE, STEP_CA_PROVISIONER,
 *               STEP_CA_PROVISIONER_KEY_FILE, CERT_CRL_URL (its submission ledger lives in <DATA_DIR>/step-ca-ledger)
 *   order-poll  an order-and-poll S/MIME API; CA_URL, ORDER_CA_API_KEY, CA_ROOT_FILE (optional)
 *
 * Every CA's certificates are checked before delivery (certificate-checks.ts) against the
 * profile (CERT_PROFILE, CERT_POLICY_OIDS), validity bounds and a root: CERT_TRUST_ROOTS_FILE,
 * else CA_ROOT_FILE (step-ca's root signs both its TLS certificate and what it issues), else —
 * embedded only — the embedded CA's own root.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type Config } from '../../config';
import type { Logger } from '../../logging';
import type { CertificateAuthority } from './certificate-authority';
import { CertificateChecks } from './certificate-checks';
import { EmbeddedCa } from './embedded-ca';
import { loopbackRepositoryBase, repositoryUrls, type RepositoryUrls } from './embedded/repository';
import { OrderPollCa } from './order-poll';
import { StepCa } from './step-ca';

export async function createCertificateAuthority(config: Config, logger: Logger): Promise<CertificateAuthority> {
  const log = logger.child({ component: 'ca', caType: config.caType });
  switch (config.caType) {
    case 'embedded':
      return EmbeddedCa.open({
        dir: join(config.dataDirAbsolute, EMBEDDED_CA_NAME),
        repository: embeddedCaRepositoryUrls(config),
        organisationPolicyOids: config.certPolicyOids,
        pendingForMs: config.embeddedCaPendingFor,
        reject: config.embeddedCaReject,
        logger: log,
      });
    case 'step-ca': {
      const url = requiredUrl(config.caUrl, 'CA_URL', 'step-ca', ['https:']);
      const provisionerName = required(config.stepCaProvisioner, 'STEP_CA_PROVISIONER', 'step-ca');
      const keyFile = required(config.stepCaProvisionerKeyFile, 'STEP_CA_PROVISIONER_KEY_FILE', 'step-ca');
      let provisionerJwk;
      try {
        provisionerJwk = StepCa.readProvisionerKey(keyFile);
      } catch (err) {
        throw new ConfigError([(err as Error).message]);
      }
      const ca = await StepCa.create({
        url,
        rootPem: optionalPemFile(config.caRootFile, 'CA_ROOT_FILE'),
        provisionerName,
        provisionerJwk,
        ledgerDir: join(config.dataDirAbsolute, 'step-ca-ledger'),
        requestTimeoutMs: config.caRequestTimeout,
        logger: log,
        publication: { crl: required(config.certCrlUrl, 'CERT_CRL_URL', 'step-ca'), caIssuers: config.certCaIssuersUrl, ocsp: config.certOcspUrl },
        organisationPolicyOids: config.certPolicyOids,
      }).catch((err: unknown) => {
        throw new ConfigError([`STEP_CA_PROVISIONER_KEY_FILE: ${(err as Error).message}`]);
      });
      log.info({ url, provisioner: provisionerName }, 'certificate authority: step-ca');
      return ca;
    }
    case 'order-poll': {
      const url = requiredUrl(config.caUrl, 'CA_URL', 'order-poll', ['https:', 'http:']);
      const apiKey = required(config.orderPollApiKey, 'ORDER_CA_API_KEY', 'order-poll');
      log.info({ url }, 'certificate authority: order-and-poll');
      return new OrderPollCa({ url, apiKey, rootPem: optionalPemFile(config.caRootFile, 'CA_ROOT_FILE'), requestTimeoutMs: config.caRequestTimeout, logger: log });
    }
    default:
      throw new ConfigError([`CA_TYPE: "${String(config.caType)}" is not a known certificate authority type`]);
  }
}

/** The embedded CA's folder under DATA_DIR, and its name in the repository's URLs. */
export const EMBEDDED_CA_NAME = 'embedded-ca';

/**
 * The URLs the embedded CA writes into what it issues: CERT_CRL_URL, CERT_CA_ISSUERS_URL and
 * CERT_OCSP_URL where set, else its files on the loopback repository server (CA_REPOSITORY_PORT).
 * The worker and the repository server both open the CA, so both compute the URLs here.
 */
export function embeddedCaRepositoryUrls(config: Config): RepositoryUrls {
  const published = repositoryUrls(loopbackRepositoryBase(config.caRepositoryPort, EMBEDDED_CA_NAME));
  return {
    intermediate: published.intermediate,
    leaves: {
      crl: config.certCrlUrl ?? published.leaves.crl,
      caIssuers: config.certCaIssuersUrl ?? published.leaves.caIssuers,
      ...(config.certOcspUrl ? { ocsp: config.certOcspUrl } : {}),
    },
  };
}

/**
 * The checks every returned certificate must pass. The root: CERT_TRUST_ROOTS_FILE, else
 * CA_ROOT_FILE, else (embedded) the embedded CA's own root; loadConfig refuses step-ca and
 * order-poll without either file.
 */
export function createCertificateChecks(config: Config, ca: CertificateAuthority): CertificateChecks {
  const file = config.certTrustRootsFile ?? config.caRootFile;
  const key = config.certTrustRootsFile ? 'CERT_TRUST_ROOTS_FILE' : 'CA_ROOT_FILE';
  let trustRootsPem: string[];
  if (file) trustRootsPem = [optionalPemFile(file, key)!];
  else if (ca instanceof EmbeddedCa) trustRootsPem = [ca.rootCertificatePem];
  else throw new ConfigError([`CERT_TRUST_ROOTS_FILE: required when CA_TYPE=${config.caType} and CA_ROOT_FILE is empty (the root what the CA returns must chain to)`]);
  return new CertificateChecks({
    profile: config.certProfile,
    organisationPolicyOids: config.certPolicyOids,
    trustRootsPem,
    maxValidityDays: config.validityDays,
    minValidityDays: config.certMinValidityDays,
  });
}

function required(value: string | undefined, key: string, caType: string): string {
  if (!value || value.trim() === '') throw new ConfigError([`${key}: required when CA_TYPE=${caType}`]);
  return value.trim();
}

function requiredUrl(value: string | undefined, key: string, caType: string, protocols: string[]): string {
  const text = required(value, key, caType);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError([`${key}: not a URL (got "${text}")`]);
  }
  if (!protocols.includes(url.protocol)) throw new ConfigError([`${key}: must be ${protocols.map((p) => p.replace(':', '')).join(' or ')} for CA_TYPE=${caType} (got "${text}")`]);
  if (url.search || url.hash) throw new ConfigError([`${key}: must be a base URL without query or fragment (got "${text}")`]);
  return text.replace(/\/+$/, '');
}

function optionalPemFile(file: string | undefined, key: string): string | undefined {
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${key}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError([`${key}: ${file} holds no PEM certificate`]);
  return text;
}
