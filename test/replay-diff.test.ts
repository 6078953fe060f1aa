/**
 * The replay's text report shows where an expected and a served answer first differ: two long
 * outputs that share a long prefix used to be cut after the same prefix, so the "expected" and
 * "served" lines looked identical. Through the real replay on a cache on disk, then the cutting
 * itself at its edges.
 */
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../src/core/metrics.js';
import { firstDifference } from '../src/replay/first-difference.js';
import { replay } from '../src/replay/replay.js';
import { SimulatorTarget } from '../src/replay/targets.js';
import { reportText } from '../src/replay/text.js';
import { Simulator } from '../src/simulator/simulator.js';
import { cacheOf, tempDir, writeLog } from './helpers.js';

describe('the text report of answers that differ', () => {
  it('cuts expected and served where they first differ, with a caret there', async () => {
    const items = Array.from({ length: 40 }, (_, i) => ({ sku: `SKU-${i}`, price: 10 + i }));
    const recorded = { order: 'W1', items };
    const expected = { order: 'W1', items: items.map((item, i) => (i === 31 ? { ...item, price: 99 } : item)) };
    const cache = await cacheOf([{ server: 's', tool: 'order', arguments: { id: 'W1' }, output: recorded }]);
    const testSet = writeLog(tempDir(), 'test.jsonl', [{ server: 's', tool: 'order', arguments: { id: 'W1' }, output: expected }]);
    const simulator = new Simulator({ store: cache.store, metrics: createMetrics({ cacheCalls: () => 0, processMetrics: false }) });
    const report = await replay({ inputs: [testSet], target: new SimulatorTarget(simulator, cache.path), onProblem: () => {} });
    expect(report.overall.differing).toBe(1);

    const lines = reportText(report).split('\n');
    const e = lines.findIndex((l) => l.startsWith('    expected  '));
    const [expectedLine, servedLine, caretLine] = [lines[e]!, lines[e + 1]!, lines[e + 2]!];
    expect(servedLine.startsWith('    served    ')).toBe(true);
    // The differing item is far past the first 100 characters, and both lines show it.
    expect(JSON.stringify(recorded).indexOf('"price":41')).toBeGreaterThan(400);
    expect(expectedLine).toContain('"sku":"SKU-31","price":99');
    expect(servedLine).toContain('"sku":"SKU-31","price":41');
    expect(expectedLine).not.toBe(servedLine.replace('served  ', 'expected'));
    // The caret stands under the first character that differs, in both lines.
    const column = caretLine.indexOf('^');
    expect(expectedLine[column]).toBe('9');
    expect(servedLine[column]).toBe('4');
    expect(expectedLine.slice(0, column).replace('expected', 'served  ')).toBe(servedLine.slice(0, column));
    const at = JSON.stringify(expected).indexOf('99') + 1;
    expect(caretLine).toContain(`first difference at character ${at.toLocaleString('en-US')}`);
    expect(expectedLine.length).toBeLessThanOrEqual(14 + 100);
  });

  it('says when only is_error differs', async () => {
    const cache = await cacheOf([{ server: 's', tool: 't', arguments: { a: 1 }, output: 'not found', is_error: true }]);
    const testSet = writeLog(tempDir(), 'test.jsonl', [
      { server: 's', tool: 't', arguments: { a: 1 }, output: 'not found', is_error: false },
    ]);
    const simulator = new Simulator({ store: cache.store, metrics: createMetrics({ cacheCalls: () => 0, processMetrics: false }) });
    const report = await replay({ inputs: [testSet], target: new SimulatorTarget(simulator, cache.path), onProblem: () => {} });
    const text = reportText(report);
    expect(text).toContain('    expected          "not found"');
    expect(text).toContain('    served    (error) "not found"');
    expect(text).toContain('the same output; only is_error differs');
  });
});

describe('firstDifference', () => {
  it('shows short texts whole, the caret at the first difference', () => {
    expect(firstDifference('{"a":1}', '{"a":2}')).toEqual({ at: 5, expected: '{"a":1}', served: '{"a":2}', caret: '     ^' });
    // One a prefix of the other: the difference is where the shorter ends.
    expect(firstDifference('[1,2]', '[1,2,3]')).toMatchObject({ at: 4, caret: '    ^' });
    expect(firstDifference('"x"', '"x"')).toMatchObject({ at: -1, caret: '' });
  });

  it('cuts long texts around the difference, both at the same offset, within the width', () => {
    const prefix = 'x'.repeat(500);
    const result = firstDifference(`${prefix}A${'y'.repeat(500)}`, `${prefix}B${'y'.repeat(500)}`, 100);
    expect(result.at).toBe(500);
    expect(result.expected.length).toBe(100);
    expect(result.served.length).toBe(100);
    expect(result.expected.startsWith('…')).toBe(true);
    expect(result.expected.endsWith('…')).toBe(true);
    const column = result.caret.length - 1;
    expect([result.expected[column], result.served[column]]).toEqual(['A', 'B']);
  });

  it('never cuts a character in half (surrogate pairs)', () => {
    const emoji = '😀'.repeat(300);
    const result = firstDifference(`${emoji}A`, `${emoji}B`, 100);
    for (const text of [result.expected, result.served]) {
      expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
      expect(text.length).toBeLessThanOrEqual(100);
    }
    expect(result.expected[result.caret.length - 1]).toBe('A');
  });
});
