/**
 * `knude room add|list|remove`: meeting rooms from the command line. Wired into the CLI by
 * commands.ts with its own store helper: addRoomCommands(program, { withStore, print }).
 */
import type { Command } from 'commander';
import type { DialPlanStore } from '../dialplan/index.js';
import { RoomError } from '../rooms/errors.js';
import { RoomStore, type Room, type RoomInput } from '../rooms/store.js';
import { StoreError } from '../store/database.js';

/**
 * A room command the user can fix: one line, exit code 2. It is a StoreError so the CLI's
 * `main` already prints it that way; RoomErrors (bad PIN, unknown room, ...) become one.
 */
export class RoomCommandError extends StoreError {
  override name = 'RoomCommandError';
}

export interface RoomCliHelpers {
  /** Opens the node's store for one command (commands.ts's withStore fits). */
  withStore<T>(cmd: Command, fn: (stores: { plan: DialPlanStore }) => T): T;
  /** Table or JSON output (commands.ts's print); a plain table printer when absent. */
  print?(rows: Array<Record<string, unknown>>, json: boolean): void;
  /** Where messages go; process.stdout by default. */
  write?(text: string): void;
}

interface AddOptions {
  org: string;
  name: string;
  id?: string;
  alias?: string[];
  hostPin?: string;
  guestPin?: string;
  max?: string;
  lobby?: boolean;
  locked?: boolean;
  oneTime?: boolean;
  from?: string;
  until?: string;
  logoUrl?: string;
  color?: string;
}

function table(write: (text: string) => void) {
  return (rows: Array<Record<string, unknown>>, json: boolean): void => {
    if (json) return write(`${JSON.stringify(rows, null, 2)}\n`);
    if (rows.length === 0) return write('(none)\n');
    const cols = Object.keys(rows[0]);
    const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
    const line = (vals: string[]) => vals.map((v, i) => v.padEnd(width[i])).join('  ').trimEnd();
    write(`${line(cols)}\n${rows.map((r) => line(cols.map((c) => String(r[c] ?? '')))).join('\n')}\n`);
  };
}

/** Runs a command body, turning room errors into one-line CLI errors. */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof RoomError) throw new RoomCommandError(err.message);
    throw err;
  }
}

function parseMax(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,3}$/.test(value)) throw new RoomCommandError(`--max must be a whole number 2-100, not "${value}"`);
  return Number(value);
}

/** A room as shown to an operator: whether PINs are set, never their hashes. */
export function describeRoom(room: Room, aliases: string[]): Record<string, unknown> {
  return {
    id: room.id,
    name: room.name,
    org: room.org,
    kind: room.kind,
    ...(room.validFrom ? { validFrom: room.validFrom } : {}),
    ...(room.validUntil ? { validUntil: room.validUntil } : {}),
    maxParticipants: room.maxParticipants,
    hostPin: !!room.hostPin,
    guestPin: !!room.guestPin,
    lobby: room.lobby,
    locked: room.locked,
    ...(room.branding ? { branding: room.branding } : {}),
    aliases,
    createdAt: room.createdAt,
  };
}

