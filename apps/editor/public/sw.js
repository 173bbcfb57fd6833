/**
 * Tandem's service worker: keeps the app shell (HTML, scripts, styles) in the Cache API so the
 * editor opens without a network, or while the server is down. Documents themselves are not
 * here: the SDK keeps them in IndexedDB, and they sync over the WebSocket, which service
 * workers never see.
 *
 * - Pages (navigations): network first, so a running server always serves its current build;
 *   when the network fails, the cached shell, whatever the path (/d/<name> is routed by the app).
 * - Shell files: cache first. Their names carry content hashes, so a cached copy is never stale.
 * - Anything else: the network, untouched.
 */

// Filled in by the build (vite.config.ts) with the build's files and a version.
const BUILD = { version: "dev", files: [] };

const CACHE_PREFIX = "tandem-shell-";
const CACHE = `${CACHE_PREFIX}${BUILD.version}`;
const SHELL_PAGE = "/";

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      if (BUILD.files.length > 0) {
        const cache = await caches.open(CACHE);
        // cache: "reload" skips the HTTP cache, so the shell is exactly what the server has now.
        await cache.addAll(BUILD.files.map((file) => new Request(file, { cache: "reload" })));
      }
      // Take over at once: the shell is complete, and waiting for every tab to close would
      // leave a first-time visitor without offline support until their next visit.
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(page(request));
  } else if (BUILD.files.includes(url.pathname)) {
    event.respondWith(shellFile(request));
  }
});

async function page(request) {
  let response;
  try {
    response = await fetch(request);
  } catch (error) {
    const cached = await caches.match(SHELL_PAGE, { cacheName: CACHE });
    if (cached) return cached;
    throw error;
  }
  // A proxy in front of a stopped server answers 502/503/504: the cached shell is better.
  if (response.status >= 500) {
    return (await caches.match(SHELL_PAGE, { cacheName: CACHE })) ?? response;
  }
  return response;
}

async function shellFile(request) {
  const cached = await caches.match(request, { cacheName: CACHE, ignoreSearch: true });
  return cached ?? fetch(request);
}
