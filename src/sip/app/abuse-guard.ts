/**
 * Abuse blocks at the door: a request from a blocked source address, or naming a blocked
 * account (the registering AOR, or the caller), gets 403 with a Warning before any other
 * work is done for it. The blocks themselves are administered through the API.
 */
import type Srf from 'drachtio-srf';
import type { Logger } from 'pino';
import { parseNameAddr, parseUri } from '../message/index.js';

export type BlockCheck = (who: { ip?: string; account?: string }) => boolean;

/** The account a request speaks for: REGISTER's To, anything else's From (user@host). */
function accountOf(req: Srf.SrfRequest): string | undefined {
  try {
    const u = parseUri(parseNameAddr(req.get(req.method === 'REGISTER' ? 'To' : 'From')).uri);
    return u.user ? `${u.user}@${u.host.toLowerCase()}` : undefined;
  } catch {
    return undefined;
  }
}

export function abuseGuard(isBlocked: () => BlockCheck | undefined, log: Logger): (req: Srf.SrfRequest, res: Srf.SrfResponse, next: () => void) => void {
  return (req, res, next) => {
    const check = isBlocked();
    if (!check || req.method === 'ACK') return next();
    const ip = req.source_address;
    const account = accountOf(req);
    if (check({ ip, ...(account ? { account } : {}) })) {
      log.info({ method: req.method, ip, account }, 'request from a blocked source refused');
      res.send(403, { headers: { Warning: '399 knude "blocked by the operator"' } });
      return;
    }
    next();
  };
}
