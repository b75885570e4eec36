import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadStaticFiles } from '../web/static-files.js';
import { DialPlanError, explain, type DialPlanRouter, type DialPlanStore, type RouteCaller } from '../dialplan/index.js';

/** An HTTP error answered as RFC 9457 problem+json. */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
    /** A stable machine-readable reason for clients (e.g. the join page). */
    readonly reason?: string,
  ) {
    super(detail);
  }
}

/** What the join page may learn about a room before joining: nothing secret. */
export interface JoinInfo {
  name: string;
  org: string;
  pinRequired: boolean;
  branding?: { logoUrl?: string; color?: string };
  /** Why joining would fail now, if it would (not-yet-valid, expired, locked). */
  problem?: string;
}

export interface HttpDeps {
  nodeName: string;
  plan: DialPlanStore;
  router: DialPlanRouter;
  health: () => Record<string, unknown>;
  /** Room lookup for the join page; absent on a node without rooms. */
  joinInfo?: (alias: string) => JoinInfo | undefined;
  /** GET /metrics (Prometheus text format). */
  metrics?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** The monthly KPI report (throws a StatsError-like error with a clear message for a bad month). */
  monthlyReport?: (month: string) => unknown;
}

type Handler = (url: URL) => { status?: number; body: unknown };

const statics = loadStaticFiles();

/** The browser client: /join/<alias> is the page, /static/<file> its assets. */
function serveStatic(pathname: string, res: http.ServerResponse): boolean {
  const name = pathname.startsWith('/join/') ? 'join.html' : pathname.startsWith('/static/') ? pathname.slice('/static/'.length) : undefined;
  const file = name === undefined ? undefined : statics.get(name);
  if (!file) return false;
  res.writeHead(200, {
    'content-type': file.type,
    'cache-control': 'no-cache',
    // The page loads nothing from elsewhere; media and signalling go to this node only.
    'content-security-policy': "default-src 'self'; img-src 'self' data: https:; connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:",
  });
  res.end(file.body);
  return true;
}

function send(res: http.ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

/**
 * The node's HTTP surface: health and the routing explanation for integrators. The
 * administration API (issue 7) grows here behind the same problem+json error handling.
 */
export function createHttpServer(deps: HttpDeps): http.Server {
  const routes: Record<string, Handler> = {
    '/healthz': () => ({ body: { status: 'ok', node: deps.nodeName, ...deps.health() } }),
    '/api/route': (url) => {
      const alias = url.searchParams.get('alias');
      const from = url.searchParams.get('from');
      if (!alias) throw new HttpProblem(400, 'Bad Request', 'query parameter "alias" is required');
      if (!from) throw new HttpProblem(400, 'Bad Request', 'query parameter "from" is required: an organisation name or "external"');
      let caller: RouteCaller;
      if (from === 'external') caller = { kind: 'external', address: 'api' };
      else if (deps.plan.getOrg(from)) caller = { kind: 'account', org: from, username: '(api)' };
      else throw new HttpProblem(404, 'Not Found', `no organisation named "${from}"`);
      const decision = deps.router.route({ dialled: alias, from: caller });
      return { body: { ...decision, explanation: explain(decision) } };
    },
    '/api/reports/monthly': (url) => {
      const month = url.searchParams.get('month');
      if (!month) throw new HttpProblem(400, 'Bad Request', 'query parameter "month" is required (YYYY-MM)');
      if (!deps.monthlyReport) throw new HttpProblem(404, 'Not Found', 'reports are not available on this node');
      try {
        return { body: deps.monthlyReport(month) };
      } catch (err) {
        if ((err as { name?: string }).name?.endsWith('Error') && !(err instanceof TypeError)) throw new HttpProblem(400, 'Bad Request', (err as Error).message);
        throw err;
      }
    },
    '/api/join-info': (url) => {
      const alias = url.searchParams.get('alias');
      if (!alias) throw new HttpProblem(400, 'Bad Request', 'query parameter "alias" is required');
      const info = deps.joinInfo?.(alias);
      if (!info) throw new HttpProblem(404, 'Not Found', `no meeting room at ${alias}`, 'not-found');
      return { body: info };
    },
  };
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/metrics' && deps.metrics) return deps.metrics(req, res);
    const handler = routes[url.pathname];
    if (!handler && req.method === 'GET' && serveStatic(url.pathname, res)) return;
    try {
      if (!handler) throw new HttpProblem(404, 'Not Found', `no resource at ${url.pathname}`);
      if (req.method !== 'GET') throw new HttpProblem(405, 'Method Not Allowed', `${req.method} is not allowed on ${url.pathname}`);
      const out = handler(url);
      send(res, out.status ?? 200, out.body);
    } catch (err) {
      const problem =
        err instanceof HttpProblem
          ? err
          : err instanceof DialPlanError
            ? new HttpProblem(400, 'Bad Request', err.message)
            : new HttpProblem(500, 'Internal Server Error', 'the request failed; see the node log');
      if (problem.status === 500) console.error(err);
      send(
        res,
        problem.status,
        { type: 'about:blank', title: problem.title, status: problem.status, detail: problem.message, ...(problem.reason ? { reason: problem.reason } : {}) },
        'application/problem+json',
      );
    }
  });
}

export async function listen(server: http.Server, address: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
