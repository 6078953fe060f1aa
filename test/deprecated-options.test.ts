/** Renamed options: the former flag and environment variable still work, each with a deprecation line. */
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseArgsOptions, resolveConfig } from '../src/config.js';

const NAMES = ['lruMb', 'lruSize'] as const;
const parse = (args: string[]) => parseArgs({ args, options: parseArgsOptions([...NAMES]), strict: true }).values;

describe('renamed options', () => {
  it('reads --cache-mb and --cache-size as --lru-mb and --lru-size, saying so', () => {
    const lines: string[] = [];
    const config = resolveConfig(NAMES, parse(['--cache-mb', '12', '--cache-size', '34']), {}, (l) => lines.push(l));
    expect(config).toEqual({ lruMb: 12, lruSize: 34 });
    expect(lines).toEqual(['toolsim: --cache-mb is deprecated; use --lru-mb', 'toolsim: --cache-size is deprecated; use --lru-size']);
  });

  it('reads TOOLSIM_CACHE_MB and TOOLSIM_CACHE_SIZE, saying so, and names them in errors', () => {
    const lines: string[] = [];
    const config = resolveConfig(NAMES, parse([]), { TOOLSIM_CACHE_MB: '7', TOOLSIM_CACHE_SIZE: '9' }, (l) => lines.push(l));
    expect(config).toEqual({ lruMb: 7, lruSize: 9 });
    expect(lines).toEqual([
      'toolsim: TOOLSIM_CACHE_MB is deprecated; use TOOLSIM_LRU_MB',
      'toolsim: TOOLSIM_CACHE_SIZE is deprecated; use TOOLSIM_LRU_SIZE',
    ]);
    expect(() => resolveConfig(['lruMb'], parse([]), { TOOLSIM_CACHE_MB: 'lots' }, () => {})).toThrow(
      /TOOLSIM_CACHE_MB must be a whole number/,
    );
    expect(() => resolveConfig(['lruMb'], parse(['--cache-mb', '0']), {}, () => {})).toThrow(/--cache-mb must be between 1/);
  });

  it('prefers the current names, silently, and falls back to the defaults', () => {
    const lines: string[] = [];
    const both = resolveConfig(
      NAMES,
      parse(['--lru-mb', '5', '--cache-mb', '6']),
      { TOOLSIM_LRU_SIZE: '3', TOOLSIM_CACHE_SIZE: '4' },
      (l) => lines.push(l),
    );
    expect(both).toEqual({ lruMb: 5, lruSize: 3 });
    expect(lines).toEqual([]);
    expect(resolveConfig(NAMES, parse([]), {}, (l) => lines.push(l))).toEqual({ lruMb: 48, lruSize: 100_000 });
    expect(lines).toEqual([]);
  });
});
