import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

// Belt and braces: nothing logs credentials on purpose, and these paths are censored if anything tries.
const REDACT = [
  'accessKey',
  'secretKey',
  '*.accessKey',
  '*.secretKey',
  'credentials',
  '*.credentials',
  'accessKeyId',
  'secretAccessKey',
  'sessionToken',
  '*.accessKeyId',
  '*.secretAccessKey',
  '*.sessionToken',
  'externalId',
  '*.externalId',
];

/** JSON lines on stderr (stdout belongs to `--output stdout`), written synchronously so none are lost at exit. */
export function createLogger(level: LogLevel): Logger {
  return pino(
    { level, base: { name: 'guardduty-wodle' }, redact: { paths: REDACT, censor: '********' } },
    pino.destination({ fd: 2, sync: true }),
  );
}
