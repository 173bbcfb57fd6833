import type { IncomingMessage, ServerResponse } from "node:http";
import type { Connection, Hocuspocus } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import * as Y from "yjs";
import { type Convert, loadConvert } from "../../content/convert.ts";
import { changeLiveDocument, documentExists } from "../../documents/live.ts";
import type { ConnectionRegistry } from "../../extensions/connection-registry.ts";
import { tokenUserOf } from "../../extensions/connection-registry.ts";
import type { Logger } from "../../logger.ts";
import { checkUpdate, type UpdateLimits } from "../../protocol/frame-screen.ts";
import type { DocumentStore } from "../../store/document-store.ts";
import { mediaTypeOf, readBody, utf8 } from "./body.ts";
import { formatOfMediaType, MEDIA_TYPES, negotiate } from "./formats.ts";
import { badRequest, notFound, Problem } from "./problem.ts";

export interface DocumentsOptions {
  hocuspocus: Hocuspocus;
  store: DocumentStore;
  registry: ConnectionRegistry;
  updateLimits: UpdateLimits;
  /** --max-document-size: the largest body accepted, and the largest a document may become. */
  maxDocumentSize: number;
  logger: Logger;
}

/** Headers of every answer that carries document content (never run as a page of this origin). */
export const CONTENT_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; sandbox",
};

export function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    ...CONTENT_HEADERS,
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

const encodeCursor = (name: string): string => Buffer.from(name, "utf8").toString("base64url");

function decodeCursor(cursor: string): string {
  const name = Buffer.from(cursor, "base64url").toString("utf8");
  if (cursor === "" || encodeCursor(name) !== cursor)
    throw badRequest("cursor is not one this API gave");
  return name;
}

function integerParam(query: URLSearchParams, key: string, fallback: number, max: number): number {
  const raw = query.get(key);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > max) {
    throw badRequest(`${key} must be an integer from 1 to ${max}`);
  }
  return value;
}

/** The handlers of /api/documents and /api/users, over the store and the live Hocuspocus. */
export class Documents {
  constructor(private readonly options: DocumentsOptions) {}

  private liveConnections(name: string): Connection[] {
    const document = this.options.hocuspocus.documents.get(name);
    return document ? [...document.getConnections()] : [];
  }

  /**
   * GET /api/documents: name order, paged by `cursor` (the last name of the previous page).
   * The store lists every document at once; paging over that list is fine for now (thousands
   * of documents), a store with a range listing would page in storage.
   */
  async list(response: ServerResponse, query: URLSearchParams): Promise<void> {
    const prefix = query.get("prefix") ?? "";
    const limit = integerParam(query, "limit", 100, 1000);
    const cursor = query.get("cursor");
    const after = cursor === null ? null : decodeCursor(cursor);
    const all = (await this.options.store.list())
      .filter((info) => info.name.startsWith(prefix) && (after === null || info.name > after))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const page = all.slice(0, limit);
    const last = page.at(-1);
    sendJson(response, 200, {
      documents: page.map((info) => ({
        name: info.name,
        bytes: info.bytes,
        createdAt: info.createdAt.toISOString(),
        updatedAt: info.updatedAt.toISOString(),
        connections: this.liveConnections(info.name).length,
      })),
      next: all.length > limit && last ? encodeCursor(last.name) : null,
    });
  }

  /** GET /api/documents/{name}: the whole document (yjs) or its content in a text format. */
  async get(
    request: IncomingMessage,
    response: ServerResponse,
    name: string,
    query: URLSearchParams,
  ): Promise<void> {
    const format = negotiate(query.get("format"), request.headers.accept);
    const update = await this.options.store.read(name);
    if (!update) throw notFound(`no document ${JSON.stringify(name)}`);
    let body: Uint8Array | string;
    if (format === "yjs") body = update;
    else {
      const { render } = await loadConvert();
      const doc = new Y.Doc();
      Y.applyUpdate(doc, update);
      body = render(doc, format);
      doc.destroy();
    }
    const type = format === "yjs" ? MEDIA_TYPES.yjs : `${MEDIA_TYPES[format]}; charset=utf-8`;
    response.writeHead(200, {
      ...CONTENT_HEADERS,
      "content-type": type,
      "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.byteLength,
    });
    response.end(body);
  }

