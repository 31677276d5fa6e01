import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * pino JSON, one line per event. Anything that could carry a secret is redacted before the line
 * is written, so a careless `log.info({ headers })`, `log.info({ config })` or `log.error({ err })`
 * cannot leak credentials.
 *
 * Why not pino's `redact` paths: they are case-sensitive and fixed-depth (`*.password` misses
 * `headers.Authorization`, `config.escrow.databaseUrl`, an error's `cause.config`). Instead every
 * logged object, child binding and message goes through `redactForLog`, which walks it at any
 * depth (objects, arrays, errors with their causes and own properties, Maps, Sets):
 *
 * - by key, case- and punctuation-insensitive (`Authorization`, `aw-tenant-code`,
 *   `ESCROW_DATABASE_URL` and `escrowDatabaseUrl` alike): the value is replaced whatever it is;
 * - by value, in every string (messages and stack traces included): the password in a URL's
 *   user-info, Basic and Bearer credentials, PEM private keys;
 * - binary values (Buffers, typed arrays) are never written, only their length.
 *
 * Cost: one walk of the (small) logged object per line; lines below the level cost nothing.
 */
export const REDACTED = '[redacted]';

/** Key fragments (lower case, letters and digits only) whose values are secrets wherever they appear. */
const SECRET_KEY_PARTS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'authorization',
  'cookie',
  'apikey',
  'privatekey',
  'pkcs12',
  'sealed',
  'tenantcode',
  'databaseurl',
  'connectionstring',
  'webhookusers',
  'sealingkeys',
  'codeckeys',
];
/** Whole keys (normalised the same way) that are secrets. */
const SECRET_KEYS = new Set(['key', 'keys', 'dsn', 'auth', 'pass', 'pwd', 'p12', 'dek']);

const MAX_DEPTH = 12;

/** True when a property of this name holds a secret. */
export function isSecretKey(key: string): boolean {
  const normalised = key.toLowerCase().replace(/[^a-z0-9]/g, '');
  return SECRET_KEYS.has(normalised) || SECRET_KEY_PARTS.some((part) => normalised.includes(part));
}

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*):([^\s/?#@]*)@/gi;
const AUTH_SCHEME = /\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]{6,}/gi;
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;

/** A string with the secrets recognisable by their shape taken out. */
export function redactString(text: string): string {
  if (!text.includes('://') && !/basic|bearer/i.test(text) && !text.includes('PRIVATE KEY')) return text; // the usual case, fast
  return text
    .replace(URL_USERINFO, (_whole, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`)
    .replace(AUTH_SCHEME, (_whole, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(PEM_PRIVATE_KEY, `${REDACTED} private key`);
}

/** A copy of `value` fit to be logged: see the module comment. */
export function redactForLog(value: unknown): unknown {
  return walk(value, 0, new WeakSet());
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  try {
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[binary, ${value.byteLength} bytes]`;
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1, seen));
    if (value instanceof Error) return errorForLog(value, depth, seen);
    if (value instanceof Date) return value;
    if (value instanceof URL) return redactString(value.href);
    if (value instanceof Map) return walkEntries([...value.entries()].map(([k, v]) => [String(k), v]), depth, seen);
    if (value instanceof Set) return [...value].map((item) => walk(item, depth + 1, seen));
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return walk(toJSON.call(value), depth + 1, seen);
    return walkEntries(Object.entries(value), depth, seen);
  } finally {
    seen.delete(value);
  }
}

function walkEntries(entries: [string, unknown][], depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of entries) out[key] = isSecretKey(key) && item !== undefined && item !== null && item !== '' ? REDACTED : walk(item, depth + 1, seen);
  return out;
}

/** An error as pino's serializer would write it (type, message, stack, own properties, cause), redacted. */
function errorForLog(error: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: error.constructor?.name || error.name,
    message: redactString(error.message),
    ...(error.stack ? { stack: redactString(error.stack) } : {}),
  };
  for (const [key, item] of Object.entries(error)) {
    if (key in out || key === 'cause') continue;
    out[key] = isSecretKey(key) && item !== undefined && item !== null && item !== '' ? REDACTED : walk(item, depth + 1, seen);
  }
  if (error.cause !== undefined) out.cause = walk(error.cause, depth + 1, seen);
  if (error instanceof AggregateError) out.errors = walk(error.errors, depth + 1, seen);
  return out;
}

export function createLogger(options: { level?: string; name?: string } & LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  const logger = pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: options.name ? { component: options.name } : undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      // Errors were already serialised (and redacted) by the formatter.
      serializers: { err: (value: unknown) => value },
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => redactForLog(bindings) as Record<string, unknown>,
        log: (object) => redactForLog(object) as Record<string, unknown>,
      },
      hooks: {
        // The message itself (and printf-style arguments) may carry a secret too; an error logged
        // alone gives pino its message, which would bypass the formatter.
        logMethod(args, method) {
          const [first, ...rest] = args as unknown[];
          const lifted = first instanceof Error ? [{ err: first }, ...(rest.length > 0 ? rest : [first.message])] : args;
          method.apply(this, (lifted as unknown[]).map((arg) => (typeof arg === 'string' ? redactString(arg) : arg)) as Parameters<typeof method>);
        },
      },
      ...options,
    },
    destination as pino.DestinationStream,
  );
  // pino does not run formatters.bindings for child loggers; children inherit this method.
  const child = logger.child as unknown as (this: unknown, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) => Logger;
  logger.child = function redactedChild(this: unknown, bindings: pino.Bindings, childOptions?: pino.ChildLoggerOptions) {
    return child.call(this, redactForLog(bindings) as pino.Bindings, childOptions);
  } as unknown as typeof logger.child;
  return logger;
}

export type { Logger };
