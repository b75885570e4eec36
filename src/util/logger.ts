import { pino, type Logger } from 'pino';
import type { KnudeConfig } from '../config/schema.js';

export type { Logger };

/** JSON lines for log shippers; pretty when a person watches a terminal. */
export function createLogger(config: Pick<KnudeConfig, 'log' | 'node'>, stream?: NodeJS.WritableStream): Logger {
  const pretty = config.log.format === 'pretty' || (config.log.format === 'auto' && process.stdout.isTTY && !stream);
  const base = { node: config.node.name };
  if (pretty) {
    return pino({
      level: config.log.level,
      base,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,node' } },
    });
  }
  return stream ? pino({ level: config.log.level, base }, stream as pino.DestinationStream) : pino({ level: config.log.level, base });
}
