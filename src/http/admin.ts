/**
 * Admin routes (/admin/*), registered only when a token is configured, so that without one they
 * do not exist (404). Every admin request carries `Authorization: Bearer TOKEN`; the token is
 * compared as SHA-256 digests with timingSafeEqual, so neither its content nor its length leaks
 * through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ToolsimError } from '../core/errors.js';
import type { ReloadReport } from '../simulator/snapshots.js';

export interface AdminOptions {
  token: string;
  /** Swaps in the store's current snapshot. */
  reload: () => Promise<ReloadReport>;
}

/** The request did not carry the admin token. */
export class UnauthorizedError extends ToolsimError {
  constructor() {
    super('unauthorized', 'admin routes need "Authorization: Bearer TOKEN" with the configured admin token');
  }
}

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** True when `header` is `Bearer <token>`; constant time in the token. */
export function bearerMatches(header: string | undefined, expectedDigest: Buffer): boolean {
  const match = /^Bearer ([^\s]+)\s*$/i.exec(header ?? '');
  // A missing header is still hashed and compared, so it takes the same time as a wrong one.
  const given = digest(match?.[1] ?? '');
  return timingSafeEqual(given, expectedDigest) && match !== null;
}

export function registerAdminRoutes(app: FastifyInstance, options: AdminOptions): void {
  const expected = digest(options.token);
  void app.register(async (admin) => {
    admin.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (!bearerMatches(request.headers.authorization, expected)) {
        // Refusals are worth an operator's look, in one bounded line: never the headers a client
        // sent (any number, any size, credentials among them).
        request.log.warn(
          {
            ip: request.ip,
            method: request.method,
            url: request.url.slice(0, 200),
            userAgent: request.headers['user-agent']?.slice(0, 100),
            authorization: request.headers.authorization === undefined ? 'missing' : 'wrong',
          },
          'admin request refused',
        );
        reply.header('www-authenticate', 'Bearer realm="toolsim-admin"');
        throw new UnauthorizedError();
      }
    });
    admin.post('/admin/reload', { schema: { hide: true } }, async (request) => {
      const report = await options.reload();
      request.log.info({ snapshot: report.snapshot, previous: report.previous, calls: report.calls }, 'snapshot reloaded');
      return report;
    });
  });
}