export function addRoomCommands(program: Command, helpers: RoomCliHelpers): Command {
  const write = helpers.write ?? ((text: string) => void process.stdout.write(text));
  const print = helpers.print ?? table(write);
  const withRooms = <T>(cmd: Command, fn: (rooms: RoomStore, plan: DialPlanStore) => T): T =>
    helpers.withStore(cmd, ({ plan }) => guarded(() => fn(new RoomStore(plan), plan)));

  const room = program.command('room').description('virtual meeting rooms');
  room
    .command('add')
    .description('add a meeting room (permanent, or one-time with --one-time --from --until)')
    .requiredOption('--org <name>', 'organisation creating the room')
    .requiredOption('--name <text>', 'name shown to participants')
    .option('--id <id>', 'room id (lowercase letters, digits, dashes); made from the name when omitted')
    .option('--alias <alias...>', 'E.164 numbers or URIs of the organisation that reach the room')
    .option('--host-pin <digits>', 'PIN for hosts (4-12 digits)')
    .option('--guest-pin <digits>', 'PIN for guests (4-12 digits)')
    .option('--max <n>', 'maximum participants, 2-100 (default 25)')
    .option('--lobby', 'guests wait until a host joins (needs --host-pin)')
    .option('--locked', 'create it locked (only hosts may join)')
    .option('--one-time', 'a booked meeting, valid only between --from and --until')
    .option('--from <iso>', 'start, ISO 8601 with time zone, e.g. 2025-03-01T13:00:00+01:00')
    .option('--until <iso>', 'end, ISO 8601 with time zone')
    .option('--logo-url <url>', 'https:// URL of a logo shown on the join page')
    .option('--color <hex>', 'brand colour, #rrggbb')
    .action((opts: AddOptions, cmd: Command) =>
      withRooms(cmd, (rooms, plan) => {
        if (!plan.getOrg(opts.org)) throw new RoomCommandError(`no organisation named "${opts.org}" (add it with: knude org add ${opts.org})`);
        if (opts.oneTime && (!opts.from || !opts.until)) throw new RoomCommandError('--one-time needs --from ISO and --until ISO');
        if (!opts.oneTime && (opts.from || opts.until)) throw new RoomCommandError('--from and --until are for one-time rooms; add --one-time');
        const branding = opts.logoUrl || opts.color ? { ...(opts.logoUrl ? { logoUrl: opts.logoUrl } : {}), ...(opts.color ? { color: opts.color } : {}) } : undefined;
        const input: RoomInput = {
          org: opts.org,
          name: opts.name,
          ...(opts.id !== undefined ? { id: opts.id } : {}),
          kind: opts.oneTime ? 'one-time' : 'permanent',
          ...(opts.oneTime ? { validFrom: opts.from, validUntil: opts.until } : {}),
          ...(opts.hostPin !== undefined ? { hostPin: opts.hostPin } : {}),
          ...(opts.guestPin !== undefined ? { guestPin: opts.guestPin } : {}),
          ...(opts.max !== undefined ? { maxParticipants: parseMax(opts.max) } : {}),
          lobby: !!opts.lobby,
          locked: !!opts.locked,
          ...(branding ? { branding } : {}),
          aliases: opts.alias ?? [],
        };
        const created = rooms.create(input);
        const aliases = rooms.aliasesOf(created.id);
        write(`room ${created.id} added to ${created.org}${aliases.length ? ` (aliases: ${aliases.join(' ')})` : ''}\n`);
      }),
    );

  room
    .command('list')
    .description('list meeting rooms')
    .option('--org <name>', 'only this organisation')
    .option('--json', 'machine-readable output')
    .action((opts: { org?: string; json?: boolean }, cmd: Command) =>
      withRooms(cmd, (rooms) => {
        const list = rooms.list({ org: opts.org }).map((r) => describeRoom(r, rooms.aliasesOf(r.id)));
        if (opts.json) return print(list, true);
        print(
          list.map((r) => ({
            id: r.id,
            name: r.name,
            org: r.org,
            kind: r.kind,
            valid: r.validFrom ? `${String(r.validFrom)}..${String(r.validUntil)}` : '',
            max: r.maxParticipants,
            pins: [r.hostPin ? 'host' : '', r.guestPin ? 'guest' : ''].filter(Boolean).join('+'),
            lobby: r.lobby ? 'yes' : '',
            locked: r.locked ? 'yes' : '',
            aliases: (r.aliases as string[]).join(' '),
          })),
          false,
        );
      }),
    );

  room
    .command('remove <id>')
    .description('remove a meeting room and its aliases')
    .action((id: string, _opts: unknown, cmd: Command) =>
      withRooms(cmd, (rooms) => {
        rooms.remove(id);
        write(`room ${id} removed\n`);
      }),
    );

  return room;
}
