/**
 * `knude room ...` parsed in-process by a commander program wired the way commands.ts wires
 * it (a store per command from the config's data dir), with main's error mapping: expected
 * errors are one line and exit code 2.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addRoomCommands, RoomCommandError } from '../../src/cli/rooms.js';
import { loadConfig } from '../../src/config/load.js';
import { DialPlanError, DialPlanStore } from '../../src/dialplan/index.js';
import { openStore } from '../../src/node.js';
import { pinMatches, pinRole } from '../../src/rooms/pins.js';
import { RoomStore } from '../../src/rooms/store.js';
import { StoreError } from '../../src/store/database.js';

let dir: string;
let configFile: string;

function withStore<T>(cmd: Command, fn: (stores: { plan: DialPlanStore }) => T): T {
  const file = (cmd.optsWithGlobals() as { config?: string }).config;
  const db = openStore(loadConfig({ file, env: {} }));
  try {
    return fn({ plan: new DialPlanStore(db) });
  } finally {
    db.close();
  }
}

/** Like commands.ts's main: 0, or 2 with one line on stderr for errors a user can fix. */
async function knude(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const program = new Command('knude')
    .option('-c, --config <file>')
    .exitOverride()
    .configureOutput({ writeOut: (s) => void (stdout += s), writeErr: (s) => void (stderr += s) });
  addRoomCommands(program, { withStore, write: (s) => void (stdout += s) });
  try {
    await program.parseAsync(['--config', configFile, ...args], { from: 'user' });
    return { code: 0, stdout, stderr };
  } catch (err) {
    if (err instanceof CommanderError) return { code: err.exitCode === 0 ? 0 : 2, stdout, stderr };
    if (err instanceof StoreError || err instanceof DialPlanError) return { code: 2, stdout, stderr: `${stderr}knude: ${(err as Error).message}\n` };
    return { code: 1, stdout, stderr: `${stderr}knude: unexpected error: ${(err as Error).stack}\n` };
  }
}

