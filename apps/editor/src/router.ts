/**
 * The app's two pages: the home page (/) and a document (/d/<name>). Every navigation is a full
 * page load, which the server (SPA fallback) and the service worker (offline) both answer with
 * the same index.html; this module only reads the path.
 */
export type Route = { page: "home" } | { page: "document"; name: string };

const DOCUMENT_PREFIX = "/d/";

export function routeFor(pathname: string): Route {
  if (!pathname.startsWith(DOCUMENT_PREFIX)) return { page: "home" };
  let name: string;
  try {
    // Each segment is encoded on its own, so names may contain slashes ("team/notes").
    name = pathname
      .slice(DOCUMENT_PREFIX.length)
      .split("/")
      .map((segment) => decodeURIComponent(segment))
      .join("/");
  } catch {
    return { page: "home" };
  }
  name = name.replace(/\/+$/, "");
  return name === "" ? { page: "home" } : { page: "document", name };
}

export function documentPath(name: string): string {
  return DOCUMENT_PREFIX + name.split("/").map(encodeURIComponent).join("/");
}
