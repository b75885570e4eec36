/**
 * H.264 profile-level-id (RFC 6184 §8.1): three bytes, profile_idc, profile-iop (constraint
 * flags) and level_idc, written as six hex digits. The profile must be kept in an answer; the
 * level may only go down unless both sides said level-asymmetry-allowed=1 (RFC 6184 §8.2.2),
 * in which case each side declares the level it can receive.
 */
export type H264Profile = 'constrained-baseline' | 'baseline' | 'main' | 'extended' | 'high' | 'constrained-high' | 'other';

export interface ProfileLevelId {
  profileIdc: number;
  iop: number;
  /** Level as 10 × the level number (31 = 3.1), with 1b as 9 whatever its encoding. */
  level: number;
  profile: H264Profile;
}

/** Level 4.0 (1080p30): what knude receives unless configured otherwise. */
export const DEFAULT_H264_MAX_LEVEL = 40;
/** Every browser in a room decodes these; Constrained Baseline is the safest, so it comes first. */
export const DEFAULT_H264_PROFILES: H264Profile[] = ['constrained-baseline', 'baseline', 'main', 'high'];

/** RFC 6184 §8.1: without profile-level-id the stream is Baseline level 1.0. */
export const DEFAULT_PROFILE_LEVEL_ID = '42000a';

const LEVEL_1B = 9;
/** Profiles whose level 1b is level_idc 11 with constraint_set3 (H.264 Annex A). */
const SET3_1B_PROFILES = new Set([0x42, 0x4d, 0x58]);

export function parseProfileLevelId(hex: string | undefined): ProfileLevelId | undefined {
  const text = hex ?? DEFAULT_PROFILE_LEVEL_ID;
  if (!/^[0-9a-fA-F]{6}$/.test(text)) return undefined;
  const profileIdc = parseInt(text.slice(0, 2), 16);
  const iop = parseInt(text.slice(2, 4), 16);
  const levelIdc = parseInt(text.slice(4, 6), 16);
  const is1b = levelIdc === 9 || (levelIdc === 11 && SET3_1B_PROFILES.has(profileIdc) && (iop & 0x10) !== 0);
  return { profileIdc, iop, level: is1b ? LEVEL_1B : levelIdc, profile: classify(profileIdc, iop) };
}

function classify(profileIdc: number, iop: number): H264Profile {
  switch (profileIdc) {
    case 0x42:
      return iop & 0x40 ? 'constrained-baseline' : 'baseline';
    case 0x4d:
      return iop & 0x80 ? 'constrained-baseline' : 'main';
    case 0x58:
      return (iop & 0xc0) === 0xc0 ? 'constrained-baseline' : iop & 0x80 ? 'baseline' : 'extended';
    case 0x64:
      return (iop & 0x0c) === 0x0c ? 'constrained-high' : 'high';
    default:
      return 'other';
  }
}

/** Levels in order, for comparing: 1b sits between 1 and 1.1. */
function rank(level: number): number {
  return level === LEVEL_1B ? 10.5 : level;
}

export function formatProfileLevelId(p: Pick<ProfileLevelId, 'profileIdc' | 'iop' | 'level'>): string {
  let iop = p.iop;
  let levelIdc = p.level;
  if (SET3_1B_PROFILES.has(p.profileIdc)) {
    if (p.level === LEVEL_1B) {
      levelIdc = 11;
      iop |= 0x10;
    } else if (p.level === 11) iop &= ~0x10; // level 1.1, not 1b
  }
  return [p.profileIdc, iop, levelIdc].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The profile-level-id knude answers for an offered one: same profile and constraints; the
 * level is knude's receive maximum when level asymmetry is allowed on both sides, otherwise the
 * lower of the offer's level and knude's maximum.
 */
export function answerProfileLevelId(offered: ProfileLevelId, maxLevel: number, levelAsymmetry: boolean): string {
  const level = levelAsymmetry || rank(maxLevel) < rank(offered.level) ? maxLevel : offered.level;
  return formatProfileLevelId({ ...offered, level });
}
