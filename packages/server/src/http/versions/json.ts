import type { IncomingMessage } from "node:http";
import type { Author, VersionInfo } from "../../store/document-store.ts";
import { mediaTypeOf, readBody, utf8 } from "../admin/body.ts";
import { badRequest, Problem } from "../admin/problem.ts";

/** A version as the API shows it (VERSIONS-API.md). */
export interface VersionJSON {
  id: string;
  /** ISO 8601. */
  time: string;
  kind: VersionInfo["kind"];
  label: string | null;
  authors: AuthorJSON[];
  bytes: number;
}

export interface AuthorJSON {
  id: string;
  name: string | null;
}

export const authorJSON = (author: Author): AuthorJSON => ({
  id: author.id,
  name: author.name ?? null,
});

export const versionJSON = (info: VersionInfo): VersionJSON => ({
  id: info.id,
  time: new Date(info.time).toISOString(),
  kind: info.kind,
  label: info.label ?? null,
  authors: info.authors.map(authorJSON),
  bytes: info.bytes,
});

/** The longest label, in characters (code points) after trimming. */
export const MAX_LABEL_LENGTH = 200;
/** The largest body of POST …/versions: a label and some room for whitespace. */
export const MAX_BODY_BYTES = 16 * 1024;

/**
 * The label of POST /api/documents/{name}/versions: a body `{ "label": "…" }` of JSON, 1 to 200
 * characters after trimming, no control characters. 400 (415 for another media type) otherwise.
 */
export async function readLabel(request: IncomingMessage): Promise<string> {
  const type = mediaTypeOf(request.headers["content-type"]);
  if (type !== "" && type !== "application/json" && !type.endsWith("+json")) {
    throw new Problem(
      415,
      "unsupported-media-type",
      "Unsupported media type",
      `send the body as application/json, not ${JSON.stringify(type)}`,
    );
  }
  const text = utf8(await readBody(request, MAX_BODY_BYTES));
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw badRequest(`the body is not JSON: ${(error as Error).message}`, "invalid-json");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw badRequest('the body must be a JSON object: { "label": "…" }', "invalid-body");
  }
  const unknown = Object.keys(body).filter((key) => key !== "label");
  if (unknown.length > 0) {
    throw badRequest(
      `unknown field ${JSON.stringify(unknown[0])} (accepted: label)`,
      "invalid-body",
    );
  }
  const { label } = body as { label?: unknown };
  if (typeof label !== "string") {
    throw badRequest(
      label === undefined ? "the body has no label" : "label must be a string",
      "invalid-label",
    );
  }
  const trimmed = label.trim();
  const length = Array.from(trimmed).length;
  if (length === 0 || length > MAX_LABEL_LENGTH) {
    throw badRequest(
      `label must have 1 to ${MAX_LABEL_LENGTH} characters after trimming (it has ${length})`,
      "invalid-label",
    );
  }
  if (/\p{Cc}/u.test(trimmed)) {
    throw badRequest(
      "label must not contain control characters (line breaks, tabs, …)",
      "invalid-label",
    );
  }
  return trimmed;
}
