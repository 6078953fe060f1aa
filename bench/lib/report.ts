/** What each scenario hands back for RESULTS.md. */

export interface Figure {
  name: string;
  value: string;
  target: string;
  /** undefined when there is no target to meet. */
  met?: boolean;
}

export interface Section {
  title: string;
  figures: Figure[];
  /** Markdown lines: per-round numbers, setup, caveats. */
  details: string[];
}

export interface Mode {
  quick: boolean;
  /** Alternating rounds per comparison. */
  rounds: number;
  /** Seconds per side per round. */
  roundS: number;
  connections: number;
  ingestCalls: number;
  lookups: number;
  oneToolCalls: number;
  queries: number;
}

export const FULL: Mode = {
  quick: false,
  rounds: 5,
  roundS: 6,
  connections: 10,
  ingestCalls: 1_000_000,
  lookups: 100_000,
  oneToolCalls: 100_000,
  queries: 100,
};
export const QUICK: Mode = {
  quick: true,
  rounds: 2,
  roundS: 2,
  connections: 10,
  ingestCalls: 100_000,
  lookups: 20_000,
  oneToolCalls: 20_000,
  queries: 50,
};

export const verdict = (met: boolean | undefined): string => (met === undefined ? '' : met ? 'met' : '**missed**');
