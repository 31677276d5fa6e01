/**
 * The TLS-terminating reverse proxy in front of the API replicas: HAProxy from Debian (chosen over
 * nginx because its open-source build health-checks backends actively; nginx's only notices a dead
 * backend when a request fails). At https://127.0.0.1:<proxy port>, certificate from the cluster CA:
 *
 *   /webhooks/uem, /v1/…, /readyz, /healthz, /openapi.json, /codec/…   → the API replicas
 *   /metrics and everything else                                        → 404 (scrape replicas directly)
 *
 * Balancing: least connections. Health: GET /readyz every second; a replica is out after 2 failed
 * checks, back after 2 good ones. A request whose connection to a replica fails, or gets no answer
 * at all, is sent to another replica (`retry-on conn-failure empty-response` + `redispatch`):
 * safe for the webhook because a start is idempotent on the workflow id, and the management API's
 * writes are signals and cancellations that are idempotent too.
 *
 * It is also the CA's public repository, over plain HTTP as the S/MIME Baseline Requirements want
 * it (the content is signed): http://127.0.0.1:<repository port>/crl is step-ca's current CRL,
 * /issuer.crt its issuing certificate (DER) — the URLs the certificates carry (CERT_CRL_URL,
 * CERT_CA_ISSUERS_URL).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ToolUnavailable } from '../go-tool';
import { CLUSTER_DEBIAN_PACKAGES } from './debian-packages';

const HAPROXY_PATHS = ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy'];

/** HAProxy's executable, or a ToolUnavailable saying how to install it. */
export function findHaproxy(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HAPROXY_BIN) return env.HAPROXY_BIN;
  for (const dir of (env.PATH ?? '').split(':').filter(Boolean)) if (existsSync(join(dir, 'haproxy'))) return join(dir, 'haproxy');
  for (const path of HAPROXY_PATHS) if (existsSync(path)) return path;
  const pkg = CLUSTER_DEBIAN_PACKAGES.find((p) => p.need === 'haproxy')!.package;
  throw new ToolUnavailable(`HAProxy is not installed: npm run cluster puts it in front of the API replicas. Install it (Debian/Ubuntu: apt-get install -y ${pkg}) or set HAPROXY_BIN.`);
}

export interface PkiRepository {
  port: number;
  /** step-ca's address and the root that verifies it. */
  stepCaPort: number;
  stepCaRootFile: string;
  /** The issuing CA certificate, DER. */
  issuerDerFile: string;
}

export function writeProxyConfig(options: { dir: string; port: number; certBundle: string; apiPorts: number[]; repository: PkiRepository }): { args: string[]; configFile: string } {
  mkdirSync(options.dir, { recursive: true });
  const configFile = join(options.dir, 'haproxy.cfg');
  const servers = options.apiPorts.map((port, i) => `  server api-${i + 1} 127.0.0.1:${port} check`);
  writeFileSync(
    configFile,
    [
      '# written by npm run cluster (src/tools/cluster/proxy.ts)',
      'global',
      '  log stdout format raw local0 info',
      '  maxconn 4096',
      '  ssl-default-bind-options ssl-min-ver TLSv1.2',
      '',
      'defaults',
      '  mode http',
      '  log global',
      '  option httplog',
      '  option dontlognull',
      '  timeout connect 2s',
      '  timeout client 65s',
      '  timeout server 65s',
      '  timeout http-request 10s',
      '  timeout http-keep-alive 10s',
      '  retries 3',
      '  option redispatch 1',
      '  retry-on conn-failure empty-response',
      '',
      'frontend https',
      `  bind 127.0.0.1:${options.port} ssl crt ${options.certBundle} alpn http/1.1`,
      '  option forwardfor',
      '  http-request set-header X-Forwarded-Proto https',
      '  acl provider path_beg /webhooks/uem /v1/ /codec/',
      '  acl provider path /readyz /healthz /openapi.json /v1',
      '  http-request return status 404 content-type application/json string "{\\"status\\":\\"not found\\"}" unless provider',
      '  default_backend api',
      '',
      'backend api',
      '  balance leastconn',
      '  option httpchk GET /readyz',
      '  http-check expect status 200',
      '  default-server inter 1s fastinter 500ms downinter 1s fall 2 rise 2',
      ...servers,
      '',
      'frontend pki-repository',
      `  bind 127.0.0.1:${options.repository.port}`,
      `  http-request return status 200 content-type application/pkix-cert file ${options.repository.issuerDerFile} if { path /issuer.crt }`,
      '  http-request return status 404 content-type text/plain string "not found" unless { path /crl }',
      '  use_backend step-ca-crl if { path /crl }',
      '',
      'backend step-ca-crl',
      '  http-request set-path /1.0/crl',
      `  server step-ca 127.0.0.1:${options.repository.stepCaPort} ssl verify required ca-file ${options.repository.stepCaRootFile} verifyhost localhost sni str(localhost)`,
      '',
    ].join('\n'),
  );
  return { args: ['-db', '-f', configFile], configFile };
}
