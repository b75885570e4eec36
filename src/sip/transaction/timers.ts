/** RFC 3261 17.1.1.1 timer values, in ms. Overridable so tests and LAN deployments can shorten them. */
export interface TimerValues {
  T1: number;
  T2: number;
  T4: number;
}

export const DEFAULT_TIMERS: TimerValues = { T1: 500, T2: 4000, T4: 5000 };

/** The timers one transaction runs; all are cancelled together when it ends. */
export class TimerSet {
  private list: NodeJS.Timeout[] = [];

  after(ms: number, fn: () => void): void {
    this.list.push(setTimeout(fn, ms));
  }

  clear(): void {
    for (const t of this.list) clearTimeout(t);
    this.list = [];
  }
}
