import type { ServerResponse } from "node:http";
import type { Logger } from "../../logger.ts";
import { DamagedDocumentError } from "../../store/damaged.ts";

/**
 * Errors of the admin API as RFC 9457 problem details: `type` (a URN naming the problem, listed
 * in the README), `title` (the same for every occurrence of the type), `status`, `detail` (this
 * occurrence), as application/problem+json.
 */
export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export const problemType = (slug: string): string => `urn:tandem:problem:${slug}`;

export interface ProblemFormat {
  /** Also send the slug as `code` (an extension member; the versions API's contract has it). */
  code?: boolean;
}

export function sendProblem(
  response: ServerResponse,
  problem: Problem,
  format: ProblemFormat = {},
): void {
  const text = JSON.stringify({
    type: problemType(problem.slug),
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
    ...(format.code ? { code: problem.slug } : {}),
  });
  if (response.headersSent) {
    // A streamed answer failed midway: cut it off, so the client sees an incomplete body.
    response.destroy();
    return;
  }
  response.writeHead(problem.status, {
    ...problem.headers,
    "content-type": "application/problem+json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  response.end(text);
}

export const badRequest = (detail: string, slug = "bad-request") =>
  new Problem(400, slug, "Bad request", detail);
export const notFound = (detail: string, slug = "not-found") =>
  new Problem(404, slug, "Not found", detail);
export const tooLarge = (detail: string) => new Problem(413, "too-large", "Too large", detail);
/** 405 with the Allow header listing the methods the path does take. */
export const methodNotAllowed = (method: string, allowed: readonly string[]) =>
  new Problem(
    405,
    "method-not-allowed",
    "Method not allowed",
    `${method} is not allowed here (allowed: ${allowed.join(", ")})`,
    { allow: allowed.join(", ") },
  );

/**
 * Answers a failed request: a Problem as itself, a damaged document as 409, anything else as 500
 * (logged with `context`, the cause stays in the log).
 */
export function sendError(
  response: ServerResponse,
  error: unknown,
  logger: Logger,
  context: Record<string, unknown>,
  format: ProblemFormat = {},
): void {
  if (error instanceof Problem) {
    sendProblem(response, error, format);
    return;
  }
  if (error instanceof DamagedDocumentError) {
    const detail = `the document's stored data is damaged (${error.why}): run tandem check`;
    sendProblem(response, new Problem(409, "document-damaged", "Conflict", detail), format);
    return;
  }
  logger.error({ err: error, ...context }, "HTTP API request failed");
  sendProblem(
    response,
    new Problem(
      500,
      "internal-error",
      "Internal server error",
      "the request failed; see the server's log",
    ),
    format,
  );
}
