/**
 * The audit log: one row per API call and per sign-in (who, organisation, what, when, result).
 * Append-only in the database itself (triggers refuse UPDATE and DELETE); only `applyRetention`
 * deletes, by opening the gate inside its own transaction.
 */
import type { Db } from '../../store/database.js';

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  org: string | null;
  role: string | null;
  action: string;
  method: string;
  path: string;
  status: number;
  ip: string | null;
  detail: string | null;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'> & { at?: string };

export interface AuditQuery {
  org?: string;
  actor?: string;
  since?: string;
  until?: string;
  limit?: number;
}

export class AuditLog {
  private readonly insert;

  constructor(
    private readonly db: Db,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.insert = db.prepare(
      'INSERT INTO api_audit (at, actor, org, role, action, method, path, status, ip, detail) VALUES (@at, @actor, @org, @role, @action, @method, @path, @status, @ip, @detail)',
    );
  }

  record(e: NewAuditEntry): void {
    this.insert.run({ ...e, at: e.at ?? this.now().toISOString(), detail: e.detail ? e.detail.slice(0, 500) : null });
  }

  /** Newest first. */
  query(q: AuditQuery = {}): AuditEntry[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.org !== undefined) (where.push('org = ?'), params.push(q.org));
    if (q.actor !== undefined) (where.push('actor = ?'), params.push(q.actor));
    if (q.since !== undefined) (where.push('at >= ?'), params.push(new Date(q.since).toISOString()));
    if (q.until !== undefined) (where.push('at < ?'), params.push(new Date(q.until).toISOString()));
    const sql = `SELECT * FROM api_audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return this.db.prepare(sql).all(...params, Math.min(q.limit ?? 100, 1000)) as AuditEntry[];
  }

  /** Deletes entries older than `days`; the only deletion the triggers let through. */
  applyRetention(days: number): number {
    const cutoff = new Date(this.now().getTime() - days * 86_400_000).toISOString();
    return this.db.transaction(() => {
      this.db.prepare('UPDATE api_audit_gate SET open = 1 WHERE id = 1').run();
      const n = this.db.prepare('DELETE FROM api_audit WHERE at < ?').run(cutoff).changes;
      this.db.prepare('UPDATE api_audit_gate SET open = 0 WHERE id = 1').run();
      return n;
    })();
  }
}
