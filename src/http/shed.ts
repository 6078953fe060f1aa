/**
 * Live load shedding. @fastify/under-pressure samples the event-loop delay once a second; a burst
 * of requests read in one loop turn is admitted whole before the next sample, and a server that
 * admits everything collapses into a queue of work nobody waits for. This watches the lag as it
 * happens: a timer that should fire every few milliseconds, and a request that arrives while that
 * timer is already late by more than `maxLagMs` is refused at once with 503 + Retry-After.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { sendError } from './errors.js';

const TICK_MS = 10;

export interface ShedOptions {
  maxLagMs: number;
  retryAfterSeconds: number;
  /** Routes that are never shed (liveness, metrics). */
  exempt: (request: FastifyRequest) => boolean;
}

export function registerLagShedding(app: FastifyInstance, options: ShedOptions): void {
  let expected = performance.now() + TICK_MS;
  const timer = setInterval(() => {
    expected = performance.now() + TICK_MS;
  }, TICK_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
  // Checked on arrival and again once the body is read: a burst of bodies that all arrived while
  // the loop was idle is admitted on arrival, but only the first finds the loop free to do its work.
  // Callback style: an async hook would cost a promise on every call.
  const shed = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const lag = performance.now() - expected;
    if (lag <= options.maxLagMs || options.exempt(request)) {
      done();
      return;
    }
    reply.header('retry-after', options.retryAfterSeconds);
    void sendError(
      reply,
      'overloaded',
      `the server is over capacity (event loop ${Math.round(lag)} ms behind); retry after the Retry-After delay`,
    );
  };
  app.addHook('onRequest', shed);
  app.addHook('preHandler', shed);
}
