/**
 * Meeting PINs: 4-12 digits, kept only as scrypt hashes ("scrypt$N$r$p$salt$hash", base64),
 * compared in constant time. The cost parameters travel in the hash so they can be raised
 * later without invalidating stored PINs.
 *
 * Cost: a PIN has at most 40 bits, so no hash cost makes a stolen hash safe against an offline
 * search; what the hash buys is that the database holds no PIN in clear. Every join attempt
 * pays the cost, so it is kept moderate (N=2^13: ~20 ms) to not turn PIN guessing into a CPU
 * denial of service. Joins check PINs on libuv's thread pool (`pinRole`): the same process
 * relays media, and 20-40 ms on the event loop per join would hold every leg's packets back.
 * The API hashes new PINs there too (`HashedPin`); the CLI, a process of its own, hashes on
 * its event loop.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { InvalidRoomError } from './errors.js';

export const PIN_RE = /^\d{4,12}$/;
const N = 8192;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

/** Throws InvalidRoomError unless `pin` is 4-12 digits. */
export function checkPin(pin: unknown, what = 'PIN'): string {
  if (typeof pin !== 'string' || !PIN_RE.test(pin)) throw new InvalidRoomError(`${what} must be 4-12 digits`);
  return pin;
}

function encode(salt: Buffer, hash: Buffer): string {
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

function scryptOnPool(pin: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(pin, salt, length, options, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Hashes on the event loop: for the CLI (a process of its own) and tests. */
export function hashPin(pin: string): string {
  checkPin(pin);
  const salt = randomBytes(SALT_LENGTH);
  return encode(salt, scryptSync(pin, salt, KEY_LENGTH, { N, r: R, p: P }));
}

/**
 * A PIN checked and hashed ahead on the thread pool (`HashedPin.of`), which RoomStore.create()
 * and update() store as is: the API uses it, since it runs in the process that relays media.
 * The clear PIN is kept with it only for the store's host-PIN-differs-from-guest-PIN check.
 */
export class HashedPin {
  private constructor(
    readonly clear: string,
    readonly hash: string,
  ) {}

  static async of(pin: unknown, what = 'PIN'): Promise<HashedPin> {
    const clear = checkPin(pin, what);
    const salt = randomBytes(SALT_LENGTH);
    return new HashedPin(clear, encode(salt, await scryptOnPool(clear, salt, KEY_LENGTH, { N, r: R, p: P })));
  }
}

interface StoredPin {
  salt: Buffer;
  expected: Buffer;
  options: ScryptOptions;
}

function parseStored(stored: string): StoredPin | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [n, r, p] = parts.slice(1, 4).map(Number);
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  if (!Number.isInteger(n) || !Number.isInteger(r) || !Number.isInteger(p) || expected.length === 0) return undefined;
  return { salt, expected, options: { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 } };
}

/** True when `pin` is the one `stored` was made from, hashed on the event loop (room edits). */
export function pinMatchesSync(stored: string, pin: string): boolean {
  const s = parseStored(stored);
  return !!s && timingSafeEqual(scryptSync(pin, s.salt, s.expected.length, s.options), s.expected);
}

/** True when `pin` is the one `stored` was made from, hashed on the thread pool (joins). Malformed input is simply false. */
export async function pinMatches(stored: string, pin: string): Promise<boolean> {
  const s = parseStored(stored);
  if (!s) return false;
  const actual = await scryptOnPool(pin, s.salt, s.expected.length, s.options);
  return timingSafeEqual(actual, s.expected);
}

/**
 * Which role a PIN grants in a room: 'host' (host PIN), 'guest' (guest PIN, or no PIN needed)
 * or null (refused). A room without PINs admits everyone as guest; with only a host PIN, guests
 * need no PIN but a PIN that is given must be the host's. Every stored hash is computed on each
 * attempt, so the time taken does not tell which PIN matched.
 */
export async function pinRole(room: { hostPin?: string; guestPin?: string }, pin: string | undefined): Promise<'host' | 'guest' | null> {
  const given = pin === undefined || pin === '' ? undefined : pin;
  if (given === undefined) return room.guestPin ? null : 'guest';
  if (!room.hostPin && !room.guestPin) return 'guest';
  // A malformed PIN cannot match; refusing it costs no hashing.
  if (!PIN_RE.test(given)) return null;
  const [host, guest] = await Promise.all([room.hostPin ? pinMatches(room.hostPin, given) : false, room.guestPin ? pinMatches(room.guestPin, given) : false]);
  return host ? 'host' : guest ? 'guest' : null;
}
