/**
 * The cluster's secrets, generated once and kept in `DATA_DIR/cluster/secrets.json` (0600), so a
 * second start opens what the first sealed and logs in to the database it created. The provider's
 * processes receive them explicitly, as a production deployment gives them (SEALING_KEYS,
 * CODEC_KEYS, ESCROW_DATABASE_URL): none of them falls back to development key files.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

const secretsSchema = z.object({
  sealingKeys: z.string().min(1),
  codecKeys: z.string().min(1),
  postgresPassword: z.string().min(16),
  temporalDbPassword: z.string().min(16),
  escrowDbPassword: z.string().min(16),
});

export type ClusterSecrets = z.infer<typeof secretsSchema>;

export function ensureClusterSecrets(file: string): ClusterSecrets {
  if (existsSync(file)) {
    const parsed = secretsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (!parsed.success) throw new Error(`${file} is damaged (${parsed.error.issues[0]?.message}); move it away to start a new cluster`);
    return parsed.data;
  }
  const password = () => randomBytes(18).toString('base64url');
  const secrets: ClusterSecrets = {
    sealingKeys: `cluster-seal-1:${randomBytes(32).toString('base64')}`,
    codecKeys: `cluster-codec-1:${randomBytes(32).toString('base64')}`,
    postgresPassword: password(),
    temporalDbPassword: password(),
    escrowDbPassword: password(),
  };
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return secrets;
}
