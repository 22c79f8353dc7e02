/** JSON log lines through pino (serve --log-format json), imported only when that format is chosen. */
import { pino } from 'pino';
import type { Writable } from 'node:stream';
import type { Logger } from '../lib/logger.js';
import type { LogLevel } from './log.js';

export function jsonLogger(level: LogLevel = 'info', destination?: Writable): Logger {
  const p = destination ? pino({ level }, destination) : pino({ level });
  return wrapPino(p);
}

function wrapPino(p: pino.Logger): Logger {
  return {
    debug: (f, m) => p.debug(f, m),
    info: (f, m) => p.info(f, m),
    warn: (f, m) => p.warn(f, m),
    error: (f, m) => p.error(f, m),
    child: (f) => wrapPino(p.child(f)),
  };
}
