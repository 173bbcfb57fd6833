import { adapterFor, type Protocol, type ProtocolAdapter } from "./adapters/index.ts";
import { type LaunchOptions, ManagedServer, SERVER_SPECS, type ServerKind } from "./servers.ts";

/**
 * The server a scenario drives, as the scenario sees it: a URL and a protocol, plus what the bench
 * can observe from outside (the process id for /proc, the data directory) and, for servers the
 * bench started itself, the power to restart them.
 */
export interface Target {
  readonly label: string;
  readonly protocol: Protocol;
  readonly adapter: ProtocolAdapter;
  /** Kept across restarts of a managed server (it restarts on its port), so clients reconnect. */
  readonly url: string;
  /** The server process, for /proc; null for a remote server. */
  readonly pid: number | null;
  readonly dataDir: string | null;
  /** Whether the bench started this server (and so can restart or replace it). */
  readonly managed: boolean;
  /** Whether documents survive a restart; null when unknown (an external server). */
  readonly persistent: boolean | null;
  /** Restarts on the same data directory, gracefully (SIGTERM) or as a crash (SIGKILL). */
  restart(how: "graceful" | "kill"): Promise<void>;
  /** Replaces the server by a new one on an empty data directory (no-op when not managed). */
  fresh(): Promise<void>;
  /** Warnings and errors the server logged so far (managed servers only). */
  complaints(): readonly string[];
  /** Stops the server and removes its data (no-op when not managed). */
  close(): Promise<void>;
}

export async function startManagedTarget(
  kind: ServerKind,
  options: LaunchOptions,
): Promise<Target> {
  let server = await ManagedServer.start(kind, options);
  const spec = SERVER_SPECS[kind];
  return {
    label: spec.label,
    protocol: spec.protocol,
    adapter: adapterFor(spec.protocol),
    get url() {
      return server.url;
    },
    get pid() {
      return server.pid;
    },
    get dataDir() {
      return server.dataDir;
    },
    managed: true,
    persistent: spec.persistent,
    restart: (how) => server.restart(how),
    fresh: async () => {
      await server.dispose();
      server = await ManagedServer.start(kind, options);
    },
    complaints: () => server.complaints,
    close: () => server.dispose(),
  };
}

export interface ExternalTargetOptions {
  url: string;
  protocol: Protocol;
  /** A local server's process id, so /proc figures are available. */
  pid?: number;
  dataDir?: string;
}

/** A server the bench did not start (possibly remote): only its clients measure it. */
export function externalTarget(options: ExternalTargetOptions): Target {
  const refuse = () => Promise.reject(new Error("cannot restart a server the bench did not start"));
  return {
    label: "external",
    protocol: options.protocol,
    adapter: adapterFor(options.protocol),
    url: options.url,
    pid: options.pid ?? null,
    dataDir: options.dataDir ?? null,
    managed: false,
    persistent: null,
    restart: refuse,
    fresh: () => Promise.resolve(),
    complaints: () => [],
    close: () => Promise.resolve(),
  };
}
