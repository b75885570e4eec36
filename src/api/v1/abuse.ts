/**
 * Abuse blocks: a source IP (or CIDR range) or a SIP account that gets no service while
 * blocked. `isBlocked` is called on every REGISTER/INVITE, so it answers from memory; the
 * set is reloaded after each change made through this class.
 */
import { BlockList, isIP } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { Db } from '../../store/database.js';
import { ApiProblem, conflict, notFound } from './errors.js';

export interface AbuseBlock {
  id: string;
  kind: 'ip' | 'account';
  /** An IP address, a CIDR range ('198.51.100.0/24'), or 'user@realm' for an account. */
  value: string;
  reason: string;
  /** ISO 8601; absent = until lifted. */
  until?: string;
  createdBy: string;
  createdAt: string;
}

interface Row {
  id: string;
  kind: 'ip' | 'account';
  value: string;
  reason: string;
  until: string | null;
  created_by: string;
  created_at: string;
}

const toBlock = (r: Row): AbuseBlock => ({
  id: r.id,
  kind: r.kind,
  value: r.value,
  reason: r.reason,
  ...(r.until ? { until: r.until } : {}),
  createdBy: r.created_by,
  createdAt: r.created_at,
});

function parseIpValue(value: string): { address: string; prefix?: number; family: 'ipv4' | 'ipv6' } {
  const [address, prefixText, ...rest] = value.split('/');
  const v = isIP(address ?? '');
  const prefix = prefixText === undefined ? undefined : Number(prefixText);
  if (v === 0 || rest.length > 0 || (prefix !== undefined && (!/^\d{1,3}$/.test(prefixText ?? '') || prefix > (v === 4 ? 32 : 128)))) {
    throw new ApiProblem(422, 'invalid', `"${value.slice(0, 60)}" is not an IP address or CIDR range`);
  }
  return { address: address as string, ...(prefix !== undefined ? { prefix } : {}), family: v === 4 ? 'ipv4' : 'ipv6' };
}

export class AbuseBlocks {
  private ips = new BlockList();
  private ipBlocks: Row[] = [];
  private accounts = new Map<string, Row>();

  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.reload();
  }

  private reload(): void {
    const rows = this.db.prepare('SELECT * FROM api_abuse_blocks').all() as Row[];
    this.ips = new BlockList();
    this.ipBlocks = rows.filter((r) => r.kind === 'ip');
    for (const r of this.ipBlocks) {
      const p = parseIpValue(r.value);
      if (p.prefix !== undefined) this.ips.addSubnet(p.address, p.prefix, p.family);
      else this.ips.addAddress(p.address, p.family);
    }
    this.accounts = new Map(rows.filter((r) => r.kind === 'account').map((r) => [r.value, r]));
  }

  block(input: { kind: 'ip' | 'account'; value: string; reason: string; until?: string; createdBy: string }): AbuseBlock {
    const value = input.kind === 'ip' ? input.value : input.value.toLowerCase();
    if (input.kind === 'ip') parseIpValue(value);
    else if (!/^[^@\s]{1,64}@[a-z0-9.-]{1,253}$/.test(value)) throw new ApiProblem(422, 'invalid', 'an account block names the account as user@realm');
    if (input.until && Date.parse(input.until) <= this.now().getTime()) throw new ApiProblem(422, 'invalid', 'the block would already have ended (until is in the past)');
    const row: Row = { id: randomUUID(), kind: input.kind, value, reason: input.reason, until: input.until ? new Date(input.until).toISOString() : null, created_by: input.createdBy, created_at: this.now().toISOString() };
    if (this.db.prepare('SELECT 1 FROM api_abuse_blocks WHERE kind = ? AND value = ?').get(row.kind, row.value)) throw conflict(`${row.kind} ${row.value} is already blocked`);
    this.db.prepare('INSERT INTO api_abuse_blocks (id, kind, value, reason, until, created_by, created_at) VALUES (@id, @kind, @value, @reason, @until, @created_by, @created_at)').run(row);
    this.reload();
    return toBlock(row);
  }

  unblock(id: string): void {
    if (this.db.prepare('DELETE FROM api_abuse_blocks WHERE id = ?').run(id).changes === 0) throw notFound(`no abuse block ${id}`);
    this.reload();
  }

  get(id: string): AbuseBlock | undefined {
    const r = this.db.prepare('SELECT * FROM api_abuse_blocks WHERE id = ?').get(id) as Row | undefined;
    return r && toBlock(r);
  }

  list(): AbuseBlock[] {
    return (this.db.prepare('SELECT * FROM api_abuse_blocks ORDER BY created_at').all() as Row[]).map(toBlock);
  }

  /**
   * Whether traffic from `ip` or for `account` ('user@realm') must be refused now. Blocks with
   * an `until` in the past no longer count (they stay listed until lifted or swept).
   */
  isBlocked(q: { ip?: string; account?: string }): boolean {
    const now = this.now().toISOString();
    const live = (r: Row): boolean => r.until === null || r.until > now;
    if (q.account !== undefined) {
      const r = this.accounts.get(q.account.toLowerCase());
      if (r && live(r)) return true;
    }
    if (q.ip !== undefined && this.ipBlocks.length > 0) {
      const family = isIP(q.ip);
      if (family !== 0 && this.ips.check(q.ip, family === 4 ? 'ipv4' : 'ipv6')) {
        // The BlockList does not know expiry: confirm at least one matching block is live.
        return this.ipBlocks.some((r) => {
          if (!live(r)) return false;
          const p = parseIpValue(r.value);
          const one = new BlockList();
          if (p.prefix !== undefined) one.addSubnet(p.address, p.prefix, p.family);
          else one.addAddress(p.address, p.family);
          return one.check(q.ip as string, family === 4 ? 'ipv4' : 'ipv6');
        });
      }
    }
    return false;
  }
}