function openRooms<T>(fn: (rooms: RoomStore, plan: DialPlanStore) => T): T {
  const db = openStore(loadConfig({ file: configFile, env: {} }));
  try {
    const plan = new DialPlanStore(db);
    return fn(new RoomStore(plan), plan);
  } finally {
    db.close();
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'knude-rooms-cli-'));
  configFile = join(dir, 'knude.yaml');
  writeFileSync(configFile, `node: { dataDir: ${JSON.stringify(join(dir, 'data'))} }\nsip: { domain: video.example.se }\n`);
  const db = openStore(loadConfig({ file: configFile, env: {} }));
  const plan = new DialPlanStore(db);
  plan.createOrg({ name: 'region-skane' });
  plan.addBlock('region-skane', '+4640');
  plan.addDomain('region-skane', 'skane.se');
  plan.createOrg({ name: 'vgregion' });
  plan.addBlock('vgregion', '+4631');
  db.close();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('knude room', () => {
  it('adds a permanent room with aliases and PINs, stored hashed', async () => {
    const r = await knude('room', 'add', '--org', 'region-skane', '--name', 'Akutmottagning Lund', '--alias', '+46405000', 'akut@skane.se', '--host-pin', '9999', '--guest-pin', '1234', '--max', '10', '--lobby');
    expect(r).toEqual({ code: 0, stdout: 'room akutmottagning-lund added to region-skane (aliases: +46405000 akut@skane.se)\n', stderr: '' });
    const room = openRooms((rooms) => rooms.byAlias('040-5000')!);
    expect(room).toMatchObject({ id: 'akutmottagning-lund', maxParticipants: 10, lobby: true, kind: 'permanent' });
    expect(await pinMatches(room.hostPin!, '9999')).toBe(true);
    expect(await pinRole(room, '1234')).toBe('guest');
  });

  it('adds a one-time room with an explicit id and branding', async () => {
    const r = await knude('room', 'add', '--org', 'vgregion', '--name', 'Booked', '--id', 'booked-1', '--one-time', '--from', '2099-03-01T13:00:00+01:00', '--until', '2099-03-01T14:00:00+01:00', '--color', '#123456', '--logo-url', 'https://vgregion.se/logo.svg');
    expect(r.code, r.stderr).toBe(0);
    openRooms((rooms) =>
      expect(rooms.get('booked-1')).toMatchObject({
        kind: 'one-time',
        validFrom: '2099-03-01T12:00:00.000Z',
        validUntil: '2099-03-01T13:00:00.000Z',
        branding: { color: '#123456', logoUrl: 'https://vgregion.se/logo.svg' },
      }),
    );
  });

  it('lists rooms as a table and as JSON without PIN hashes', async () => {
    const table = await knude('room', 'list');
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^id\s+name\s+org\s+kind\s+valid\s+max\s+pins\s+lobby\s+locked\s+aliases$/);
    expect(table.stdout).toMatch(/akutmottagning-lund\s+Akutmottagning Lund\s+region-skane\s+permanent\s+10\s+host\+guest\s+yes\s+\+46405000 akut@skane\.se/);
    const json = await knude('room', 'list', '--org', 'vgregion', '--json');
    const rows = JSON.parse(json.stdout) as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: 'booked-1', org: 'vgregion', hostPin: false, guestPin: false, aliases: [] });
    expect((await knude('room', 'list', '--json')).stdout).not.toContain('scrypt');
    expect((await knude('room', 'list', '--org', 'nobody')).stdout).toBe('(none)\n');
  });

  it('refuses bad input with one clear line and exit code 2, leaving nothing behind', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['room', 'add', '--org', 'nope', '--name', 'X'], /no organisation named "nope" \(add it with: knude org add nope\)/],
      [['room', 'add', '--org', 'region-skane', '--name', 'X', '--alias', '+4631000'], /not in a number block of that org/],
      [['room', 'add', '--org', 'region-skane', '--name', 'X', '--alias', '+46405000'], /alias \+46405000 already exists/],
      [['room', 'add', '--org', 'region-skane', '--name', 'X', '--host-pin', '12'], /host PIN must be 4-12 digits/],
      [['room', 'add', '--org', 'region-skane', '--name', 'X', '--max', 'lots'], /--max must be a whole number 2-100/],
      [['room', 'add', '--org', 'region-skane', '--name', 'X', '--max', '500'], /2-100/],
      [['room', 'add', '--org', 'region-skane', '--name', 'X', '--lobby'], /lobby needs a host PIN/],
      [['room', 'add', '--org', 'region-skane', '--name', 'X', '--one-time', '--from', '2099-01-01T10:00:00Z'], /--one-time needs --from ISO and --until ISO/],
      [['room', 'add', '--org', 'region-skane', '--name', 'X', '--from', '2099-01-01T10:00:00Z'], /add --one-time/],
      [['room', 'add', '--org', 'region-skane', '--name', 'X', '--one-time', '--from', 'tomorrow', '--until', '2099-01-01T10:00:00Z'], /ISO 8601/],
      [['room', 'add', '--org', 'region-skane', '--name', 'X', '--id', 'booked-1'], /already exists/],
      [['room', 'add', '--org', 'region-skane'], /required option '--name/],
      [['room', 'remove', 'nope'], /no room with id "nope"/],
    ];
    for (const [args, message] of cases) {
      const r = await knude(...args);
      expect(r.code, `${args.join(' ')} -> ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('Usage') && l.trim()).length, r.stderr).toBeLessThanOrEqual(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    openRooms((rooms) => expect(rooms.list().map((r) => r.id)).toEqual(['akutmottagning-lund', 'booked-1']));
  });

  it('room errors are StoreErrors, which main already prints as one line with exit 2', () => {
    expect(new RoomCommandError('x')).toBeInstanceOf(StoreError);
  });

  it('removes a room and its aliases', async () => {
    expect(await knude('room', 'remove', 'akutmottagning-lund')).toMatchObject({ code: 0, stdout: 'room akutmottagning-lund removed\n' });
    openRooms((rooms, plan) => {
      expect(rooms.get('akutmottagning-lund')).toBeUndefined();
      expect(plan.getAlias('+46405000')).toBeUndefined();
      expect(plan.getAlias('akut@skane.se')).toBeUndefined();
    });
  });
});
