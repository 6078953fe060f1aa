/**
 * The text a call of a named rollout is remembered by in the simulator's request memo: its body's
 * text without the `trajectory_id` member. The memo maps a text to the call it makes (server, tool,
 * source trajectory, arguments), which the rollout's name is no part of; keyed by the whole body, the
 * sibling rollouts of one task making the same call (and one rollout's every call, as each names
 * it) would each parse, normalize and hash it again, and fill the memo with texts that never repeat.
 *
 * Only a member spelled as JSON.stringify spells it, with or without the spaces Python's json.dumps
 * puts in, as the object's first or last member, is cut: there the text's own structure proves it
 * is the top-level member (its quotes are not escaped, so they delimit the key and the value; the
 * body's first `{` or last `}` encloses it) and that its value is the `trajectory_id` the body was
 * parsed to. What is left makes the same call, so two bodies that leave the same text make the same
 * call. Anything else: undefined (the caller remembers the call by its own JSON text instead).
 */
const KEY = '"trajectory_id":';
const KEY_SPACED = '"trajectory_id": ';

export function withoutTrajectoryId(text: string, id: string): string | undefined {
  if (text.length < 2 || text.charCodeAt(text.length - 1) !== 0x7d /* } */ || text.charCodeAt(0) !== 0x7b /* { */) return undefined;
  const value = JSON.stringify(id);
  // Last member: `,"trajectory_id":"…"}` or `, "trajectory_id": "…"}`.
  for (const member of [`,${KEY}${value}}`, `, ${KEY_SPACED}${value}}`])
    if (text.length > member.length && text.endsWith(member)) return `${text.slice(0, text.length - member.length)}}`;
  // First member: `{"trajectory_id":"…",` or `{"trajectory_id": "…", `.
  for (const member of [`{${KEY}${value},`, `{${KEY_SPACED}${value}, `])
    if (text.length > member.length && text.startsWith(member)) return `{${text.slice(member.length)}`;
  return undefined;
}
