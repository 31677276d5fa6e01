import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from '@temporalio/client';
import type { NativeConnectionOptions } from '@temporalio/worker';
import type { Settings } from '../config';

/**
 * How to reach Temporal, from configuration: plain for the dev server; TLS with a private CA for
 * a self-hosted cluster; mTLS or an API key for Temporal Cloud. The same options serve the
 * client (API) and the worker.
 */
export function temporalConnectionOptions(config: Settings): ConnectionOptions & NativeConnectionOptions {
  const useTls = config.temporalTls || !!config.temporalClientCert || !!config.temporalApiKey || !!config.temporalServerCa;
  const tls = useTls
    ? {
        serverNameOverride: config.temporalServerName,
        serverRootCACertificate: config.temporalServerCa ? readFileSync(config.temporalServerCa) : undefined,
        clientCertPair:
          config.temporalClientCert && config.temporalClientKey
            ? { crt: readFileSync(config.temporalClientCert), key: readFileSync(config.temporalClientKey) }
            : undefined,
      }
    : undefined;
  return {
    address: config.temporalAddress,
    tls,
    apiKey: config.temporalApiKey,
  };
}
