import type { IncomingMessage } from "node:http";
import { type Access, accessFor } from "../../auth/permissions.ts";
import type { TokenVerifier } from "../../auth/tokens.ts";
import type { ServerConfig } from "../../config.ts";
import { bearerIdentifier } from "../admin/authorize.ts";
import { Problem } from "../admin/problem.ts";

export interface VersionsAuthOptions {
  config: Pick<ServerConfig, "auth" | "adminToken" | "maxTokenLifetime">;
  verifier: TokenVerifier | null;
}

/** Resolves when the request may do what needs `access` on the document; else throws a 401 or 403 Problem. */
export type VersionsAuthorizer = (
  request: IncomingMessage,
  documentName: string,
  access: Access,
) => Promise<void>;

/**
 * Who may use a document's version history: under --auth none everyone, for everything. Under
 * --auth jwt the request sends `Authorization: Bearer <token>`: the user's own JWT, whose `docs`
 * claim (auth/permissions.ts) grants read (list and preview versions) or write (also name,
 * restore and delete them) on the document, as on the WebSocket; or an admin token
 * (--admin-token, or a JWT carrying `"admin": true`), which may do everything.
 */
export function versionsAuthorizer(options: VersionsAuthOptions): VersionsAuthorizer {
  const { config } = options;
  if (config.auth === "none") return async () => {};
  const identify = bearerIdentifier({
    tokens: config.adminToken,
    verifier: options.verifier,
    maxTokenLifetimeMs: config.maxTokenLifetime,
    realm: "tandem",
    tokenName: "token",
  });
  return async (request, documentName, needed) => {
    const bearer = await identify(request);
    if (bearer.admin) return;
    const { sub, docs } = bearer.claims;
    const granted = accessFor(docs, documentName);
    if (granted === null) {
      throw forbidden(
        `the token of ${JSON.stringify(sub)} grants nothing on ${JSON.stringify(documentName)}`,
      );
    }
    if (needed === "write" && granted === "read") {
      throw forbidden(
        `the token of ${JSON.stringify(sub)} grants only read access on ${JSON.stringify(documentName)}: naming, restoring and deleting versions need write access`,
      );
    }
  };
}

const forbidden = (detail: string) => new Problem(403, "forbidden", "Forbidden", detail);
