/** `toolsim explain`: the key, tier, neighbours and prompt of one call, without calling the LLM. */
import { FUZZY_OPTIONS, ROLLOUT_OPTIONS, resolveConfig } from '../config.js';
import { ConfigError } from '../core/errors.js';
import { table } from '../core/format.js';
import { stringifyJson, stringifyJsonIndented } from '../core/json-text.js';
import { createMetrics } from '../core/metrics.js';
import { createRollouts } from '../rollouts/create.js';
import { Simulator } from '../simulator/simulator.js';
import { Store } from '../store/store.js';
import { createFuzzy } from '../tiers/fuzzy/fuzzy-tier.js';
import type { Command } from './command.js';

const EXPLAIN_OPTIONS = [
  'db',
  'tool',
  'callServer',
  'arguments',
  'json',
  'repeatPolicy',
  'neighbors',
  ...FUZZY_OPTIONS,
  ...ROLLOUT_OPTIONS,
] as const;

export const explainCommand: Command = {
  usage: "toolsim explain --tool NAME [--server NAME] --arguments '{...}' [--db PATH] [--json]",
  summary: 'show the key, tier, neighbours and LLM prompt of a call, without calling the LLM',
  options: EXPLAIN_OPTIONS,
  async run(values) {
    const config = resolveConfig(EXPLAIN_OPTIONS, values);
    if (config.tool === '') throw new ConfigError('explain needs --tool');
    const store = Store.open(config.db, { readonly: true });
    const fuzzy = createFuzzy(config);
    // Only for what the write rule says of the tool: a call on its own has no rollout state.
    const { rollouts } = createRollouts(config);
    try {
      const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
      const simulator = new Simulator({
        store,
        metrics,
        repeatPolicy: config.repeatPolicy,
        neighbors: config.neighbors,
        fuzzy: fuzzy.tier,
        rollouts,
      });
      const explanation = simulator.explain({
        ...(config.callServer === '' ? {} : { server: config.callServer }),
        tool: config.tool,
        arguments: config.arguments,
      });
      if (config.json) {
        process.stdout.write(`${stringifyJsonIndented(explanation, 2, true)}\n`);
        return 0;
      }
      const lines = [
        `call     ${explanation.server} / ${explanation.tool} ${stringifyJson(explanation.arguments, true)}`,
        `key      ${explanation.key}`,
        `tier     ${explanation.tier}${explanation.reason ? ` (${explanation.reason})` : ''}${explanation.memoized ? ', memoized' : ''}`,
        `why      ${explanation.why}`,
        ...(explanation.writes ? [`writes   ${explanation.writes.writes ? 'yes' : 'no'}: ${explanation.writes.why}`] : []),
        '',
        explanation.neighbors.length === 0
          ? 'neighbours: none'
          : table(
              ['similarity', 'arguments'],
              explanation.neighbors.map((n) => [n.similarity.toFixed(4), stringifyJson(n.arguments, true)]),
            ),
      ];
      if (explanation.output) {
        const { guard, schema, disagreements, problem } = explanation.output;
        const held =
          guard === 'declared'
            ? "the tool's declared output schema"
            : guard === 'learnt'
              ? `the shape learnt from ${String(schema?.['answers'] ?? 0)} recorded answer(s), as JSON Schema (x-seen: how many had this)`
              : 'nothing (no declared output schema, no recorded answer)';
        lines.push('', `an improvised answer is held to ${held}${problem ? ` (${problem})` : ''}:`);
        if (schema) lines.push(JSON.stringify(schema, null, 2));
        if (disagreements && disagreements.length > 0)
          lines.push('where the recordings disagree (each shape is allowed):', ...disagreements.map((d) => `  ${d}`));
      }
      if (explanation.prompt) {
        lines.push(
          '',
          `prompt (${explanation.prompt.version}, ${explanation.prompt.examples} example(s)); system, cached:`,
          '',
          explanation.prompt.system,
          '',
          'user:',
          '',
          explanation.prompt.user,
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    } finally {
      await fuzzy.close();
      await rollouts.close();
      store.close();
    }
  },
};
