/** Tier 2 while no LLM is configured: passes every call on as `fuzzy_disabled`. */
import { pass, type Outcome, type Tier } from './tier.js';

export class DisabledFuzzyTier implements Tier {
  readonly name = 'fuzzy';

  resolve(): Outcome {
    return pass('fuzzy_disabled');
  }
}
