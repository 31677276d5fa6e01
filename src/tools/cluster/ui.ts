/**
 * The Temporal Web UI server (temporalio/ui-server v2.55.0) for the cluster: it reaches the
 * frontend with the `admin` client certificate, serves http://localhost:<ui port>, and decodes
 * payloads through the provider's codec endpoint behind the proxy (the browser calls it; it asks
 * for an operator token, as in the dev stack).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { IssuedFiles } from './pki';

export function writeUiConfig(options: { dir: string; port: number; frontendPort: number; caFile: string; client: IssuedFiles; codecEndpoint: string; namespace: string }): { args: string[] } {
  const configDir = join(options.dir, 'config');
  mkdirSync(configDir, { recursive: true });
  writeFileSync(join(configDir, 'base.yaml'), '# see cluster.yaml\n');
  const config = {
    temporalGrpcAddress: `127.0.0.1:${options.frontendPort}`,
    host: '127.0.0.1',
    port: options.port,
    enableUi: true,
    defaultNamespace: options.namespace,
    refreshInterval: '1m',
    disableNewsFetch: true,
    notifyOnNewVersion: false,
    cors: { cookieInsecure: true, allowOrigins: [`http://localhost:${options.port}`, `http://127.0.0.1:${options.port}`], unsafeAllowAllOrigins: false },
    tls: { caFile: options.caFile, certFile: options.client.cert, keyFile: options.client.key, enableHostVerification: true, serverName: 'localhost' },
    codec: { endpoint: options.codecEndpoint, passAccessToken: false, includeCredentials: false },
    auth: { enabled: false },
  };
  writeFileSync(join(configDir, 'cluster.yaml'), stringify(config));
  return { args: ['--root', options.dir, '--config', 'config', '--env', 'cluster', 'start'] };
}
