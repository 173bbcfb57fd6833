import type { IncomingMessage, ServerResponse } from "node:http";
import type { Hocuspocus } from "@hocuspocus/server";
import Router from "find-my-way";
import type { TokenVerifier } from "../../auth/tokens.ts";
import { encodeBackup } from "../../backup/format.ts";
import { backupDocuments } from "../../backup/snapshot.ts";
import type { ServerConfig } from "../../config.ts";
import type { ConnectionRegistry } from "../../extensions/connection-registry.ts";
import type { Logger } from "../../logger.ts";
import { documentNameProblem } from "../../protocol/document-name.ts";
import type { UpdateLimits } from "../../protocol/frame-screen.ts";
import type { DocumentStore } from "../../store/document-store.ts";
import type { Route } from "../routes.ts";
import { adminAuthorizer } from "./authorize.ts";
import { Documents } from "./documents.ts";
import { badRequest, methodNotAllowed, notFound, sendError } from "./problem.ts";

export interface AdminApiOptions {
  config: Pick<
    ServerConfig,
    "adminToken" | "auth" | "maxDocumentSize" | "maxDocumentNameLength" | "maxTokenLifetime"
  >;
  verifier: TokenVerifier | null;
  hocuspocus: Hocuspocus;
  store: DocumentStore;
  registry: ConnectionRegistry;
  updateLimits: UpdateLimits;
  logger: Logger;
}

type Handler = (
  request: IncomingMessage,
  response: ServerResponse,
  params: Record<string, string | undefined>,
  query: URLSearchParams,
) => Promise<void>;

const DISABLED_DETAIL =
  'the admin API is off: start the server with --admin-token TOKEN (env TANDEM_ADMIN_TOKEN, at least 32 characters), or with --auth jwt and send tokens carrying "admin": true';

/**
 * The admin API under /api/, as one Route of the server's list: documents (list, read in any
 * format, replace, merge an update, delete), who is connected, closing a user's connections,
 * and a backup stream. Every request is authorized by one function (authorize.ts); every error
 * is a problem details answer (problem.ts). Off (404 with how to turn it on) unless an admin
 * token is configured or --auth jwt is on.
 */
export function adminApi(options: AdminApiOptions): Route {
  const { config, logger } = options;
  const enabled = config.adminToken.length > 0 || config.auth === "jwt";
  const authorize = adminAuthorizer({
    tokens: config.adminToken,
    verifier: config.auth === "jwt" ? options.verifier : null,
    maxTokenLifetimeMs: config.maxTokenLifetime,
  });
  const documents = new Documents({
    hocuspocus: options.hocuspocus,
    store: options.store,
    registry: options.registry,
    updateLimits: options.updateLimits,
    maxDocumentSize: config.maxDocumentSize,
    logger,
  });
  const name = (params: Record<string, string | undefined>): string => {
    const value = params.name ?? "";
    const problem = documentNameProblem(value, config.maxDocumentNameLength);
    if (problem) throw badRequest(problem, "invalid-document-name");
    return value;
  };

  // Document names go in one path segment, percent-encoded ("team%2Fnotes" for "team/notes").
  const router = Router({ maxParamLength: config.maxDocumentNameLength * 9 + 16 });
  const on = (method: "GET" | "PUT" | "POST" | "DELETE", path: string, handler: Handler) =>
    router.on(method, path, () => {}, handler);
  on("GET", "/api/documents", (_q, res, _p, query) => documents.list(res, query));
  on("GET", "/api/documents/:name", (req, res, p, query) =>
    documents.get(req, res, name(p), query),
  );
  on("PUT", "/api/documents/:name", (req, res, p) => documents.put(req, res, name(p)));
  on("DELETE", "/api/documents/:name", (_q, res, p) => documents.delete(res, name(p)));
  on("POST", "/api/documents/:name/updates", (req, res, p) =>
    documents.postUpdate(req, res, name(p)),
  );
  on("GET", "/api/documents/:name/connections", (_q, res, p) =>
    documents.connections(res, name(p)),
  );
  on("DELETE", "/api/users/:sub/connections", (_q, res, p) => documents.kick(res, p.sub ?? ""));
  on("POST", "/api/backup", (_q, res) => backup(options.store, res));

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (!enabled) throw notFound(DISABLED_DETAIL, "admin-api-disabled");
    await authorize(request);
    const url = request.url ?? "/";
    const path = url.split("?")[0] ?? "/";
    const query = new URLSearchParams(url.slice(path.length + 1));
    const method = request.method ?? "GET";
    const found = router.find(method as "GET", path);
    if (!found) {
      const allowed = (["GET", "PUT", "POST", "DELETE"] as const).filter((m) =>
        router.find(m, path),
      );
      if (allowed.length === 0) throw notFound("no such admin API route");
      throw methodNotAllowed(method, allowed);
    }
    await (found.store as Handler)(request, response, found.params, query);
  };

  return (request, response) => {
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    if (path !== "/api" && !path.startsWith("/api/")) return false;
    handle(request, response).catch((error: unknown) =>
      sendError(response, error, logger, { api: "admin", method: request.method, path }),
    );
    return true;
  };
}

/**
 * POST /api/backup: streams a backup (backup/format.ts) of every document, from one snapshot of
 * the store taken when the request arrives. A failure midway cuts the answer off, so the file
 * lacks its end frame and restore refuses it.
 */
async function backup(store: DocumentStore, response: ServerResponse): Promise<void> {
  const takenAt = Date.now();
  response.writeHead(200, {
    "content-type": "application/vnd.tandem.backup",
    "content-disposition": `attachment; filename="tandem-${new Date(takenAt).toISOString().replace(/[:.]/g, "-")}.backup"`,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  for await (const chunk of encodeBackup(backupDocuments(store), takenAt)) {
    if (response.destroyed) return;
    if (!response.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          response.off("drain", done);
          response.off("close", done);
          resolve();
        };
        response.once("drain", done);
        response.once("close", done);
      });
    }
  }
  response.end();
}
