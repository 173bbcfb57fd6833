/**
 * The server's version-history API (VERSIONS-API.md), called with the same token the editor
 * uses for the WebSocket (none under `--auth none`). Answers are checked before use: they come
 * over the network, and a server without the API answers its app shell for unknown paths.
 */

export type VersionKind = "auto" | "named" | "restore";

export interface VersionAuthor {
  id: string;
  name: string | null;
}

export interface Version {
  id: string;
  /** Milliseconds since the epoch. */
  time: number;
  kind: VersionKind;
  label: string | null;
  /** Who changed the document since the previous version, in the order they first did. */
  authors: VersionAuthor[];
  bytes: number;
}

export interface VersionList {
  /** Newest first. */
  versions: Version[];
  /** Who changed the document since the newest version. */
  pendingAuthors: VersionAuthor[];
}

/** A refused or failed call, with the server's problem details when it sent some. */
export class HistoryError extends Error {
  constructor(
    message: string,
    /** The HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** The problem's code (`version-not-named`, ...), if any. */
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "HistoryError";
  }
}

export interface HistoryApi {
  list(): Promise<VersionList>;
  /** A version's content as one Yjs update. */
  content(id: string): Promise<Uint8Array>;
  /** Names the document's current (stored) state. */
  name(label: string): Promise<Version>;
  /** Makes the live document equal to a version; `before` is the state it replaced. */
  restore(id: string): Promise<{ before: Version; restored: Version }>;
}

/** The longest label the server accepts (after trimming). */
export const MAX_LABEL_LENGTH = 200;

export function createHistoryApi(options: {
  /** The sync server's WebSocket address; the API is on the same host and port. */
  serverUrl: string;
  document: string;
  token: string | null;
}): HistoryApi {
  const base = `${httpOrigin(options.serverUrl)}/api/documents/${encodeURIComponent(options.document)}/versions`;

  const call = async (path: string, init: RequestInit = {}): Promise<Response> => {
    const headers = new Headers(init.headers);
    if (options.token) headers.set("authorization", `Bearer ${options.token}`);
    let response: Response;
    try {
      response = await fetch(base + path, { ...init, headers, cache: "no-store" });
    } catch (error) {
      throw new HistoryError(`The server could not be reached (${String(error)}).`, 0);
    }
    if (!response.ok) throw await problemOf(response);
    return response;
  };
  const json = async (path: string, init?: RequestInit): Promise<unknown> => {
    const response = await call(path, init);
    if (!response.headers.get("content-type")?.includes("json")) {
      throw new HistoryError("The server does not keep version history.", 501);
    }
    return response.json();
  };
  const post = (body?: unknown): RequestInit => ({
    method: "POST",
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });

  return {
    async list() {
      const body = (await json("")) as Record<string, unknown>;
      return {
        versions: arrayOf(body?.versions, "versions").map(toVersion),
        pendingAuthors: arrayOf(body?.pendingAuthors ?? [], "pendingAuthors").map(toAuthor),
      };
    },
    async content(id) {
      const response = await call(`/${encodeURIComponent(id)}?format=yjs`);
      return new Uint8Array(await response.arrayBuffer());
    },
    async name(label) {
      return toVersion(await json("", post({ label })));
    },
    async restore(id) {
      const body = (await json(`/${encodeURIComponent(id)}/restore`, post())) as Record<
        string,
        unknown
      >;
      return { before: toVersion(body?.before), restored: toVersion(body?.restored) };
    },
  };
}

/** ws://host:port/anything → http://host:port (the API lives at the root of the same server). */
export function httpOrigin(serverUrl: string): string {
  const url = new URL(serverUrl);
  const protocol = url.protocol === "wss:" ? "https:" : "http:";
  return `${protocol}//${url.host}`;
}

async function problemOf(response: Response): Promise<HistoryError> {
  let detail: string | null = null;
  let code: string | null = null;
  try {
    const problem = (await response.json()) as Record<string, unknown>;
    if (typeof problem.detail === "string") detail = problem.detail;
    else if (typeof problem.title === "string") detail = problem.title;
    if (typeof problem.code === "string") code = problem.code;
    else if (typeof problem.type === "string") code = problem.type.split(":").pop() ?? null;
  } catch {
    // Not problem details (a proxy's error page): the status says enough.
  }
  return new HistoryError(messageFor(response.status, detail), response.status, code);
}

function messageFor(status: number, detail: string | null): string {
  switch (status) {
    case 401:
      return "The server did not accept your token: reload the page with a fresh one.";
    case 403:
      return "Your token does not allow this on this document.";
    case 404:
      return detail ?? "Not found: the document has not been saved on the server yet.";
    case 501:
      return "This server does not keep version history.";
    default:
      return detail ?? `The server answered ${status}.`;
  }
}

function arrayOf(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new HistoryError(`The server sent no ${what} list.`, 502);
  return value;
}

function toAuthor(value: unknown): VersionAuthor {
  const { id, name } = (value ?? {}) as Record<string, unknown>;
  if (typeof id !== "string") throw new HistoryError("The server sent an author without id.", 502);
  return { id, name: typeof name === "string" && name.trim() !== "" ? name : null };
}

function toVersion(value: unknown): Version {
  const { id, time, kind, label, authors, bytes } = (value ?? {}) as Record<string, unknown>;
  const ms = typeof time === "string" ? Date.parse(time) : Number.NaN;
  if (typeof id !== "string" || Number.isNaN(ms) || !isKind(kind)) {
    throw new HistoryError("The server sent a version this app does not understand.", 502);
  }
  return {
    id,
    time: ms,
    kind,
    label: typeof label === "string" && label !== "" ? label : null,
    authors: arrayOf(authors ?? [], "authors").map(toAuthor),
    bytes: typeof bytes === "number" ? bytes : 0,
  };
}

function isKind(value: unknown): value is VersionKind {
  return value === "auto" || value === "named" || value === "restore";
}
