/**
 * The long run's section of bench/RESULTS.md: written by `npm run soak -- --long --write`, kept as
 * it is by `npm run bench` (which writes the rest of the file), from its marker to the end.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export const LONG_RUN_MARKER = '<!-- long run: written by `npm run soak -- --long --write`, kept by `npm run bench` -->';

/** The long-run section of the results file at `path`, if it has one (from the marker to the end). */
export function keptLongRunSection(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  const at = text.indexOf(LONG_RUN_MARKER);
  return at < 0 ? undefined : text.slice(at);
}

/** Replaces (or appends) the long-run section of the results file at `path`. */
export function writeLongRunSection(path: string, section: string): void {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const at = text.indexOf(LONG_RUN_MARKER);
  const before = (at < 0 ? text : text.slice(0, at)).replace(/\n*$/, '\n\n');
  writeFileSync(path, `${before}${LONG_RUN_MARKER}\n${section.replace(/\n*$/, '\n')}`);
}
