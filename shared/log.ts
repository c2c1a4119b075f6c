/**
 * One structured logger: JSON lines on stderr, a dotted module name, a level threshold.
 * The only place in the codebase that writes to the console.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVELS: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(name: string): Logger;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to stderr. Tests pass an array sink. */
  write?: (line: string) => void;
}

function serialize(value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, cause: serialize(value.cause) };
  }
  return value;
}

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const threshold = LEVELS[options.level ?? "info"];
  // deno-lint-ignore no-console
  const write = options.write ?? ((line: string) => console.error(line));
  function log(level: LogLevel, message: string, fields?: Record<string, unknown>) {
    if (LEVELS[level] < threshold) return;
    const record: Record<string, unknown> = {
      time: new Date().toISOString(),
      level,
      name,
      message,
    };
    // A field never overwrites the record's own keys (a `name` field becomes `field.name`).
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        record[k in record ? `field.${k}` : k] = serialize(v);
      }
    }
    write(JSON.stringify(record));
  }
  return {
    debug: (m, f) => log("debug", m, f),
    info: (m, f) => log("info", m, f),
    warn: (m, f) => log("warn", m, f),
    error: (m, f) => log("error", m, f),
    child: (child) => createLogger(`${name}.${child}`, options),
  };
}

/** A logger that drops everything (for benchmarks). */
export function silentLogger(): Logger {
  return createLogger("silent", { write: () => {} });
}
