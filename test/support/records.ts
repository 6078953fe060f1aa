/**
 * Recordings tests share (log records as `toolsim ingest` reads them, docs/log-format.md). Build
 * others inline when their shape is the point of the test.
 */

export interface WeatherOptions {
  /** The `unit` argument (default `C`). */
  unit?: string;
  /** Repeat the unit in the output (`{city, temp, unit}` instead of `{city, temp}`). */
  unitInOutput?: boolean;
}

/** A recorded `get_weather` call of the `weather` server. */
export function weatherRecord(city: string, temp: number, options: WeatherOptions = {}): object {
  const unit = options.unit ?? 'C';
  return {
    server: 'weather',
    tool: 'get_weather',
    arguments: { city, unit },
    output: options.unitInOutput ? { city, temp, unit } : { city, temp },
  };
}

/** A `get_weather` call (no output), as a client posts it. */
export function weatherCall(city: string, unit = 'C'): object {
  return { server: 'weather', tool: 'get_weather', arguments: { city, unit } };
}

/** A recorded `get` of the `kv` server: key `k<i>`. */
export function kvRecord(i: number, output: unknown, extraArguments: object = {}): object {
  return { server: 'kv', tool: 'get', arguments: { key: `k${i}`, ...extraArguments }, output };
}
