/**
 * The certificate authorities, by CA_TYPE (settings checked by src/config/requirements.ts):
 *
 *   embedded    a CA in <DATA_DIR>/embedded-ca for development and tests (DEV_MODE only);
 *               EMBEDDED_CA_PENDING_FOR, EMBEDDED_CA_REJECT
 *   step-ca     smallstep step-ca, JWK provisioner; CA_URL, CA_ROOT_FILE, STEP_CA_PROVISIONER,
 *               STEP_CA_PROVISIONER_KEY_FILE (its submission ledger lives in <DATA_DIR>/step-ca-ledger)
 *   order-poll  an order-and-poll S/MIME API; CA_URL, ORDER_CA_API_KEY, CA_ROOT_FILE (optional);
 *               its twin is src/peers/order-ca-sim
 */
import { join } from 'node:path';
import { ConfigError } from '../../config';
import { defineRegistry, settingValue } from '../adapters';
import { readPemFile, validatedUrl } from '../settings-files';
import type { CertificateAuthority } from './certificate-authority';
import { EmbeddedCa } from './embedded-ca';
import { OrderPollCa } from './order-poll';
import { StepCa } from './step-ca';

export const caRegistry = defineRegistry<CertificateAuthority>({
  system: 'certificate authority',
  setting: 'caType',
  typeOf: (config) => config.caType,
  adapters: {
    embedded: ({ config, logger }) =>
      EmbeddedCa.open({
        dir: join(config.dataDirAbsolute, 'embedded-ca'),
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
