import type { IncomingMessage, ServerResponse } from "node:http";
import Router from "find-my-way";
import * as Y from "yjs";
import type { TokenVerifier } from "../../auth/tokens.ts";
import type { ServerConfig } from "../../config.ts";
import { loadConvert } from "../../content/convert.ts";
import { documentExists, type LiveDocuments } from "../../documents/live.ts";
import type { Restorer } from "../../history/restore.ts";
import type { Logger } from "../../logger.ts";
import { documentNameProblem } from "../../protocol/document-name.ts";
import type { VersionStore } from "../../store/document-store.ts";
import { CONTENT_HEADERS, sendJson } from "../admin/documents.ts";
import { MEDIA_TYPES, negotiate } from "../admin/formats.ts";
import { badRequest, methodNotAllowed, notFound, Problem, sendError } from "../admin/problem.ts";
import type { Route } from "../routes.ts";
import { versionsAuthorizer } from "./authorize.ts";
import { authorJSON, readLabel, versionJSON } from "./json.ts";

export interface VersionsApiOptions {
  config: Pick<
    ServerConfig,
    "auth" | "adminToken" | "maxTokenLifetime" | "maxDocumentNameLength" | "versions"
  >;
  verifier: TokenVerifier | null;
  live: LiveDocuments;
  /** The store's version history and the restorer over it; null: the store has none. */
  history: { versions: VersionStore; restorer: Restorer } | null;
  logger: Logger;
}

type Handler = (
  request: IncomingMessage,
  response: ServerResponse,
  name: string,
  id: string,
  query: URLSearchParams,
) => Promise<void>;

type Method = "GET" | "POST" | "DELETE";
const METHODS: readonly Method[] = ["GET", "POST", "DELETE"];

/** Version ids are the store's: short printable ASCII. Anything else is no version. */
const VERSION_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * The versions API (VERSIONS-API.md), under /api/documents/{name}/versions: list, name the
 * current state, preview a version in any format, restore one, delete a named one. Answers only
 * those paths, so every other /api/ path goes on to the admin API; authorized per document
 * (authorize.ts), not by admin token alone, so that editors can call it with their users'
 * tokens. Errors are problem details with a `code`. 501 when version history is off
 * (--no-versions) or the store keeps none.
 */
export function versionsApi(options: VersionsApiOptions): Route {
  const { config, logger, live, history } = options;
  const authorize = versionsAuthorizer(options);
  const router = Router({ maxParamLength: config.maxDocumentNameLength * 9 + 16 });
  const on = (method: Method, path: string, access: "read" | "write", handler: Handler) =>
    router.on(method, path, () => {}, { access, handler });
  const base = "/api/documents/:name/versions";

  on("GET", base, "read", async (_request, response, name) => {
    const { versions } = enabled();
    if (!(await documentExists(live, name))) throw notFound(`no document ${JSON.stringify(name)}`);
    const [list, pending] = await Promise.all([versions.list(name), versions.pendingAuthors(name)]);
    sendJson(response, 200, {
      versions: list.map(versionJSON),
      pendingAuthors: pending.map(authorJSON),
    });
  });

  on("POST", base, "write", async (request, response, name) => {
    const { versions } = enabled();
    const label = await readLabel(request);
    // The version holds every edit that reached the server before the request.
    await live.store.durable(name);
    const info = await versions.record(name, { kind: "named", label });
    if (!info) throw notFound(`no document ${JSON.stringify(name)}`);
    logger.info({ document: name, version: info.id, label }, "named version recorded");
    response.setHeader(
      "location",
      `/api/documents/${encodeURIComponent(name)}/versions/${encodeURIComponent(info.id)}`,
    );
    sendJson(response, 201, versionJSON(info));
  });

  on("GET", `${base}/:id`, "read", async (request, response, name, id, query) => {
    const { versions } = enabled();
    const format = negotiate(query.get("format"), request.headers.accept);
    const version = await versions.read(name, id);
    if (!version) throw noVersion(name, id);
    let body: Uint8Array | string;
    if (format === "yjs") body = version.update;
    else {
      const { render } = await loadConvert();
      const doc = new Y.Doc();
      try {
        Y.applyUpdate(doc, version.update);
        body = render(doc, format);
      } finally {
        doc.destroy();
      }
    }
    response.writeHead(200, {
      ...CONTENT_HEADERS,
      "content-type": format === "yjs" ? MEDIA_TYPES.yjs : `${MEDIA_TYPES[format]}; charset=utf-8`,
      "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.byteLength,
      "x-tandem-version": version.info.id,
    });
    response.end(body);
  });

  on("POST", `${base}/:id/restore`, "write", async (_request, response, name, id) => {
    const { restorer } = enabled();
    const result = await restorer.restore(name, id);
    if (!result) throw noVersion(name, id);
    sendJson(response, 200, {
      before: versionJSON(result.before),
      restored: versionJSON(result.restored),
    });
  });

  on("DELETE", `${base}/:id`, "write", async (_request, response, name, id) => {
    const { versions } = enabled();
    const info = (await versions.list(name)).find((version) => version.id === id);
    if (!info) throw noVersion(name, id);
    if (info.kind === "auto") {
      throw new Problem(
        409,
        "version-not-named",
        "Conflict",
        "an automatic version cannot be deleted: retention (--version-retention) removes those",
      );
    }
    await versions.delete(name, [id]);
    logger.info({ document: name, version: id, kind: info.kind }, "version deleted");
    response.writeHead(204, CONTENT_HEADERS);
    response.end();
  });

  const enabled = () => {
    if (!config.versions) {
      throw new Problem(
        501,
        "versions-off",
        "Not implemented",
        "version history is off on this server (started with --versions false)",
      );
    }
    if (!history) {
      throw new Problem(
        501,
        "versions-unsupported",
        "Not implemented",
        "this server's store keeps no version history",
      );
    }
    return history;
  };

  const handle = async (request: IncomingMessage, response: ServerResponse, path: string) => {
    const method = (request.method ?? "GET") as Method;
    const found = METHODS.includes(method) ? router.find(method, path) : null;
    if (!found) {
      const allowed = METHODS.filter((m) => router.find(m, path));
      throw methodNotAllowed(method, allowed);
    }
    const name = found.params.name ?? "";
    const problem = documentNameProblem(name, config.maxDocumentNameLength);
    if (problem) throw badRequest(problem, "invalid-document-name");
    const { access, handler } = found.store as { access: "read" | "write"; handler: Handler };
    await authorize(request, name, access);
    const id = found.params.id ?? "";
    if (id !== "" && !VERSION_ID.test(id)) throw noVersion(name, id);
    const url = request.url ?? "/";
    const query = new URLSearchParams(url.slice(path.length + 1));
    await handler(request, response, name, id, query);
  };

  return (request, response) => {
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    if (!path.startsWith("/api/documents/")) return false;
    // Only this API's paths, whatever the method: everything else is the admin API's.
    if (!METHODS.some((method) => router.find(method, path))) return false;
    handle(request, response, path).catch((error: unknown) =>
      sendError(
        response,
        error,
        logger,
        { api: "versions", method: request.method, path },
        { code: true },
      ),
    );
    return true;
  };
}

const noVersion = (name: string, id: string) =>
  notFound(`no version ${JSON.stringify(id)} of document ${JSON.stringify(name)}`);
