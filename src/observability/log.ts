/**
 * Logging: one `logger` setting shared by every component. Any object with
 * `debug/info/warn/error(fields, message)` works (pino's shape; `console` too). Fields, not string
 * soup, so log pipelines can filter on them. The default sink writes warnings and errors to stderr,
 * one line each; `logger: null` turns logging off.
 *
 * Secrets never reach a sink: fields whose names say they hold one are dropped here, whatever a
 * caller passes (defence in depth: callers do not pass them either).
 */

/** The least severe level written (`silent`: nothing). */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/**
 * The structured fields of a log entry; the named ones are those rivven-rx sets, others may appear.
 * Fields whose names suggest a secret are dropped before a sink sees them.
 */
export interface LogFields {
  /** What logged: `producer`, `consumer`, `client`, … */
  component?: string;
  /** The broker's `host:port`. */
  broker?: string;
  /** The component's client id. */
  clientId?: string;
  /** The topic concerned. */
  topic?: string;
  /** The partition concerned. */
  partition?: number;
  /** The consumer group concerned. */
  groupId?: string;
  /** The group member concerned. */
  memberId?: string;
  /** The request's correlation id on its connection. */
  correlationId?: number;
  /** The error's stable code (`RivvenError.code`, or the broker's error code). */
  errorCode?: string;
  /** Which attempt this was (1 for the first). */
  attempt?: number;
  /** How long until the next attempt, in milliseconds. */
  delayMs?: number;
  [field: string]: unknown;
}

/**
 * The `logger` setting: where log entries go. pino's shape (`console` fits too): each method takes the
 * fields and the message.
 */
export interface Logger {
  /** Write a debug entry. */
  debug(fields: LogFields, message: string): void;
  /** Write an info entry. */
  info(fields: LogFields, message: string): void;
  /** Write a warning. */
  warn(fields: LogFields, message: string): void;
  /** Write an error. */
  error(fields: LogFields, message: string): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
export const LOG_LEVELS = Object.keys(RANK) as LogLevel[];

/** Field names that may carry credentials or key material: never logged. */
const SECRET_FIELD = /pass(word)?|secret|token|proof|nonce|salt|signature|session|credential|private|key(material|pem)?$/i;
/** Kafka-style fields that merely contain "key" in their name but are not secrets. */
const SAFE_FIELDS = new Set(['topic', 'partition', 'groupId', 'memberId', 'broker', 'clientId', 'component', 'errorCode', 'attempt', 'delayMs', 'correlationId']);

function scrub(fields: LogFields): LogFields {
  let out: LogFields | undefined;
  for (const name of Object.keys(fields)) {
    if (SAFE_FIELDS.has(name) || !SECRET_FIELD.test(name)) continue;
    out ??= { ...fields };
    delete out[name];
  }
  return out ?? fields;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'object' && value !== null) {
    try {
      return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    } catch {
      return '[unserialisable]';
    }
  }
  return String(value);
}

/** One line: `rivven-rx WARN consumer: message key=value …` */
export function formatLogLine(level: Exclude<LogLevel, 'silent'>, fields: LogFields, message: string): string {
  const { component, ...rest } = fields;
  const pairs = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${formatValue(v)}`);
  return `rivven-rx ${level.toUpperCase()} ${component ?? 'client'}: ${message}${pairs.length > 0 ? ` ${pairs.join(' ')}` : ''}`;
}

/** The default sink: one line per entry on stderr. */
export const stderrLogger: Logger = {
  debug: (fields, message) => process.stderr.write(`${formatLogLine('debug', fields, message)}\n`),
  info: (fields, message) => process.stderr.write(`${formatLogLine('info', fields, message)}\n`),
  warn: (fields, message) => process.stderr.write(`${formatLogLine('warn', fields, message)}\n`),
  error: (fields, message) => process.stderr.write(`${formatLogLine('error', fields, message)}\n`),
};

/**
 * What components log through: level filtering, base fields, scrubbing. Cheap when a level is off
 * (`enabled(level)` lets hot paths skip building fields at all).
 */
export class Log {
  private readonly threshold: number;

  constructor(
    private readonly sink: Logger | null,
    level: LogLevel,
    private readonly base: LogFields,
  ) {
    this.threshold = sink === null ? RANK.silent : RANK[level];
  }

  /** A silent log (tests, internal helpers). */
  static readonly silent = new Log(null, 'silent', {});

  enabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return RANK[level] >= this.threshold;
  }

  /** The same sink and level with more base fields (e.g. a broker or a group). */
  child(fields: LogFields): Log {
    return new Log(this.sink, this.levelName(), { ...this.base, ...fields });
  }

  debug(message: string, fields: LogFields = {}): void {
    this.write('debug', message, fields);
  }

  info(message: string, fields: LogFields = {}): void {
    this.write('info', message, fields);
  }

  warn(message: string, fields: LogFields = {}): void {
    this.write('warn', message, fields);
  }

  error(message: string, fields: LogFields = {}): void {
    this.write('error', message, fields);
  }

  private levelName(): LogLevel {
    return (Object.keys(RANK) as LogLevel[]).find((l) => RANK[l] === this.threshold) ?? 'silent';
  }

  private write(level: Exclude<LogLevel, 'silent'>, message: string, fields: LogFields): void {
    if (RANK[level] < this.threshold || this.sink === null) return;
    const entry = scrub({ ...this.base, ...fields });
    try {
      this.sink[level](entry, message);
    } catch {
      // A broken logger must not break the client.
    }
  }
}

/** Build the Log of a component from the shared `logger` / `logLevel` settings. */
export function createLog(component: string, logger: Logger | null | undefined, level: LogLevel | undefined, base: LogFields = {}): Log {
  return new Log(logger === undefined ? stderrLogger : logger, level ?? 'warn', { component, ...base });
}
