/** Terminal output: aligned tables and a progress line that rewrites itself. */

export type Cell = string | number;

/** Text that reads as a number: `12.5`, `99.0%`, `1,024`, or `-` for none. */
const NUMBER_LIKE = /^(-|-?[\d,]+(\.\d+)?%?)$/;

/** Columns are right-aligned when every value below the header is a number (or reads as one). */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const numeric = headers.map(
    (_, i) => rows.length > 0 && rows.every((row) => typeof row[i] === 'number' || NUMBER_LIKE.test(String(row[i] ?? ''))),
  );
  const text = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? formatNumber(cell) : cell)));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '─'.repeat(w))), ...text.map(line)].join('\n');
}

export function formatNumber(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 3 });
}

export function percent(part: number, whole: number): string {
  return whole === 0 ? '-' : `${((100 * part) / whole).toFixed(1)}%`;
}

/** Writes `text` over the current terminal line (no newline), or nothing when not a terminal. */
export function progressLine(stream: NodeJS.WriteStream, text: string): void {
  if (!stream.isTTY) return;
  stream.write(`\r\x1b[2K${text}`);
}

export function clearProgress(stream: NodeJS.WriteStream): void {
  if (stream.isTTY) stream.write('\r\x1b[2K');
}

/** Writes a problem line to `stream` on a line of its own, clearing any progress line first. */
export function writeProblem(message: string, stream: NodeJS.WriteStream = process.stderr): void {
  clearProgress(stream);
  stream.write(`${message}\n`);
}

/** `count` per second over `seconds`, rounded, for progress and summary lines. */
export function perSecond(count: number, seconds: number): string {
  return formatNumber(Math.round(count / Math.max(seconds, 1e-3)));
}
