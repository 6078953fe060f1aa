/**
 * The ceiling for the exact tier: a bare Fastify route that answers each request with the bytes
 * toolsim serves for it, looked up in a Map by the request body. No validation, no canonical key,
 * no metrics. Usage: node bare.js ANSWERS.json PORT (ANSWERS: [[requestBody, answerBytes], ...]).
 */
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';

const [answersPath, port] = process.argv.slice(2);
if (!answersPath || !port) throw new Error('usage: bare.js ANSWERS.json PORT');
const pairs = JSON.parse(readFileSync(answersPath, 'utf8')) as [string, string][];
const answers = new Map<string, string>();
for (const [body, answer] of pairs) answers.set(JSON.stringify(JSON.parse(body)), answer);

const app = Fastify({ logger: false });
app.post('/v1/call', async (request, reply) => {
  const answer = answers.get(JSON.stringify(request.body));
  if (answer === undefined) return reply.code(404).send({ error: 'not recorded' });
  return reply.type('application/json; charset=utf-8').send(answer);
});
app.get('/readyz', async () => ({ status: 'ready' }));
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
