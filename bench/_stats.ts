/** Summaries the benches share: machines are noisy, so the tables show medians and percentiles. */

/** The value at quantile `p` (0..1) of `xs`: the upper one of two middles, no interpolation. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!;
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 0.5);
}
