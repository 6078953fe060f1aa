/**
 * Which tools write: the rule that decides whether an improvised answer changes a rollout's state
 * (docs/canonical-key.md, "State within a rollout"). In order, the first that speaks decides:
 *
 * 1. `--write-tools REGEX` and `--read-only-tools REGEX` (tested, case-insensitive, against the tool
 *    name and against `server/tool`); a tool both match writes.
 * 2. The tool's MCP annotations: `destructiveHint: true` or `readOnlyHint: false` writes;
 *    `readOnlyHint: true` reads.
 * 3. Its name: a name whose first word is a reading verb (get, list, search, ...) reads; else a name
 *    with a writing verb among its words (add, book, cancel, update, ...) writes; else it reads.
 *
 * Where the rule is unsure, it errs towards writing: a read counted as a write costs improvisations
 * later in the rollout, while a write counted as a read serves the rollout recordings of a world it
 * has changed.
 */
import { ConfigError } from '../core/errors.js';

/** Why a tool counts as a write or a read. */
export type WriteReason = 'write_tools' | 'read_only_tools' | 'annotations' | 'name';

export interface WriteVerdict {
  readonly writes: boolean;
  readonly reason: WriteReason;
  /** One sentence for `toolsim tools` and `explain`. */
  readonly why: string;
}

export interface WriteRuleOptions {
  /** `--write-tools`: tools matching it write, whatever else says. */
  writeTools?: string | undefined;
  /** `--read-only-tools`: tools matching it read, unless `writeTools` matches too. */
  readOnlyTools?: string | undefined;
}

/** Verbs that, as a name's first word, make a tool a read. */
const READ_VERBS = new Set([
  'get',
  'list',
  'search',
  'find',
  'query',
  'fetch',
  'read',
  'lookup',
  'look',
  'show',
  'describe',
  'view',
  'retrieve',
  'check',
  'count',
  'calculate',
  'compute',
  'estimate',
  'validate',
  'verify',
  'browse',
  'explain',
  'preview',
  'think',
  'is',
  'has',
  'can',
]);

/** Verbs that, among a name's words, make a tool a write (unless it starts with a reading verb). */
const WRITE_VERBS = new Set([
  'add',
  'append',
  'apply',
  'approve',
  'archive',
  'assign',
  'book',
  'buy',
  'cancel',
  'change',
  'charge',
  'clear',
  'close',
  'confirm',
  'create',
  'delete',
  'deposit',
  'disable',
  'drop',
  'edit',
  'enable',
  'exchange',
  'grant',
  'insert',
  'invite',
  'mark',
  'merge',
  'modify',
  'move',
  'open',
  'order',
  'patch',
  'pay',
  'post',
  'publish',
  'purchase',
  'put',
  'record',
  'refund',
  'register',
  'reject',
  'remove',
  'rename',
  'replace',
  'reserve',
  'reset',
  'return',
  'revoke',
  'save',
  'schedule',
  'send',
  'set',
  'start',
  'stop',
  'store',
  'submit',
  'subscribe',
  'switch',
  'toggle',
  'transfer',
  'turn',
  'unsubscribe',
  'update',
  'upload',
  'upsert',
  'withdraw',
  'write',
]);

/** A name's words, lower-cased: snake_case, kebab-case, dotted, camelCase and PascalCase alike. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** The name rule alone (step 3). */
export function writesByName(tool: string): WriteVerdict {
  const words = nameWords(tool);
  const first = words[0];
  if (first !== undefined && READ_VERBS.has(first))
    return { writes: false, reason: 'name', why: `its name starts with "${first}", a reading verb` };
  const verb = words.find((w) => WRITE_VERBS.has(w));
  if (verb !== undefined) return { writes: true, reason: 'name', why: `its name holds "${verb}", a writing verb` };
  return { writes: false, reason: 'name', why: 'its name holds no writing verb' };
}

function compile(flag: string, source: string | undefined): RegExp | undefined {
  if (source === undefined || source === '') return undefined;
  try {
    return new RegExp(source, 'i');
  } catch (error) {
    throw new ConfigError(`--${flag} ${JSON.stringify(source)} is not a regular expression (${(error as Error).message})`);
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export class WriteRule {
  readonly #write: RegExp | undefined;
  readonly #readOnly: RegExp | undefined;

  /** Throws, naming the flag, when a pattern is not a regular expression. */
  constructor(options: WriteRuleOptions = {}) {
    this.#write = compile('write-tools', options.writeTools);
    this.#readOnly = compile('read-only-tools', options.readOnlyTools);
  }

  /** Whether `server`'s `tool` writes, given its annotations as the catalog holds them (anything, or undefined). */
  classify(server: string, tool: string, annotations: unknown): WriteVerdict {
    const qualified = `${server}/${tool}`;
    const matches = (re: RegExp | undefined): boolean => re !== undefined && (re.test(tool) || re.test(qualified));
    if (matches(this.#write)) return { writes: true, reason: 'write_tools', why: `it matches --write-tools ${this.#write!.source}` };
    if (matches(this.#readOnly))
      return { writes: false, reason: 'read_only_tools', why: `it matches --read-only-tools ${this.#readOnly!.source}` };
    if (isRecord(annotations)) {
      if (annotations['destructiveHint'] === true)
        return { writes: true, reason: 'annotations', why: 'its annotations say destructiveHint: true' };
      if (annotations['readOnlyHint'] === false)
        return { writes: true, reason: 'annotations', why: 'its annotations say readOnlyHint: false' };
      if (annotations['readOnlyHint'] === true)
        return { writes: false, reason: 'annotations', why: 'its annotations say readOnlyHint: true' };
    }
    return writesByName(tool);
  }
}
