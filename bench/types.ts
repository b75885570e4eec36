/** What every benchmark module's `run()` returns; bench/run.ts prints and compares these. */
export interface BenchResult {
  name: string;
  /** One row per implementation measured; columns are free-form but shared by the rows. */
  rows: Array<Record<string, string | number>>;
  /** knude's figure divided by the baseline's (higher is better unless ratioLabel says otherwise). */
  ratio: number;
  ratioLabel: string;
}
