/**
 * Everything the SDK reads from the browser, guarded so that the same code runs in Node.js
 * (no window, no document) and in workers (no document).
 */

export interface BrowserSignals {
  /** The browser reports that the network is back. */
  online(): void;
  /** The browser reports that the network is gone. */
  offline(): void;
  /** The tab became visible again, often after the machine slept. */
  visible(): void;
}

/** True only when the browser says it has no network at all (`navigator.onLine` is false). */
export function browserIsOffline(): boolean {
  return typeof navigator !== "undefined" && navigator.onLine === false;
}

/** Starts listening and returns the function that stops. Does nothing where there is no DOM. */
export function watchBrowser(signals: BrowserSignals): () => void {
  const stops: (() => void)[] = [];
  const target = typeof window !== "undefined" ? window : undefined;
  if (target && typeof target.addEventListener === "function") {
    const online = () => signals.online();
    const offline = () => signals.offline();
    target.addEventListener("online", online);
    target.addEventListener("offline", offline);
    stops.push(() => {
      target.removeEventListener("online", online);
      target.removeEventListener("offline", offline);
    });
  }
  const page = typeof document !== "undefined" ? document : undefined;
  if (page && typeof page.addEventListener === "function") {
    const visibility = () => {
      if (page.visibilityState === "visible") signals.visible();
    };
    page.addEventListener("visibilitychange", visibility);
    stops.push(() => page.removeEventListener("visibilitychange", visibility));
  }
  return () => {
    for (const stop of stops.splice(0)) stop();
  };
}
