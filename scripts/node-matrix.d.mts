/** The Node versions CI runs: the lowest and highest published version of each range of `engines`. */
export function nodeMatrix(engines: string, versions: readonly string[]): string[];
