/** The `toolsim COMMAND` contract: usage, the options it reads, and what it runs. */
import type { OptionName } from '../config.js';

export type ParsedValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface Command {
  usage: string;
  summary: string;
  options: readonly OptionName[];
  positionals?: boolean;
  /** The exit code, or -1 for a command that keeps running until a signal. */
  run(values: ParsedValues, positionals: string[]): Promise<number>;
}
