/** Rough tokens in a text: about four characters per token for JSON and English. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);
