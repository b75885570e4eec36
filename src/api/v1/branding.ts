/**
 * Organisation logos for the join page, uploaded through the API. Nothing uploaded is served
 * as it came:
 * - PNG: the chunk structure and every CRC are checked, dimensions bounded, and only the
 *   chunks needed to draw the image are kept (text, EXIF and private chunks go).
 * - SVG: parsed with a strict small XML tokenizer and re-serialised from an allowlist of
 *   drawing elements and attributes. Scripts, foreignObject, event handlers (on*), external
 *   references (href other than '#local', url() other than '#local') are removed; a DOCTYPE,
 *   entity declarations or CDATA are refused outright (they are how XML smuggles content).
 * The result is stored as a data: URL, so the join page never fetches anything elsewhere.
 */
import { crc32 } from 'node:zlib';
import { ApiProblem } from './errors.js';

export const MAX_LOGO_BYTES = 256 * 1024;
const MAX_DIMENSION = 4096;

export class LogoError extends ApiProblem {
  override name = 'LogoError';
  constructor(detail: string) {
    super(422, 'logo-invalid', detail);
  }
}

export type LogoType = 'image/png' | 'image/svg+xml';

/** A sanitised logo as a data: URL. */
export function sanitiseLogo(contentType: string, data: Buffer): string {
  if (data.length === 0) throw new LogoError('the logo is empty');
  if (data.length > MAX_LOGO_BYTES) throw new LogoError(`the logo is ${data.length} bytes; at most ${MAX_LOGO_BYTES} are accepted`);
  if (contentType === 'image/png') return `data:image/png;base64,${sanitisePng(data).toString('base64')}`;
  if (contentType === 'image/svg+xml') return `data:image/svg+xml;base64,${Buffer.from(sanitiseSvg(data.toString('utf8'))).toString('base64')}`;
  throw new LogoError(`logo type ${contentType} is not accepted (image/png or image/svg+xml)`);
}

// ---- PNG -----------------------------------------------------------------------------------

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Chunks that affect how the image looks; everything else is dropped. */
const PNG_KEEP = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND', 'tRNS', 'gAMA', 'cHRM', 'sRGB', 'sBIT', 'bKGD', 'pHYs']);

export function sanitisePng(data: Buffer): Buffer {
  if (data.length < 8 || !data.subarray(0, 8).equals(PNG_SIGNATURE)) throw new LogoError('not a PNG file (bad signature)');
  const kept: Buffer[] = [PNG_SIGNATURE];
  let off = 8;
  let first = true;
  let sawIdat = false;
  for (;;) {
    if (off + 12 > data.length) throw new LogoError('the PNG is truncated (no IEND chunk)');
    const length = data.readUInt32BE(off);
    const type = data.toString('latin1', off + 4, off + 8);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new LogoError('the PNG has a malformed chunk');
    if (off + 12 + length > data.length) throw new LogoError(`the PNG chunk ${type} runs past the end of the file`);
    const body = data.subarray(off + 8, off + 8 + length);
    const crc = data.readUInt32BE(off + 8 + length);
    if (crc32(data.subarray(off + 4, off + 8 + length)) >>> 0 !== crc) throw new LogoError(`the PNG chunk ${type} has a bad CRC`);
    if (first) {
      if (type !== 'IHDR' || length !== 13) throw new LogoError('the PNG does not start with an IHDR chunk');
      const width = body.readUInt32BE(0);
      const height = body.readUInt32BE(4);
      if (width === 0 || height === 0 || width > MAX_DIMENSION || height > MAX_DIMENSION) throw new LogoError(`the PNG is ${width}x${height}; at most ${MAX_DIMENSION}x${MAX_DIMENSION} is accepted`);
      first = false;
    }
    if (type === 'IDAT') sawIdat = true;
    if (PNG_KEEP.has(type)) kept.push(data.subarray(off, off + 12 + length));
    off += 12 + length;
    if (type === 'IEND') break;
  }
  if (!sawIdat) throw new LogoError('the PNG has no image data');
  return Buffer.concat(kept);
}

// ---- SVG -----------------------------------------------------------------------------------

const SVG_ELEMENTS = new Set([
  'svg', 'g', 'path', 'rect', 'circle', 'ellipse', 'line', 'polyline', 'polygon', 'text', 'tspan', 'defs', 'lineargradient',
  'radialgradient', 'stop', 'title', 'desc', 'clippath', 'use', 'symbol',
]);
/** Removed together with everything inside them. */
const SVG_DROP_SUBTREE = new Set(['script', 'foreignobject', 'style', 'iframe', 'image', 'a', 'animate', 'set', 'animatetransform', 'animatemotion', 'handler', 'listener', 'metadata']);
const SVG_ATTRIBUTES = new Set([
  'xmlns', 'xmlns:xlink', 'version', 'id', 'class', 'viewbox', 'width', 'height', 'x', 'y', 'x1', 'x2', 'y1', 'y2', 'cx', 'cy', 'r', 'rx', 'ry',
  'd', 'points', 'transform', 'fill', 'fill-opacity', 'fill-rule', 'stroke', 'stroke-width', 'stroke-opacity', 'stroke-linecap',
  'stroke-linejoin', 'stroke-miterlimit', 'stroke-dasharray', 'opacity', 'font-family', 'font-size', 'font-weight', 'text-anchor',
  'dominant-baseline', 'offset', 'stop-color', 'stop-opacity', 'gradientunits', 'gradienttransform', 'clip-path', 'clip-rule',
  'preserveaspectratio', 'href', 'xlink:href', 'style', 'fx', 'fy', 'spreadmethod', 'dx', 'dy', 'letter-spacing',
]);
const STANDARD_ENTITY = /&(?:amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});/g;

