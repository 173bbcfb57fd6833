/**
 * Registers the service worker (public/sw.js) that keeps the app shell for offline use, and
 * marks the page once it is active: `data-offline-ready` on <html>, and the callbacks given to
 * whenOfflineReady(). Only in production builds: under `vite dev` the shell changes on every
 * save, and a cached copy would only get in the way.
 */
const readyCallbacks: (() => void)[] = [];
let ready = false;

export function registerServiceWorker(): void {
  // Service workers need a secure context: https, or localhost.
  if (!import.meta.env.PROD || !("serviceWorker" in navigator) || !window.isSecureContext) return;
  navigator.serviceWorker.register("/sw.js").catch((error: unknown) => {
    console.warn("[tandem] offline support is unavailable: the service worker failed", error);
  });
  void navigator.serviceWorker.ready.then(() => {
    ready = true;
    document.documentElement.dataset.offlineReady = "true";
    for (const callback of readyCallbacks.splice(0)) callback();
  });
}

/** Calls back once the app shell is cached (at once if it already is). */
export function whenOfflineReady(callback: () => void): void {
  if (ready) callback();
  else readyCallbacks.push(callback);
}
