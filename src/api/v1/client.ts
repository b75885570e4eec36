/**
 * A small HTTPS client for the API (mutual TLS or bearer token), for scripts, the bench and
 * the tests. One keep-alive agent per client, so repeated calls reuse the TLS session.
 */
import https from 'node:https';
import type { SecureVersion } from 'node:tls';

export interface ApiClientOptions {
  port: number;
  host?: string;
  /** CA that issued the server's certificate; omitted: the server is not verified (tests of self-signed nodes only). */
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  token?: string;
  minVersion?: SecureVersion;
  maxVersion?: SecureVersion;
}

export interface ApiResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  text: string;
}

export class ApiClient {
  private readonly agent: https.Agent;

  constructor(private readonly opts: ApiClientOptions) {
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: 16,
      ...(opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }),
      ...(opts.cert ? { cert: opts.cert } : {}),
      ...(opts.key ? { key: opts.key } : {}),
      ...(opts.minVersion ? { minVersion: opts.minVersion } : {}),
      ...(opts.maxVersion ? { maxVersion: opts.maxVersion } : {}),
    });
  }

  withToken(token: string): ApiClient {
    return new ApiClient({ ...this.opts, token });
  }

  request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: this.opts.host ?? '127.0.0.1',
          servername: 'localhost',
          port: this.opts.port,
          method,
          path,
          agent: this.agent,
          headers: {
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
            ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = undefined;
            if (text.length > 0) {
              try {
                parsed = JSON.parse(text);
              } catch {
                parsed = text;
              }
            }
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed as T, text });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  get<T = any>(path: string): Promise<ApiResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T = any>(path: string, body: unknown): Promise<ApiResponse<T>> {
    return this.request<T>('POST', path, body);
  }

  close(): void {
    this.agent.destroy();
  }
}
