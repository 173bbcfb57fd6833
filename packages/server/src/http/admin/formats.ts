import { CONTENT_FORMATS, type ContentFormat } from "@tandem/schema/names";
import { Problem } from "./problem.ts";

/** What GET answers and PUT accepts: the whole Yjs document, or its content in a text format. */
export type Format = "yjs" | ContentFormat;
export const FORMATS: readonly Format[] = ["yjs", ...CONTENT_FORMATS];

export const MEDIA_TYPES: Record<Format, string> = {
  yjs: "application/octet-stream",
  json: "application/json",
  html: "text/html",
  markdown: "text/markdown",
  text: "text/plain",
};

const byMediaType = new Map(Object.entries(MEDIA_TYPES).map(([f, m]) => [m, f as Format]));

export const formatOfMediaType = (mediaType: string): Format | undefined =>
  byMediaType.get(mediaType);

const isFormat = (value: string): value is Format => (FORMATS as readonly string[]).includes(value);

/**
 * The format of a GET: `?format=` wins, else the Accept header (highest q first; any type, or
 * no header, means json). 400 for an unknown ?format=, 406 when nothing acceptable is offered.
 */
export function negotiate(formatParam: string | null, accept: string | undefined): Format {
  if (formatParam !== null) {
    if (isFormat(formatParam)) return formatParam;
    throw new Problem(
      400,
      "unknown-format",
      "Bad request",
      `unknown format ${JSON.stringify(formatParam)} (accepted: ${FORMATS.join(", ")})`,
    );
  }
  if (!accept) return "json";
  const ranges = accept
    .split(",")
    .map((part, index) => {
      const [type = "", ...params] = part.split(";").map((p) => p.trim().toLowerCase());
      const q = params.find((p) => p.startsWith("q="));
      return { type, q: q ? Number(q.slice(2)) : 1, index };
    })
    .filter((range) => range.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { type } of ranges) {
    if (type === "*/*" || type === "application/*") return "json";
    if (type === "text/*") return "text";
    const format = formatOfMediaType(type);
    if (format) return format;
  }
  throw new Problem(
    406,
    "not-acceptable",
    "Not acceptable",
    `no acceptable format in Accept: ${JSON.stringify(accept)} (offered: ${Object.values(MEDIA_TYPES).join(", ")})`,
  );
}
