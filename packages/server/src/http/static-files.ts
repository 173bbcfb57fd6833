import { createReadStream, existsSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";
import type { Route } from "./routes.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/**
 * Headers of every file served. The policy fits the built editor: its scripts and styles are
 * files of its own origin (no inline script; the CSP would block one, so an injected script tag
 * does not run); ProseMirror and the collaboration carets set style attributes, hence inline
 * styles; WebSockets may go to this server ('self') or to another sync server (`?server=`), hence
 * ws: and wss:. The page may not be framed (clickjacking) nor leak its URL, which names the
 * document, in a Referer.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self' ws: wss:",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/**
 * Serves a built single-page app (the editor demo) from `root` on the server's port. Files under
 * /assets/ carry content hashes in their names and are cached for good; everything else is
 * revalidated, so a new build (and its service worker) is picked up at once. A page request (the
 * browser asks for text/html) or an extensionless path with no file behind it gets index.html:
 * the app routes /d/<name> itself, whatever the name (notes.md included).
 */
export function staticFiles(root: string): Route {
  const base = resolve(root);
  const index = join(base, "index.html");
  return (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== "GET" && request.method !== "HEAD") return false;
    let path: string;
    try {
      path = decodeURIComponent((request.url ?? "/").split("?")[0] ?? "/");
    } catch {
      return false;
    }
    const file = normalize(join(base, path));
    // Never serve anything outside the root, whatever the path says.
    if (file !== base && !file.startsWith(base + sep)) return false;
    if (isFile(file)) {
      send(request, response, file, path.startsWith("/assets/"));
      return true;
    }
    const isPage = extname(path) === "" || (request.headers.accept ?? "").includes("text/html");
    if (isPage && isFile(index)) {
      send(request, response, index, false);
      return true;
    }
    return false;
  };
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

function send(
  request: IncomingMessage,
  response: ServerResponse,
  file: string,
  immutable: boolean,
): void {
  response.writeHead(200, {
    "content-type": TYPES[extname(file)] ?? "application/octet-stream",
    "content-length": statSync(file).size,
    "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    ...SECURITY_HEADERS,
  });
  if (request.method === "HEAD") {
    response.end();
    return;
  }
  createReadStream(file).pipe(response);
}