  /**
   * PUT /api/documents/{name}: the document's content becomes the body (any format, by
   * Content-Type), applied to the live document as one update, so connected editors converge.
   * 201 when the document was new, 204 otherwise.
   */
  async put(request: IncomingMessage, response: ServerResponse, name: string): Promise<void> {
    const format = this.requireFormat(request);
    const body = await readBody(request, this.options.maxDocumentSize);
    const { ContentError, parse, replaceContent, toNode } = await loadConvert();
    let content: ReturnType<Convert["toNode"]>;
    try {
      if (format === "yjs") {
        const doc = new Y.Doc();
        Y.applyUpdate(doc, this.checkedUpdate(body));
        content = toNode(doc);
        doc.destroy();
      } else content = parse(utf8(body), format);
    } catch (error) {
      if (error instanceof ContentError) throw badRequest(error.message, "invalid-content");
      throw error;
    }
    const { created } = await this.change(name, (doc) => replaceContent(doc, content));
    response.writeHead(created ? 201 : 204, CONTENT_HEADERS);
    response.end();
  }

  /** POST /api/documents/{name}/updates: merges a raw Yjs update into the live document. */
  async postUpdate(
    request: IncomingMessage,
    response: ServerResponse,
    name: string,
  ): Promise<void> {
    const type = mediaTypeOf(request.headers["content-type"]);
    if (type !== MEDIA_TYPES.yjs) {
      throw new Problem(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        `send the update as ${MEDIA_TYPES.yjs}, not ${JSON.stringify(type || "nothing")}`,
      );
    }
    const update = this.checkedUpdate(await readBody(request, this.options.maxDocumentSize));
    const { created } = await this.change(name, (doc) => {
      Y.applyUpdate(doc, update);
      if (doc.store.pendingStructs || doc.store.pendingDs) {
        throw new Problem(
          409,
          "missing-dependencies",
          "Conflict",
          "the update builds on changes the document does not have (send those first, or the whole document's update)",
        );
      }
    });
    response.writeHead(created ? 201 : 204, CONTENT_HEADERS);
    response.end();
  }

  /**
   * DELETE /api/documents/{name}: closes every connection on it (per document, code 4404,
   * reason "document-deleted"), waits for Hocuspocus to unload it, then deletes it and its
   * history from the store. 404 when it never existed.
   */
  async delete(response: ServerResponse, name: string): Promise<void> {
    const { hocuspocus, store, logger } = this.options;
    const connections = this.liveConnections(name);
    for (const connection of connections) {
      connection.close({ code: CloseCode.DocumentDeleted, reason: "document-deleted" });
    }
    // Unloading waits for each connection's queued messages: no append can start after it.
    const deadline = Date.now() + 5_000;
    while (hocuspocus.documents.has(name) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const document = hocuspocus.documents.get(name);
    if (document) await hocuspocus.unloadDocument(document);
    const existed = await store.delete(name);
    if (!existed && connections.length === 0) throw notFound(`no document ${JSON.stringify(name)}`);
    logger.info(
      { document: name, connections: connections.length },
      "document deleted (admin API)",
    );
    response.writeHead(204, CONTENT_HEADERS);
    response.end();
  }

  /** GET /api/documents/{name}/connections: who is connected, read-only or not, since when. */
  async connections(response: ServerResponse, name: string): Promise<void> {
    const live = this.liveConnections(name);
    if (live.length === 0 && !(await this.exists(name))) {
      throw notFound(`no document ${JSON.stringify(name)}`);
    }
    sendJson(response, 200, {
      connections: live.map((connection) => this.options.registry.describe(connection)),
    });
  }

  /**
   * DELETE /api/users/{sub}/connections: closes every document connection whose token is the
   * user's (per document, code 4401, reason "closed-by-admin"). Answers how many were closed.
   */
  async kick(response: ServerResponse, sub: string): Promise<void> {
    let closed = 0;
    for (const document of this.options.hocuspocus.documents.values()) {
      for (const connection of [...document.getConnections()]) {
        if (tokenUserOf(connection) !== sub) continue;
        connection.close({ code: CloseCode.Unauthorized, reason: "closed-by-admin" });
        closed++;
      }
    }
    this.options.logger.info({ user: sub, closed }, "user's connections closed (admin API)");
    sendJson(response, 200, { closed });
  }

  private exists(name: string): Promise<boolean> {
    return documentExists(this.options, name);
  }

  private requireFormat(request: IncomingMessage) {
    const type = mediaTypeOf(request.headers["content-type"]);
    const format = formatOfMediaType(type);
    if (!format) {
      throw new Problem(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        `Content-Type ${JSON.stringify(type || "nothing")} is not one of ${Object.values(MEDIA_TYPES).join(", ")}`,
      );
    }
    return format;
  }

  /** A raw update screened like a client's (frame-screen.ts): 400 when refused. */
  private checkedUpdate(update: Uint8Array): Uint8Array {
    const problem = checkUpdate(update, this.options.updateLimits);
    if (problem) throw badRequest(`the update is refused: ${problem}`, "invalid-update");
    return update;
  }

  private change(name: string, edit: (doc: Y.Doc) => void): Promise<{ created: boolean }> {
    return changeLiveDocument(this.options, name, edit);
  }
}
