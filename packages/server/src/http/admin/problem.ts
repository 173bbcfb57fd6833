import type { ServerResponse } from "node:http";

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

export function sendProblem(response: ServerResponse, problem: Problem): void {
  const text = JSON.stringify({
    type: problemType(problem.slug),
    title: problem.title,
    status: problem.status,
    detail: problem.detail,
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
