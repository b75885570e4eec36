/**
 * What the VideoRoom and AudioBridge plugins answer alike: the plugin's name for its answers
 * (`data.videoroom`, `data.audiobridge`), and the room-level requests that take the same
 * fields on both (create, destroy, exists, list, listparticipants, kick).
 */
import { JanusError, type JanusHandle, type PluginResponse } from './client.js';

export type Json = Record<string, unknown>;

export interface RoomPlugin {
  /** The data field naming the answer ('videoroom', 'audiobridge'). */
  field: string;
  /** For messages: 'VideoRoom', 'AudioBridge'. */
  label: string;
  /** Janus package name, e.g. janus.plugin.videoroom. */
  name: string;
  /** The plugin's error code for an answer of the wrong kind. */
  unknownError: number;
}

/** The answer's data when it is of the expected kind; a JanusError otherwise. */
export function checkAnswer(plugin: RoomPlugin, res: PluginResponse, expected: string | string[], what: string): Json {
  const got = res.data[plugin.field];
  const ok = Array.isArray(expected) ? expected.includes(String(got)) : got === expected;
  if (!ok) throw new JanusError(plugin.unknownError, `unexpected ${plugin.label} answer to ${what}: ${JSON.stringify(res.data)}`, plugin.name);
  return res.data;
}

/** Room-level (synchronous) requests on any handle of the plugin. */
export class RoomAdmin<Create extends object, Info, ParticipantInfo> {
  constructor(
    readonly handle: JanusHandle,
    protected readonly plugin: RoomPlugin,
    /** The plugin's admin_key: required by create (and rtp forwarding) when configured. */
    private readonly adminKey?: string,
    /** Fields every create sends unless the caller sets them. */
    private readonly createDefaults: Json = {},
  ) {}

  protected key(): Json {
    return this.adminKey ? { admin_key: this.adminKey } : {};
  }

  protected check(res: PluginResponse, expected: string | string[], what: string): Json {
    return checkAnswer(this.plugin, res, expected, what);
  }

  async create(opts: Create): Promise<number> {
    const res = await this.handle.message({ request: 'create', permanent: false, ...this.createDefaults, ...opts, ...this.key() });
    return Number(this.check(res, 'created', 'create').room);
  }

  async destroy(room: number, secret?: string): Promise<void> {
    const res = await this.handle.message({ request: 'destroy', room, permanent: false, ...(secret ? { secret } : {}) });
    this.check(res, 'destroyed', 'destroy');
  }

  async exists(room: number): Promise<boolean> {
    const res = await this.handle.message({ request: 'exists', room });
    return this.check(res, 'success', 'exists').exists === true;
  }

  /** All rooms, private ones included (the admin_key is sent). */
  async list(): Promise<Info[]> {
    const res = await this.handle.message({ request: 'list', ...this.key() });
    return (this.check(res, 'success', 'list').list ?? []) as Info[];
  }

  async listParticipants(room: number): Promise<ParticipantInfo[]> {
    const res = await this.handle.message({ request: 'listparticipants', room });
    return (this.check(res, 'participants', 'listparticipants').participants ?? []) as ParticipantInfo[];
  }

  async kick(room: number, id: number, secret?: string): Promise<void> {
    const res = await this.handle.message({ request: 'kick', room, id, ...(secret ? { secret } : {}) });
    this.check(res, 'success', 'kick');
  }
}
