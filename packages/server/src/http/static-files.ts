import { existsSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, normalize, relative, resolve, sep } from "node:path";
import compression from "compression";
import sendFile from "send";
import type { Route } from "./routes.ts";

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
      send(request, response, file, base, path.startsWith("/assets/"));
      return true;
    }
    const isPage = extname(path) === "" || (request.headers.accept ?? "").includes("text/html");
    if (isPage && isFile(index)) {
      send(request, response, index, base, false);
      return true;
    }
    return false;
  };
}

function isFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile();
}

/**
 * The sending itself is the well-kept `send` (ETag and Last-Modified with 304s, Range, HEAD,
 * content types) behind `compression` (gzip/brotli for text, by Accept-Encoding). Which file to
 * send, the SPA fallback and the root check stay above, where the route decides synchronously
 * whether it takes the request.
 */
const compress = compression();

function send(
  request: IncomingMessage,
  response: ServerResponse,
  file: string,
  base: string,
  immutable: boolean,
): void {
  const path = `/${relative(base, file).split(sep).join("/")}`;
  compress(
    request as Parameters<typeof compress>[0],
    response as Parameters<typeof compress>[1],
    () => {
      sendFile(request, path, {
        root: base,
        index: false,
        dotfiles: "ignore",
        etag: true,
        lastModified: true,
        ...(immutable ? { immutable: true, maxAge: "1y" } : { cacheControl: false }),
      })
        .on("headers", (res: ServerResponse) => {
          if (!immutable) res.setHeader("cache-control", "no-cache");
          for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
        })
        .on("error", (error: { status?: number }) => {
          response.statusCode = error.status ?? 500;
          response.end();
        })
        .pipe(response);
    },
  );
}
