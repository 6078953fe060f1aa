/**
 * Deterministic changes to recorded arguments, for the neighbour check and benchmark: the kind of
 * near miss an agent makes (a typo, another letter case, a number off by a little, a flag flipped,
 * an item more or less in a list).
 */
import type { Json, JsonObject } from '../src/core/types.js';

export type Random = () => number;

/** mulberry32: a small seeded generator, so every run sees the same changes. */
export function seeded(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function mutateString(value: string, random: Random): string {
  if (value.length === 0) return pick(random, ALPHABET.split(''));
  const at = Math.floor(random() * value.length);
  const kind = pick(random, ['substitute', 'insert', 'delete', 'case', 'append'] as const);
  switch (kind) {
    case 'substitute': {
      const current = value[at]!;
      const choices = /[0-9]/.test(current) ? '0123456789' : /[A-Z]/.test(current) ? 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' : ALPHABET;
      let next = pick(random, choices.split(''));
      if (next === current) next = choices[(choices.indexOf(current) + 1) % choices.length]!;
      return value.slice(0, at) + next + value.slice(at + 1);
    }
    case 'insert':
      return value.slice(0, at) + pick(random, ALPHABET.split('')) + value.slice(at);
    case 'delete':
      return value.length > 1 ? value.slice(0, at) + value.slice(at + 1) : `${value}${value}`;
    case 'case': {
      const flipped = value === value.toUpperCase() ? value.toLowerCase() : value.toUpperCase();
      return flipped === value ? `${value} 2` : flipped;
    }
    case 'append':
      return `${value} ${pick(random, ['please', '2', 'x', 'now'])}`;
  }
}

export function mutateValue(value: Json, random: Random): Json {
  if (typeof value === 'string') return mutateString(value, random);
  if (typeof value === 'number')
    return Number.isInteger(value) ? value + (random() < 0.5 ? 1 : -1) : Math.round(value * 1.05 * 100) / 100 || 1;
  if (typeof value === 'boolean') return !value;
  if (value === null) return 0;
  if (Array.isArray(value)) {
    if (value.length === 0 || random() < 0.2) return [...value, value[0] ?? 'x'];
    const at = Math.floor(random() * value.length);
    return value.map((item, i) => (i === at ? mutateValue(item, random) : item));
  }
  const keys = Object.keys(value);
  if (keys.length === 0) return { x: 1 };
  const key = pick(random, keys);
  return { ...value, [key]: mutateValue(value[key]!, random) };
}

/** The arguments with one argument's value changed, and that argument's name. */
export function mutateArguments(args: JsonObject, random: Random): { arguments: JsonObject; changed: string } | undefined {
  const names = Object.keys(args);
  if (names.length === 0) return undefined;
  const changed = pick(random, names);
  return { arguments: { ...args, [changed]: mutateValue(args[changed]!, random) }, changed };
}
