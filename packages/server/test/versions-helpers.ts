import { parse, render, replaceContent } from "@tandem/schema/convert";
import { waitFor } from "@tandem/testkit";
import { expect } from "vitest";
import * as Y from "yjs";

/** A version as the API answers it. */
export interface VersionJSON {
  id: string;
  time: string;
  kind: "auto" | "named" | "restore";
  label: string | null;
  authors: { id: string; name: string | null }[];
  bytes: number;
}

export interface VersionList {
  versions: VersionJSON[];
  pendingAuthors: { id: string; name: string | null }[];
}

/** Calls the server's HTTP API, with `Authorization: Bearer token` when a token is given. */
export function apiClient(httpUrl: () => string) {
  const call = (path: string, init: RequestInit & { token?: string } = {}) => {
    const { token, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
    return fetch(`${httpUrl()}${path}`, { ...rest, headers });
  };
  const base = (name: string) => `/api/documents/${encodeURIComponent(name)}/versions`;
  const ok = async <T>(response: Response, status = 200): Promise<T> => {
    const text = await response.text();
    expect(response.status, text).toBe(status);
    return JSON.parse(text) as T;
  };
  return {
    call,
    base,
    list: async (name: string, token?: string) =>
      ok<VersionList>(await call(base(name), token === undefined ? {} : { token })),
    name: async (name: string, label: string, token?: string) =>
      ok<VersionJSON>(
        await call(base(name), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ label }),
          ...(token === undefined ? {} : { token }),
        }),
        201,
      ),
    preview: async (name: string, id: string, format: string, token?: string) => {
      const response = await call(
        `${base(name)}/${encodeURIComponent(id)}?format=${format}`,
        token === undefined ? {} : { token },
      );
      const text = await response.text();
      expect(response.status, text).toBe(200);
      return text;
    },
    restore: async (name: string, id: string, token?: string) =>
      ok<{ before: VersionJSON; restored: VersionJSON }>(
        await call(`${base(name)}/${encodeURIComponent(id)}/restore`, {
          method: "POST",
          ...(token === undefined ? {} : { token }),
        }),
      ),
  };
}

/** An RFC 9457 problem with the versions API's `code`: its shape, and the status it repeats. */
export async function expectProblem(response: Response, status: number, code?: string) {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(["code", "detail", "status", "title", "type"]);
  expect(body.status).toBe(status);
  expect(body.type).toBe(`urn:tandem:problem:${body.code}`);
  if (code) expect(body.code).toBe(code);
  expect(typeof body.detail).toBe("string");
  return body as { type: string; code: string; title: string; status: number; detail: string };
}

/** The rich text of a document, as Markdown. */
export const markdownOf = (doc: Y.Doc): string => render(doc, "markdown");

/** Makes a client's rich text `markdown` (a local edit, sent by its provider). */
export const write = (doc: Y.Doc, markdown: string): void =>
  replaceContent(doc, parse(markdown, "markdown"));

/** The text of the `index`th paragraph of a document's rich text. */
export function paragraphText(doc: Y.Doc, index: number): Y.XmlText {
  const paragraph = doc.getXmlFragment("default").get(index);
  if (!(paragraph instanceof Y.XmlElement)) throw new Error(`no block ${index}`);
  const text = paragraph.get(0);
  if (!(text instanceof Y.XmlText)) throw new Error(`block ${index} has no text`);
  return text;
}

/** Waits until the document has versions matching `check`, and returns the list. */
export function waitForVersions(
  what: string,
  list: () => Promise<VersionList>,
  check: (list: VersionList) => boolean,
): Promise<VersionList> {
  return waitFor(what, async () => {
    const answer = await list();
    return check(answer) ? answer : null;
  });
}
