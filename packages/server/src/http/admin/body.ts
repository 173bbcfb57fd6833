import type { IncomingMessage } from "node:http";
import { Problem, tooLarge } from "./problem.ts";

/** The request's media type without parameters, lower-cased; "" when there is none. */
export const mediaTypeOf = (header: string | undefined): string =>
  (header ?? "").split(";")[0]?.trim().toLowerCase() ?? "";

/** Reads the request body, refusing with 413 as soon as it passes `limit` bytes. */
export async function readBody(request: IncomingMessage, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    request.resume();
    throw tooLarge(`the body is ${declared} bytes; at most ${limit} are accepted`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      request.resume();
      throw tooLarge(`the body is larger than ${limit} bytes`);
    }
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

export function utf8(body: Uint8Array): string {
  try {
    return strictUtf8.decode(body);
  } catch {
    throw new Problem(400, "bad-encoding", "Bad request", "the body is not valid UTF-8");
  }
}
