/**
 * `npm run bench -- NAME` loads bench/NAME.ts, awaits its exported `run(): Promise<BenchResult>`
 * and prints the rows as a table, then the ratio (see bench/README.md).
 *
 * Exit codes: 0 done (or the list of benches, when no name is given); 1 the bench failed or
 * returned no finite ratio; 2 unknown bench name.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkResult, formatReport } from './format.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

/** Files of bench/ that are machinery, not benches. Helpers of benches start with `_` or live in a subfolder. */
const NOT_BENCHES = new Set(['run', 'types', 'format']);

export function listBenches(dir = BENCH_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts'))
    .map((e) => e.name.slice(0, -'.ts'.length))
    .filter((name) => !NOT_BENCHES.has(name) && !name.startsWith('_'))
    .sort();
}

function usage(benches: string[]): string {
  const list = benches.length > 0 ? benches.map((b) => `  ${b}`).join('\n') : '  (none yet)';
  return `usage: npm run bench -- NAME\navailable benches:\n${list}`;
}

async function main(args: string[]): Promise<number> {
  const benches = listBenches();
  const name = args[0];
  if (name === undefined || name === '-h' || name === '--help') {
    console.log(usage(benches));
    return 0;
  }
  if (!benches.includes(name)) {
    console.error(`unknown bench "${name}"\n${usage(benches)}`);
    return 2;
  }
  const mod = (await import(pathToFileURL(join(BENCH_DIR, `${name}.ts`)).href)) as { run?: unknown };
  if (typeof mod.run !== 'function') {
    console.error(`bench/${name}.ts exports no run() function`);
    return 1;
  }
  const result = checkResult(await (mod.run as () => Promise<unknown>)());
  console.log(formatReport(result));
  if (!Number.isFinite(result.ratio)) {
    console.error(`bench ${name}: the ratio is not a finite number`);
    return 1;
  }
  return 0;
}

// process.exit rather than waiting for the event loop to drain: a bench that leaves a socket or
// timer open must not hang CI after its report is out (stdout to a pipe or file is synchronous
// on Linux, so nothing printed is lost).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exit(1);
    },
  );
}
