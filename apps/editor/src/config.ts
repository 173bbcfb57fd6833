import { readStorage, writeStorage } from "./dom.ts";

/**
 * Settings that arrive in the page's URL and are remembered:
 * - `?server=ws://host:port`: another sync server (development with `vite dev`); this tab only;
 * - `?token=...`: a token for a server in `--auth jwt` mode; this tab only (sessionStorage),
 *   so it is not left behind on a shared computer;
 * - `?user=NAME`: the name shown to others (remembered by identity.ts), for shared links and tests.
 * They are removed from the address bar once read, so copying the link never shares a token.
 */
export interface AppConfig {
  /** The sync server: `?server=`, or the page's own origin (the one-port setup). */
  serverUrl: string;
  /** Whether the server URL was overridden (shown in the footer). */
  serverOverridden: boolean;
  token: string | null;
  /** `?user=` on this load, if any. */
  userName: string | null;
}

const SERVER_KEY = "tandem.server";
const TOKEN_KEY = "tandem.token";

export function readConfig(): AppConfig {
  const url = new URL(window.location.href);
  const params = url.searchParams;

  const server = params.get("server");
  if (server !== null) writeStorage("session", SERVER_KEY, validServer(server));
  const token = params.get("token");
  if (token !== null) writeStorage("session", TOKEN_KEY, token.trim() === "" ? null : token.trim());
  const userName = params.get("user")?.trim() || null;

  if (server !== null || token !== null || params.has("user")) {
    for (const key of ["server", "token", "user"]) params.delete(key);
    window.history.replaceState(window.history.state, "", url);
  }

  const override = readStorage("session", SERVER_KEY);
  return {
    serverUrl: override ?? sameOriginServer(),
    serverOverridden: override !== null,
    token: readStorage("session", TOKEN_KEY),
    userName,
  };
}

/** Remembers a token for this tab (the token form on the "token required" notice). */
export function saveToken(token: string | null): void {
  writeStorage("session", TOKEN_KEY, token);
}

function sameOriginServer(): string {
  const protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${protocol}//${window.location.host}`;
}

function validServer(value: string): string | null {
  try {
    const url = new URL(value);
    return url.protocol === "ws:" || url.protocol === "wss:" ? value : null;
  } catch {
    return null;
  }
}
