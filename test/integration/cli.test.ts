/**
 * The `knude` command as an operator runs it (the compiled CLI in a child process): adding
 * organisations and accounts, listing them, explaining a route, and clear errors on bad input.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../bin/knude.js', import.meta.url));
let dir: string;
let config: string;

async function knude(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('node', [BIN, '--config', config, ...args], { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'knude-cli-'));
  config = join(dir, 'knude.yaml');
  writeFileSync(config, `node: { dataDir: ${JSON.stringify(join(dir, 'data'))} }\nsip: { domain: video.example.se }\n`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('knude CLI', () => {
  it('adds an organisation with its number block and an account with an alias, and lists them', async () => {
    expect(await knude('org', 'add', 'region-skane', '--display-name', 'Region Skåne', '--block', '+4640', '--domain', 'skane.se')).toMatchObject({ code: 0 });
    expect(await knude('account', 'add', '--org', 'region-skane', '--user', 'anna', '--password', 'pw1', '--alias', '+46401000')).toMatchObject({ code: 0 });
    const list = await knude('account', 'list', '--json');
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([{ user: 'anna', realm: 'video.example.se', org: 'region-skane', displayName: '', aliases: '+46401000' }]);
    const orgs = await knude('org', 'list');
    expect(orgs.stdout).toMatch(/region-skane\s+Region Skåne\s+\+4640\s+skane\.se/);
  });

  it('explains a route', async () => {
    const r = await knude('route', '040-1000', '--from', 'region-skane');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('+46401000');
    expect(r.stdout).toMatch(/account/);
    const ext = await knude('route', '+46401000', '--external');
    expect(ext.stdout).toMatch(/403|external/);
  });

  it('refuses bad input with one clear line and exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['account', 'add', '--org', 'nope', '--user', 'x', '--password', 'y'], /no organisation named "nope"/],
      [['account', 'add', '--org', 'region-skane', '--user', 'anna', '--password', 'y'], /exists/],
      [['account', 'add', '--org', 'region-skane', '--user', 'bad user', '--password', 'y'], /not a valid SIP user/],
      [['account', 'add', '--org', 'region-skane', '--user', 'ole', '--password', 'y', '--alias', '+4531000'], /not in a number block/],
      [['org', 'add', 'Bad Name!'], /organisation|name/i],
      [['org', 'add', 'region-other', '--block', '+46401'], /overlaps/],
      [['route', '+46401000'], /exactly one of --from ORG or --external/],
      [['account', 'add', '--org', 'region-skane'], /required option/],
    ];
    for (const [args, message] of cases) {
      const r = await knude(...args);
      expect(r.code, `${args.join(' ')} -> ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('exports the plan and imports it again; a conflicting document is refused naming the line', async () => {
    const exported = await knude('plan', 'export');
    expect(exported.code).toBe(0);
    expect(exported.stdout).toContain('region-skane');
    const file = join(dir, 'plan.yaml');
    writeFileSync(file, exported.stdout);
    expect(await knude('plan', 'import', file, '--dry-run')).toMatchObject({ code: 0 });
    const imported = await knude('plan', 'import', file);
    expect(imported.stdout).toMatch(/^imported: 1 orgs, 1 blocks, 1 domains/);
    expect((await knude('route', '+46401000', '--from', 'region-skane')).stdout).toMatch(/account/);

    const conflicting = exported.stdout.replace(/^organisations:\n/m, 'organisations:\n  - name: region-x\n    blocks: ["+464010"]\n');
    expect(conflicting).not.toBe(exported.stdout);
    writeFileSync(file, conflicting);
    const refused = await knude('plan', 'import', file);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/line \d+: .*overlaps/);
  });

  it('reports a bad configuration file clearly', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'sip: { listne: [] }\n');
    try {
      await run('node', [BIN, '--config', bad, 'account', 'list'], { timeout: 20_000 });
      expect.unreachable('a bad setting must fail');
    } catch (err) {
      const e = err as { code: number; stderr: string };
      expect(e.code).toBe(2);
      expect(e.stderr).toContain('unknown setting sip.listne');
    }
  });
});
