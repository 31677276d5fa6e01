import pino, { type Logger, type LoggerOptions } from 'pino';

/**
 * pino JSON, one line per event. Anything that could carry a secret is redacted by path, so a
 * careless `log.info({ headers })` or `log.info({ config })` cannot leak credentials.
 */
export const REDACT_PATHS = [
  'password',
  '*.password',
  'passphrase',
  '*.passphrase',
  'privateKey',
  '*.privateKey',
  'privateKeyPkcs8',
  '*.privateKeyPkcs8',
  'pkcs12',
  '*.pkcs12',
  'sealedPrivateKey',
  '*.sealedPrivateKey',
  'sealedBundle',
  '*.sealedBundle',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["aw-tenant-code"]',
  'headers["aw-tenant-code"]',
  '*.headers.authorization',
];

export function createLogger(options: { level?: string; name?: string } & LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      base: options.name ? { component: options.name } : undefined,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      ...options,
    },
    destination as pino.DestinationStream,
  );
}

export type { Logger };
