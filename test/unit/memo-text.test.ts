/**
 * The text a call of a named rollout is remembered by: its body without the `trajectory_id` member,
 * cut only where the text itself proves that member is the top-level one the body was parsed to.
 */
import { describe, expect, it } from 'vitest';
import { parseJson, withoutTrajectoryId } from '../support/units.js';

/** What the body parser hands the simulator: the parsed `trajectory_id`, and the text cut by it. */
const cut = (text: string): string | undefined => {
  const body = parseJson(text, 'value') as { trajectory_id: string };
  return withoutTrajectoryId(text, body.trajectory_id);
};
const callOf = (text: string): unknown => {
  const { trajectory_id: _, ...call } = parseJson(text, 'value') as Record<string, unknown>;
  return call;
};

describe('the request memo text of a rollout call', () => {
  it('cuts trajectory_id as the last or the first member, as JSON.stringify and json.dumps spell it', () => {
    const plain = '{"server":"shop","tool":"get_order","arguments":{"order_id":"#2"}}';
    expect(cut('{"server":"shop","tool":"get_order","arguments":{"order_id":"#2"},"trajectory_id":"r-17"}')).toBe(plain);
    expect(cut('{"trajectory_id":"r-17","server":"shop","tool":"get_order","arguments":{"order_id":"#2"}}')).toBe(plain);
    const dumped = '{"server": "shop", "tool": "get_order", "arguments": {"order_id": "#2"}}';
    expect(cut('{"server": "shop", "tool": "get_order", "arguments": {"order_id": "#2"}, "trajectory_id": "r-17"}')).toBe(dumped);
    expect(cut('{"trajectory_id": "r-17", "server": "shop", "tool": "get_order", "arguments": {"order_id": "#2"}}')).toBe(dumped);
    // Sibling rollouts leave one text; an id that needs escaping is cut as JSON spells it.
    const a = cut('{"tool":"t","arguments":{},"trajectory_id":"a"}');
    expect(a).toBe(cut('{"tool":"t","arguments":{},"trajectory_id":"b"}'));
    expect(cut('{"tool":"t","arguments":{},"trajectory_id":"say \\"hi\\"\\n"}')).toBe(a);
  });

  it('leaves the text alone (undefined) where it cannot prove which member it would cut', () => {
    for (const text of [
      // In the middle, or spelled otherwise: the caller keys the call by its own JSON text.
      '{"tool":"t","trajectory_id":"a","arguments":{}}',
      '{"tool":"t","arguments":{},"trajectory_id":"\\u0061"}',
      '{"tool":"t","arguments":{},"trajectory_\\u0069d":"a"}',
      '{"tool":"t","arguments":{} ,"trajectory_id" : "a"}',
      '{"tool":"t","arguments":{},"trajectory_id":"a"}\n',
      ' {"trajectory_id":"a","tool":"t","arguments":{}}',
      // The only member.
      '{"trajectory_id":"a"}',
    ])
      expect(cut(text), text).toBeUndefined();
    // A key of the same name inside the arguments is never the one cut.
    expect(withoutTrajectoryId('{"tool":"t","arguments":{"trajectory_id":"a"}}', 'a')).toBeUndefined();
    // A string value that ends like the member, its quotes escaped, is not it.
    expect(withoutTrajectoryId('{"tool":"t","arguments":{},"q":"x\\",\\"trajectory_id\\":\\"a"}', 'a')).toBeUndefined();
    expect(withoutTrajectoryId('{"q":"{\\"trajectory_id\\":\\"a\\",","tool":"t","arguments":{}}', 'a')).toBeUndefined();
  });

  it('never gives two bodies that make different calls the same text', () => {
    const bodies = [
      '{"tool":"t","arguments":{"k":1},"trajectory_id":"a"}',
      '{"tool":"t","arguments":{"k":2},"trajectory_id":"a"}',
      '{"tool":"t","arguments":{"k":1},"source_trajectory_id":"s","trajectory_id":"a"}',
      '{"trajectory_id":"a","tool":"t","arguments":{"k":1},"source_trajectory_id":"s"}',
      '{"tool":"t","arguments":{"trajectory_id":"a"},"trajectory_id":"a"}',
      '{"tool":"t","arguments":{},"trajectory_id":"a"}',
      // Duplicate keys: the parser keeps the last, and only the last is cut; the first stays in the text.
      '{"tool":"t","arguments":{},"trajectory_id":"x","trajectory_id":"a"}',
      '{"trajectory_id":"a","tool":"t","arguments":{},"trajectory_id":"a"}',
      '{"server":"s","tool":"t","arguments":{},"trajectory_id":"a"}',
    ];
    const byText = new Map<string, unknown>();
    for (const body of bodies) {
      const text = cut(body);
      expect(text, body).toBeDefined();
      // What is left parses to the same call, and a text stands for one call only.
      expect(callOf(text!), body).toEqual(callOf(body));
      const seen = byText.get(text!);
      if (seen !== undefined) expect(callOf(body), body).toEqual(seen);
      byText.set(text!, callOf(body));
    }
  });
});
