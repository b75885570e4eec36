import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DialPlanError, explain, type DialPlanRouter, type DialPlanStore, type RouteCaller } from '../dialplan/index.js';

/** An HTTP error answered as RFC 9457 problem+json. */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(
    readonly status: number,
    readonly title: string,
    detail: string,
  ) {
    super(detail);
  }
}

export interface HttpDeps {
  nodeName: string;
  plan: DialPlanStore;
  router: DialPlanRouter;
  health: () => Record<string, unknown>;
}

type Handler = (url: URL) => { status?: number; body: unknown };

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
  };
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handler = routes[url.pathname];
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
      send(res, problem.status, { type: 'about:blank', title: problem.title, status: problem.status, detail: problem.message }, 'application/problem+json');
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
