/**
 * Loggers for the running server: human-readable text lines (default) or JSON lines through pino
 * (--log-format json, log-json.ts, loaded only then: every server process would otherwise hold pino and
 * its dependencies), both implementing lib/logger's Logger.
 */
import type { Writable } from 'node:stream';
import type { Logger } from '../lib/logger.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function formatValue(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.stack ?? v.message);
  if (typeof v === 'string') return /^[\w.:/@+-]*$/.test(v) && v !== '' ? v : JSON.stringify(v);
  if (v === undefined) return 'undefined';
  return JSON.stringify(v) ?? String(v);
}

/** One line per record: "<iso time> <LEVEL> <message> key=value ...". */
export function textLogger(level: LogLevel = 'info', out: Writable = process.stdout, base: Record<string, unknown> = {}): Logger {
  const min = ORDER[level];
  const at =
    (l: LogLevel) =>
    (fields: Record<string, unknown>, msg?: string): void => {
      if (ORDER[l] < min) return;
      const all = { ...base, ...fields };
      const kv = Object.entries(all)
        .map(([k, v]) => `${k}=${formatValue(v)}`)
        .join(' ');
      out.write(`${new Date().toISOString()} ${l.toUpperCase()} ${msg ?? ''}${kv ? ' ' + kv : ''}\n`);
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => textLogger(level, out, { ...base, ...fields }),
  };
}
