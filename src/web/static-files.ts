import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The browser client's files, read once. Resolved from src/web/ and dist/web/ alike. */
const DIR = fileURLToPath(new URL('../../src/web/static/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** Only these files are served: no path from the request ever reaches the file system. */
const FILES = ['join.html', 'join.js', 'join.css'];

export interface StaticFile {
  type: string;
  body: Buffer;
}

export function loadStaticFiles(): Map<string, StaticFile> {
  const out = new Map<string, StaticFile>();
  for (const f of FILES) out.set(f, { type: TYPES[f.slice(f.lastIndexOf('.'))], body: readFileSync(DIR + f) });
  return out;
}