function escapeAttr(v: string): string {
  return v.replace(/&(?!(?:amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});)/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

/** A reference that stays inside the document: '#id' only. */
function localRef(v: string): boolean {
  return /^#[A-Za-z_][\w.-]*$/.test(v.trim());
}

/** Keeps url(#id) references, drops the whole value if it names anything else or scripts. */
function safeUrlValue(v: string): boolean {
  const lower = v.toLowerCase();
  if (/javascript:|expression\(|@import|behavior:|-moz-binding/.test(lower)) return false;
  for (const m of lower.matchAll(/url\(\s*(['"]?)([^'")]*)\1\s*\)/g)) if (!localRef(m[2] ?? '')) return false;
  return !/url\(/.test(lower.replace(/url\(\s*(['"]?)#[^'")]*\1\s*\)/g, ''));
}

export function sanitiseSvg(text: string): string {
  if (/<!DOCTYPE|<!ENTITY|<!\[CDATA\[/i.test(text)) throw new LogoError('SVG logos may not contain a DOCTYPE, entity declarations or CDATA');
  const out: string[] = [];
  const stack: string[] = [];
  let dropDepth = 0; // > 0 while inside an element that is removed with its content
  let sawSvg = false;
  let i = 0;
  const tagRe = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  while (i < text.length) {
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) throw new LogoError('the SVG has an unterminated comment');
      i = end + 3;
      continue;
    }
    if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i + 2);
      if (end < 0) throw new LogoError('the SVG has an unterminated processing instruction');
      i = end + 2;
      continue;
    }
    if (text[i] === '<') {
      tagRe.lastIndex = i;
      const m = tagRe.exec(text);
      if (!m) throw new LogoError(`the SVG is not well-formed near character ${i}`);
      i = tagRe.lastIndex;
      const closing = m[1] === '/';
      const rawName = m[2] as string;
      const name = rawName.toLowerCase().replace(/^svg:/, '');
      const selfClosing = m[4] === '/';
      if (closing) {
        if (stack.pop() !== rawName) throw new LogoError(`the SVG closes </${rawName}> without opening it`);
        if (dropDepth > 0) dropDepth--;
        else out.push(`</${rawName}>`);
        continue;
      }
      const dropped = dropDepth > 0 || SVG_DROP_SUBTREE.has(name) || !SVG_ELEMENTS.has(name);
      if (!sawSvg && name !== 'svg') throw new LogoError('the file is not an SVG (the root element must be <svg>)');
      sawSvg = true;
      if (!selfClosing) {
        stack.push(rawName);
        if (dropped) dropDepth++;
      }
      if (dropped) continue;
      const attrs: string[] = [];
      for (const a of (m[3] ?? '').matchAll(/([A-Za-z_:][\w:.-]*)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/g)) {
        const an = (a[1] as string).toLowerCase();
        const value = a[2] ?? a[3] ?? '';
        if (an.startsWith('on') || !SVG_ATTRIBUTES.has(an)) continue;
        if ((an === 'href' || an === 'xlink:href') && !localRef(value)) continue;
        if (!safeUrlValue(value)) continue;
        if (an === 'xmlns' && value !== 'http://www.w3.org/2000/svg') continue;
        attrs.push(` ${a[1]}="${escapeAttr(value)}"`);
      }
      out.push(`<${rawName}${attrs.join('')}${selfClosing ? '/' : ''}>`);
      continue;
    }
    const next = text.indexOf('<', i);
    const chunk = text.slice(i, next < 0 ? text.length : next);
    i = next < 0 ? text.length : next;
    if (chunk.replace(STANDARD_ENTITY, '').includes('&')) throw new LogoError('the SVG uses an entity that is not one of XML\'s five');
    if (dropDepth === 0 && stack.length > 0) out.push(chunk.replace(/>/g, '&gt;'));
  }
  if (!sawSvg) throw new LogoError('the file is not an SVG (no <svg> element)');
  if (stack.length > 0) throw new LogoError(`the SVG ends with <${stack[stack.length - 1]}> still open`);
  return out.join('');
}

/** Sanitised logos of rooms, kept beside the room (RoomStore's branding takes https URLs only). */
export class RoomLogos {
  constructor(private readonly db: import('../../store/database.js').Db) {}

  set(roomId: string, org: string, dataUrl: string): void {
    this.db
      .prepare('INSERT INTO api_room_logos (room_id, org, data_url, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT(room_id) DO UPDATE SET data_url = excluded.data_url, updated_at = excluded.updated_at')
      .run(roomId, org, dataUrl, new Date().toISOString());
  }

  /** The data: URL the join page shows for the room, if one was uploaded. */
  get(roomId: string): string | undefined {
    return this.db.prepare('SELECT data_url FROM api_room_logos WHERE room_id = ?').pluck().get(roomId) as string | undefined;
  }

  remove(roomId: string): boolean {
    return this.db.prepare('DELETE FROM api_room_logos WHERE room_id = ?').run(roomId).changes > 0;
  }
}
