import { describe, expect, it } from 'vitest';
import { buildPrompt, estimateTokens, learnShape, PROMPT_VERSION, retryNote } from '../support/units.js';

const tool = { server: 'weather', tool: 'get_weather', description: 'Current weather', input_schema: { type: 'object' } };
const example = (city: string, similarity: number, pad = 0) => ({
  arguments: { city },
  outputJson: JSON.stringify({ city, note: 'n'.repeat(pad) }),
  isError: false,
  similarity,
});

describe('prompt fitting', () => {
  it('puts the tool in the system part and the examples, most similar first, then the new call in the user part', () => {
    const prompt = buildPrompt(tool, [example('Paris', 0.9), example('Berlin', 0.5)], { city: 'Pariss' }, 10_000);
    expect(prompt).toMatchObject({ version: PROMPT_VERSION, examples: 2, fits: true });
    expect(prompt.system).toContain('Tool: get_weather');
    expect(prompt.system).toContain('Description: Current weather');
    expect(prompt.user.indexOf('Paris"')).toBeLessThan(prompt.user.indexOf('Berlin'));
    expect(prompt.user).toContain('Example 1 (similarity 0.90)');
    expect(prompt.user.endsWith('through the respond tool.')).toBe(true);
    expect(prompt.user).toContain('arguments: {"city":"Pariss"}');
  });

  it('skips an example that does not fit whole and keeps a later one that does: no JSON is cut', () => {
    const base = buildPrompt(tool, [], { city: 'X' }, 1e9);
    const budget = estimateTokens(base.system) + estimateTokens(base.user) + 60;
    const prompt = buildPrompt(tool, [example('Huge', 0.9, 4_000), example('Small', 0.8)], { city: 'X' }, budget);
    expect(prompt.examples).toBe(1);
    expect(prompt.user).not.toContain('Huge');
    expect(prompt.user).toContain('"city":"Small"');
    expect(prompt.fits).toBe(true);
  });

  it('does not fit when examples were offered and none fits, or when the budget is below the instructions', () => {
    expect(buildPrompt(tool, [example('Huge', 0.9, 4_000)], { city: 'X' }, 500).fits).toBe(false);
    expect(buildPrompt(tool, [], { city: 'X' }, 10).fits).toBe(false);
  });

  it('a tool nobody recorded is answered from its description alone', () => {
    const prompt = buildPrompt(tool, [], { city: 'X' }, 10_000);
    expect(prompt).toMatchObject({ examples: 0, fits: true });
    expect(prompt.user).toContain('No call of the tool "get_weather" was recorded');
  });

  it('estimates about four characters a token, and the retry note names the reason', () => {
    expect(estimateTokens('')).toBe(0);
    expect(estimateTokens('abcde')).toBe(2);
    expect(retryNote('the output is a string')).toContain('rejected: the output is a string.');
  });

  it('shows what the answer must fit in the system part: the declared schema, else the learnt shape within a quarter of the budget', () => {
    const shape = learnShape([
      { output: { city: 'Paris', temp: 18, days: [{ high: 18, sky: 'sunny' }] }, isError: false },
      { output: 'Error: unknown city', isError: true },
    ]);
    const learnt = buildPrompt(tool, [example('Paris', 0.9)], { city: 'Pariss' }, 10_000, { shape });
    expect(learnt.system).toContain('Output shape, learnt from 2 recorded answer(s)');
    expect(learnt.system).toContain('Successful answers: {"type":"object","properties":{"city":{"type":"string"}');
    expect(learnt.system).toContain('"required":["city","temp","days"]');
    expect(learnt.system).toContain('Errors (an error may also be a plain message): {"type":"string"}');
    const declared = buildPrompt(tool, [example('Paris', 0.9)], { city: 'Pariss' }, 10_000, { declared: { type: 'object' }, shape });
    expect(declared.system).toContain('Output schema (declared by the tool; a successful answer must fit it): {"type":"object"}');
    expect(declared.system).not.toContain('Output shape');
    // A smaller budget shows the shallow levels only (a quarter of 480 tokens, halved between successes and errors).
    const small = buildPrompt(tool, [example('Paris', 0.9)], { city: 'Pariss' }, 480, { shape });
    expect(small.system).toContain(
      '"days":{"type":"array","items":{"type":"object","properties":{"high":{},"sky":{}},"required":["high","sky"]}}',
    );
    // Nothing learnt, nothing declared: no section.
    expect(buildPrompt(tool, [], { city: 'X' }, 10_000, {}).system).not.toContain('Output');
  });
});
