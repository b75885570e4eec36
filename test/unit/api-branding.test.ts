import { deflateSync, crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MAX_LOGO_BYTES, sanitiseLogo, sanitisePng, sanitiseSvg } from '../../src/api/v1/branding.js';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

function png(width: number, height: number, extra: Buffer[] = []): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const raw = Buffer.alloc((width * 3 + 1) * height);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), ...extra, chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

describe('PNG logos', () => {
  it('keeps a valid image and drops text and private chunks', () => {
    const clean = png(2, 2);
    const dirty = png(2, 2, [chunk('tEXt', Buffer.from('Comment\0<script>alert(1)</script>')), chunk('prVt', Buffer.from('secret'))]);
    expect(sanitisePng(clean).equals(clean)).toBe(true);
    expect(sanitisePng(dirty).equals(clean)).toBe(true);
  });

  it('refuses bad signatures, CRCs, truncation, huge dimensions, missing data', () => {
    expect(() => sanitisePng(Buffer.from('GIF89a....'))).toThrow(/not a PNG/);
    const bad = png(2, 2);
    bad[bad.length - 20] ^= 0xff;
    expect(() => sanitisePng(bad)).toThrow(/CRC|runs past/);
    expect(() => sanitisePng(png(2, 2).subarray(0, 40))).toThrow(/truncated|runs past/);
    expect(() => sanitisePng(png(5000, 1))).toThrow(/at most 4096x4096/);
    const noData = Buffer.concat([png(1, 1).subarray(0, 33), chunk('IEND', Buffer.alloc(0))]);
    expect(() => sanitisePng(noData)).toThrow(/no image data/);
  });
});

describe('SVG logos', () => {
  it('removes scripts, event handlers, foreignObject, external references and styles', () => {
    const svg = `<?xml version="1.0"?><!-- made by hand --><svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 20 20" onload="steal()">
<script type="text/javascript">alert(document.cookie)</script>
<style>@import url(https://evil.example/x.css);</style>
<foreignObject><iframe src="https://evil.example"></iframe></foreignObject>
<defs><linearGradient id="g"><stop offset="0" stop-color="#fff"/></linearGradient></defs>
<a href="javascript:alert(1)"><rect width="5" height="5"/></a>
<rect width="20" height="20" fill="url(#g)" onclick="x()"/>
<circle cx="5" cy="5" r="2" fill="url(https://evil.example/track)"/>
<use xlink:href="https://evil.example/sprite.svg#x"/><use href="#g"/>
<text x="1" y="10" font-size="4">Region &amp; Kommune</text></svg>`;
    const out = sanitiseSvg(svg);
    expect(out).not.toMatch(/script|onload|onclick|foreignObject|iframe|evil|javascript|style|@import/i);
    expect(out).toContain('<rect width="20" height="20" fill="url(#g)"/>');
    expect(out).toContain('<circle cx="5" cy="5" r="2"/>');
    expect(out).toContain('<use href="#g"/>');
    expect(out).toContain('<text x="1" y="10" font-size="4">Region &amp; Kommune</text>');
    expect(out.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  });

  it('refuses DOCTYPE/entities, CDATA, non-SVG roots and malformed markup', () => {
    expect(() => sanitiseSvg('<!DOCTYPE svg [<!ENTITY x "y">]><svg>&x;</svg>')).toThrow(/DOCTYPE/);
    expect(() => sanitiseSvg('<svg><![CDATA[<script>]]></svg>')).toThrow(/CDATA/);
    expect(() => sanitiseSvg('<html><svg/></html>')).toThrow(/root element/);
    expect(() => sanitiseSvg('<svg><g></svg>')).toThrow(/closes/);
    expect(() => sanitiseSvg('<svg><g>')).toThrow(/still open/);
    expect(() => sanitiseSvg('<svg><rect width=5/></svg>')).toThrow(/not well-formed/);
    expect(() => sanitiseSvg('<svg>&nbsp;</svg>')).toThrow(/entity/);
    expect(() => sanitiseSvg('just text')).toThrow(/no <svg>/);
  });

  it('sanitiseLogo checks type and size and returns a data: URL', () => {
    expect(sanitiseLogo('image/svg+xml', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe(`data:image/svg+xml;base64,${Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>').toString('base64')}`);
    expect(() => sanitiseLogo('image/gif', Buffer.from('GIF89a'))).toThrow(/not accepted/);
    expect(() => sanitiseLogo('image/png', Buffer.alloc(MAX_LOGO_BYTES + 1))).toThrow(/at most/);
    expect(() => sanitiseLogo('image/png', Buffer.alloc(0))).toThrow(/empty/);
  });
});
