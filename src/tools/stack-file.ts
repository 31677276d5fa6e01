import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { projectPath } from './paths';

/** temporal-dev.yml: the local stack's ports, namespace, database, search attributes and dynamic config. */
const stackSchema = z.object({
  temporal: z.object({
    ip: z.string().default('127.0.0.1'),
    frontendPort: z.number().int(),
    uiPort: z.number().int(),
    metricsPort: z.number().int(),
    namespace: z.string().min(1),
    dbFile: z.string().min(1),
    /** `--sqlite-pragma` values for the dev server's database (e.g. journal_mode: wal). */
    sqlitePragmas: z.record(z.string().regex(/^[a-z_]+$/), z.union([z.string().regex(/^[\w-]+$/), z.number()])).default({}),
    logLevel: z.enum(['debug', 'info', 'warn', 'error', 'never']).default('warn'),
    uiCodecEndpoint: z.string().default(''),
    searchAttributes: z.record(z.string(), z.enum(['Keyword', 'Int', 'Text', 'Bool', 'Double', 'Datetime', 'KeywordList'])),
    dynamicConfig: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  }),
  provider: z.object({ apiPort: z.number().int(), workerMetricsPort: z.number().int() }),
  peers: z.object({
    cegSim: z.object({ port: z.number().int(), adminPort: z.number().int() }),
    uemSim: z.object({ port: z.number().int() }),
    orderCaSim: z.object({ port: z.number().int() }),
    caRepository: z.object({ port: z.number().int() }),
  }),
});

export type StackFile = z.infer<typeof stackSchema>;

export function readStackFile(path = projectPath('temporal-dev.yml')): StackFile {
  const parsed = stackSchema.safeParse(parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  - ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`${path} is invalid:\n${problems}`);
  }
  return parsed.data;
}

/** The `temporal server start-dev` arguments the stack file describes. */
export function devServerArgs(stack: StackFile, dataDir: string, overrides: { port?: number; uiPort?: number; codecEndpoint?: string } = {}): string[] {
  const t = stack.temporal;
  const args = [
    'server',
    'start-dev',
    '--ip', t.ip,
    '--port', String(overrides.port ?? t.frontendPort),
    '--ui-port', String(overrides.uiPort ?? t.uiPort),
    '--metrics-port', String(t.metricsPort),
    '--namespace', t.namespace,
    '--db-filename', `${dataDir}/${t.dbFile}`,
    '--log-level', t.logLevel,
    '--log-format', 'json',
  ];
  for (const [pragma, value] of Object.entries(t.sqlitePragmas)) args.push('--sqlite-pragma', `${pragma}=${value}`);
  for (const [name, type] of Object.entries(t.searchAttributes)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(t.dynamicConfig)) args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  const codec = overrides.codecEndpoint ?? t.uiCodecEndpoint;
  if (codec) args.push('--ui-codec-endpoint', codec);
  return args;
}
