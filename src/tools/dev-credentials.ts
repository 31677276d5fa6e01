import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The credentials the dev stack makes for itself (webhook Basic auth, API tokens, the UEM
 * simulator's REST login), kept in DATA_DIR/dev-credentials.json (0600) so they are stable across
 * runs and a second terminal (`npm run simulate`) can find them. Development only: production
 * sets UEM_WEBHOOK_USERS, API_TOKENS and UEM_API_* itself.
 */
export interface DevCredentials {
  webhookUser: string;
  webhookPassword: string;
  operatorToken: string;
  viewerToken: string;
  uemApiUser: string;
  uemApiPassword: string;
  uemTenantCode: string;
}

const FILE = 'dev-credentials.json';

export function readDevCredentials(dataDir: string): DevCredentials | undefined {
  try {
    const parsed = JSON.parse(readFileSync(join(dataDir, FILE), 'utf8')) as Partial<DevCredentials>;
    const fields: (keyof DevCredentials)[] = ['webhookUser', 'webhookPassword', 'operatorToken', 'viewerToken', 'uemApiUser', 'uemApiPassword', 'uemTenantCode'];
    return fields.every((f) => typeof parsed[f] === 'string') ? (parsed as DevCredentials) : undefined;
  } catch {
    return undefined;
  }
}

export function ensureDevCredentials(dataDir: string): DevCredentials {
  const existing = readDevCredentials(dataDir);
  if (existing) return existing;
  const token = (bytes: number) => randomBytes(bytes).toString('base64url');
  const created: DevCredentials = {
    webhookUser: 'uem-webhook',
    webhookPassword: token(18),
    operatorToken: `op_${token(24)}`,
    viewerToken: `view_${token(24)}`,
    uemApiUser: 'uem-api',
    uemApiPassword: token(18),
    uemTenantCode: token(24),
  };
  if (!existsSync(dataDir)) throw new Error(`data folder ${dataDir} does not exist`);
  writeFileSync(join(dataDir, FILE), JSON.stringify(created, null, 2), { mode: 0o600 });
  return created;
}
