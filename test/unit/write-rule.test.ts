/**
 * Which tools write: the flags first, then MCP annotations, then the name rule; the name rule held
 * against the annotations the shared datasets carry (where it disagrees, it errs towards writing).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { nameWords, WriteRule, writesByName } from '../support/units.js';

const DATASETS = ['/work/shared/datasets/tau-bench/tools.jsonl', '/work/shared/datasets/api-bank/tools.jsonl'];
const TOOLS_OF_SAMPLES = ['cache/samples/tau-bench/tools.jsonl', 'cache/samples/api-bank/tools.jsonl'];

describe('the write rule', () => {
  const rule = new WriteRule();

  it('reads MCP annotations: readOnlyHint false or destructiveHint true writes, readOnlyHint true reads', () => {
    expect(rule.classify('s', 'get_thing', { readOnlyHint: false })).toMatchObject({ writes: true, reason: 'annotations' });
    expect(rule.classify('s', 'get_thing', { readOnlyHint: true, destructiveHint: true })).toMatchObject({
      writes: true,
      reason: 'annotations',
    });
    expect(rule.classify('s', 'delete_thing', { readOnlyHint: true })).toMatchObject({ writes: false, reason: 'annotations' });
    // Annotations that say nothing of reading or writing leave it to the name.
    expect(rule.classify('s', 'delete_thing', { openWorldHint: true, idempotentHint: true })).toMatchObject({
      writes: true,
      reason: 'name',
    });
    for (const odd of [undefined, null, 'readOnly', [true], { readOnlyHint: 'false' }])
      expect(rule.classify('s', 'get_thing', odd)).toMatchObject({ writes: false, reason: 'name' });
  });

  it('reads verbs in names: a reading first word reads, a writing verb anywhere else writes, nothing known reads', () => {
    expect(nameWords('modify_pending_order_items')).toEqual(['modify', 'pending', 'order', 'items']);
    expect(nameWords('AddAgenda')).toEqual(['add', 'agenda']);
    expect(nameWords('getHTTPStatus')).toEqual(['get', 'http', 'status']);
    expect(nameWords('calendar.events-delete')).toEqual(['calendar', 'events', 'delete']);
    for (const name of ['cancel_pending_order', 'AddReminder', 'book_reservation', 'calendarEventsDelete', 'user.update', 'send_email'])
      expect(writesByName(name), name).toMatchObject({ writes: true });
    for (const name of ['get_order_details', 'QueryBalance', 'search_direct_flight', 'get_cancellation_status', 'think', 'Wiki', ''])
      expect(writesByName(name), name).toMatchObject({ writes: false });
    expect(writesByName('cancel_pending_order').why).toBe('its name holds "cancel", a writing verb');
  });

  it('lets --write-tools and --read-only-tools override everything, on the name or server/name, write winning a tie', () => {
    const flagged = new WriteRule({ writeTools: '^(think|retail/calculate)$', readOnlyTools: 'transfer|think' });
    expect(flagged.classify('retail', 'think', { readOnlyHint: true })).toMatchObject({ writes: true, reason: 'write_tools' });
    expect(flagged.classify('retail', 'calculate', undefined)).toMatchObject({ writes: true, reason: 'write_tools' });
    expect(flagged.classify('airline', 'calculate', undefined)).toMatchObject({ writes: false, reason: 'name' });
    expect(flagged.classify('s', 'Transfer_To_Human', { readOnlyHint: false })).toMatchObject({
      writes: false,
      reason: 'read_only_tools',
      why: 'it matches --read-only-tools transfer|think',
    });
    expect(() => new WriteRule({ writeTools: '(' })).toThrow(/--write-tools "\(" is not a regular expression/);
    expect(() => new WriteRule({ readOnlyTools: '[' })).toThrow(/--read-only-tools/);
    // Empty patterns are no pattern.
    expect(new WriteRule({ writeTools: '', readOnlyTools: '' }).classify('s', 'get_x', undefined).reason).toBe('name');
  });

  it('agrees with the annotations of the shared datasets on most tools, and never calls a write a read where it can help it', () => {
    const files = DATASETS.concat(TOOLS_OF_SAMPLES);
    let tools = 0;
    let agree = 0;
    const writesReadByName: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
        const record = JSON.parse(line) as { tool: string; annotations?: { readOnlyHint?: boolean } };
        const hint = record.annotations?.readOnlyHint;
        if (hint === undefined) continue;
        tools++;
        const byName = writesByName(record.tool).writes;
        if (byName === !hint) agree++;
        else if (!hint) writesReadByName.push(record.tool);
      }
    }
    if (tools === 0) return;
    expect(agree / tools).toBeGreaterThan(0.9);
    // The writes the names cannot tell (a noun for a name): listed, so a change to the rule shows here.
    expect([...new Set(writesReadByName)].sort()).toEqual(['AppointmentRegistration', 'ForgotPassword']);
  });
});
