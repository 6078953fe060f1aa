/**
 * Where an expected and a served answer first differ, for the replay's text report: both JSON texts
 * cut around the same offset, so the lines shown differ where the answers do (two long outputs cut
 * after the same prefix looked identical), with a caret under the first differing character.
 */

export interface FirstDifference {
  /** Offset (UTF-16 units) of the first differing character of the two texts; -1 when they are equal. */
  at: number;
  expected: string;
  served: string;
  /** Spaces then `^`, under the first differing character of the two lines above. */
  caret: string;
}

/** Characters shown before the first difference, when the texts are longer than `width`. */
const LEAD = 40;

const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/** The window of `text` from `start`, `width` characters at most, with `…` where it is cut. */
function window(text: string, start: number, width: number): string {
  const cutStart = start > 0;
  const room = width - (cutStart ? 1 : 0);
  let end = Math.min(text.length, start + room);
  if (end < text.length) {
    end -= 1; // room for the trailing …
    if (isLowSurrogate(text.charCodeAt(end))) end -= 1; // never half a pair
  }
  return `${cutStart ? '…' : ''}${text.slice(start, end)}${end < text.length ? '…' : ''}`;
}

/** The two texts around their first difference, each at most `width` characters. */
export function firstDifference(expected: string, served: string, width = 100): FirstDifference {
  let at = 0;
  const shorter = Math.min(expected.length, served.length);
  while (at < shorter && expected.charCodeAt(at) === served.charCodeAt(at)) at++;
  if (at === shorter && expected.length === served.length)
    return { at: -1, expected: window(expected, 0, width), served: window(served, 0, width), caret: '' };
  let start = at < width - 10 ? 0 : at - LEAD;
  if (start > 0 && isLowSurrogate(expected.charCodeAt(start))) start -= 1;
  const column = at - start + (start > 0 ? 1 : 0);
  return { at, expected: window(expected, start, width), served: window(served, start, width), caret: `${' '.repeat(column)}^` };
}
