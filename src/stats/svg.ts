/**
 * The report's charts as hand-written SVG 1.1 (no dependency): a step line for concurrency
 * over a day and bars per day of a month. Same frame for both: 800×320, axes with round tick
 * values, a title, and an aria-label so the chart reads in a screen reader too.
 */
import type { ConcurrencyCurve } from './intervals.js';

const W = 800;
const H = 320;
const M = { top: 40, right: 20, bottom: 44, left: 56 };
const PLOT_W = W - M.left - M.right;
const PLOT_H = H - M.top - M.bottom;
const COLOR = '#1f6fb2';

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** Numbers in SVG coordinates: at most 2 decimals, no exponent. */
function n(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** A round step (1, 2 or 5 × 10^k) giving about `count` ticks up to `max`. */
function niceStep(max: number, count = 5): number {
  if (max <= 0) return 1;
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  return Math.max(step, Number.EPSILON);
}

function formatTick(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Math.round(v * 100) / 100);
}

/** The y scale: top value rounded up to a tick, and the axis with grid lines. */
function yAxis(maxValue: number, yLabel: string): { top: number; y: (v: number) => number; svg: string } {
  const step = niceStep(maxValue);
  const top = Math.max(step, Math.ceil(maxValue / step) * step);
  const y = (v: number) => M.top + PLOT_H - (v / top) * PLOT_H;
  const parts: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    const yy = n(y(v));
    parts.push(`<line x1="${M.left}" y1="${yy}" x2="${W - M.right}" y2="${yy}" stroke="#e3e3e3" stroke-width="1"/>`);
    parts.push(`<text x="${M.left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${formatTick(v)}</text>`);
  }
  parts.push(
    `<text transform="translate(14 ${n(M.top + PLOT_H / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`,
  );
  return { top, y, svg: parts.join('') };
}

function svgDocument(title: string, content: string): string {
  const t = escapeXml(title);
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${t}">` +
    `<title>${t}</title>` +
    `<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>` +
    `<g font-family="sans-serif" font-size="11" fill="#333333">` +
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${t}</text>` +
    content +
    `<line x1="${M.left}" y1="${M.top + PLOT_H}" x2="${W - M.right}" y2="${M.top + PLOT_H}" stroke="#333333" stroke-width="1"/>` +
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + PLOT_H}" stroke="#333333" stroke-width="1"/>` +
    `</g></svg>\n`
  );
}

/**
 * Concurrency over the curve's window as a step line: flat while nothing changes, vertical at
 * each change, a spike up and down for intervals of zero length. `xTicks` label the time axis.
 */
export function stepChart(opts: { title: string; yLabel: string; curve: ConcurrencyCurve; xTicks: Array<{ at: number; label: string }> }): string {
  const { curve } = opts;
  const max = Math.max(curve.initial, ...curve.steps.map((s) => s.peak));
  const ax = yAxis(max, opts.yLabel);
  const span = curve.to - curve.from;
  const x = (t: number) => M.left + ((t - curve.from) / span) * PLOT_W;
  const pts: string[] = [`M${n(x(curve.from))} ${n(ax.y(curve.initial))}`];
  let value = curve.initial;
  for (const s of curve.steps) {
    const xx = n(x(s.at));
    pts.push(`L${xx} ${n(ax.y(value))}`, `L${xx} ${n(ax.y(s.peak))}`);
    if (s.value !== s.peak) pts.push(`L${xx} ${n(ax.y(s.value))}`);
    value = s.value;
  }
  pts.push(`L${n(x(curve.to))} ${n(ax.y(value))}`);
  const ticks = opts.xTicks
    // the last label ends at the axis end instead of running off the picture
    .map((t) => `<text x="${n(x(t.at))}" y="${M.top + PLOT_H + 16}" text-anchor="${t.at >= curve.to ? 'end' : 'middle'}">${escapeXml(t.label)}</text>`)
    .join('');
  const line = `<path d="${pts.join(' ')}" fill="none" stroke="${COLOR}" stroke-width="1.5" stroke-linejoin="miter"/>`;
  return svgDocument(opts.title, ax.svg + ticks + line);
}

/** One bar per label (e.g. per day of a month), each with a <title> giving its exact value. */
export function barChart(opts: { title: string; yLabel: string; labels: string[]; values: number[]; valueUnit?: string }): string {
  const max = Math.max(0, ...opts.values);
  const ax = yAxis(max, opts.yLabel);
  const slot = PLOT_W / Math.max(1, opts.values.length);
  const bars = opts.values
    .map((v, i) => {
      const top = ax.y(v);
      const h = M.top + PLOT_H - top;
      const label = `${opts.labels[i] ?? ''}: ${formatTick(v)}${opts.valueUnit ? ` ${opts.valueUnit}` : ''}`;
      return `<rect x="${n(M.left + i * slot + slot * 0.15)}" y="${n(top)}" width="${n(slot * 0.7)}" height="${n(h)}" fill="${COLOR}"><title>${escapeXml(label)}</title></rect>`;
    })
    .join('');
  // Label every bar when they fit, else every few.
  const every = Math.max(1, Math.ceil(opts.labels.length / 16));
  const labels = opts.labels
    .map((l, i) => (i % every === 0 ? `<text x="${n(M.left + (i + 0.5) * slot)}" y="${M.top + PLOT_H + 16}" text-anchor="middle">${escapeXml(l)}</text>` : ''))
    .join('');
  return svgDocument(opts.title, ax.svg + bars + labels);
}
