/**
 * The certificate authorities, by CA_TYPE (settings checked by src/config/requirements.ts):
 *
 *   embedded    a CA in <DATA_DIR>/embedded-ca for development and tests (DEV_MODE only);
 *               EMBEDDED_CA_PENDING_FOR, EMBEDDED_CA_REJECT; its CRL and certificates published by
 *               the repository server on CA_REPOSITORY_PORT (src/peers/ca-repository)
 *   step-ca     smallstep step-ca, JWK provisioner; CA_URL, CA_ROOT_FILE, STEP_CA_PROVISIONER,
 *               STEP_CA_PROVISIONER_KEY_FILE, CERT_CRL_URL (its submission ledger lives in
 *               <DATA_DIR>/step-ca-ledger)
 *   order-poll  an order-and-poll S/MIME API; CA_URL, ORDER_CA_API_KEY, CA_ROOT_FILE (optional);
 *               its twin is src/peers/order-ca-sim
 *
 * Every CA's certificates are checked before delivery (certificate-checks.ts) against the
 * profile (CERT_PROFILE, CERT_POLICY_OIDS), validity bounds and a root: CERT_TRUST_ROOTS_FILE,
 * else CA_ROOT_FILE (step-ca's root signs both its TLS certificate and what it issues), else —
 * embedded only — the embedded CA's own root.
 */
import { join } from 'node:path';
import { ConfigError, type Config } from '../../config';
import { defineRegistry, settingValue } from '../adapters';
import { readPemFile, validatedUrl } from '../settings-files';
import type { CertificateAuthority } from './certificate-authority';
import { CertificateChecks } from './certificate-checks';
import { EmbeddedCa } from './embedded-ca';
import { loopbackRepositoryBase, repositoryUrls, type RepositoryUrls } from './embedded/repository';
import { OrderPollCa } from './order-poll';
import { StepCa } from './step-ca';

/** The embedded CA's folder under DATA_DIR, and its name in the repository's URLs. */
export const EMBEDDED_CA_NAME = 'embedded-ca';

export const caRegistry = defineRegistry<CertificateAuthority>({
  system: 'certificate authority',
  setting: 'caType',
  typeOf: (config) => config.caType,
  adapters: {
    embedded: ({ config, logger }) =>
      EmbeddedCa.open({
        dir: join(config.dataDirAbsolute, EMBEDDED_CA_NAME),
        repository: embeddedCaRepositoryUrls(config),
        organisationPolicyOids: config.certPolicyOids,
        pendingForMs: config.embeddedCaPendingFor,
        reject: config.embeddedCaReject,
        logger,
      }),

    'step-ca': async ({ config, logger }) => {
      const url = validatedUrl(config, 'caUrl', { https: 'always' });
      const keyFile = settingValue(config, 'stepCaProvisionerKeyFile');
      let provisionerJwk;
      try {
        provisionerJwk = StepCa.readProvisionerKey(keyFile);
      } catch (err) {
        throw new ConfigError([(err as Error).message]);
      }
      const ca = await StepCa.create({
        url,
        rootPem: readPemFile(config, 'caRootFile', 'CERTIFICATE'),
        provisionerName: settingValue(config, 'stepCaProvisioner'),
        provisionerJwk,
        ledgerDir: join(config.dataDirAbsolute, 'step-ca-ledger'),
        requestTimeoutMs: config.caRequestTimeout,
        logger,
        publication: { crl: settingValue(config, 'certCrlUrl'), caIssuers: config.certCaIssuersUrl, ocsp: config.certOcspUrl },
        organisationPolicyOids: config.certPolicyOids,
      }).catch((err: unknown) => {
        throw new ConfigError([`STEP_CA_PROVISIONER_KEY_FILE: ${(err as Error).message}`]);
      });
      logger.info({ url, provisioner: config.stepCaProvisioner }, 'certificate authority: step-ca');
      return ca;
    },

    'order-poll': ({ config, logger }) => {
      const url = validatedUrl(config, 'caUrl', { https: 'unless-loopback' });
      logger.info({ url }, 'certificate authority: order-and-poll');
      return new OrderPollCa({
        url,
        apiKey: settingValue(config, 'orderPollApiKey'),
        rootPem: config.caRootFile ? readPemFile(config, 'caRootFile', 'CERTIFICATE') : undefined,
        requestTimeoutMs: config.caRequestTimeout,
        logger,
      });
    },
  },
});

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
 * CA_ROOT_FILE, else (embedded) the embedded CA's own root; the requirements refuse step-ca and
 * order-poll without either file.
 */
export function createCertificateChecks(config: Config, ca: CertificateAuthority): CertificateChecks {
  const setting = config.certTrustRootsFile ? 'certTrustRootsFile' : config.caRootFile ? 'caRootFile' : undefined;
  let trustRootsPem: string[];
  if (setting) trustRootsPem = [readPemFile(config, setting, 'CERTIFICATE')];
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
