import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { DEFAULT_RETENTION, parseRetention, RetentionError } from "./history/retention.ts";

/**
 * Every server setting, in one table: its default, its flag, its environment variable, its key
 * in the config file, and what it accepts. The CLI, the help text and the README's table all
 * come from here. Precedence: flag > environment > config file > default.
 */

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export const LOG_FORMATS = ["auto", "json", "pretty"] as const;
export const AUTH_MODES = ["none", "jwt"] as const;

const MiB = 1024 * 1024;

const integer = (min: number, max: number) =>
  z.coerce.number().int().min(min).max(max) as unknown as z.ZodType<number>;

const boolean = z.union([
  z.boolean(),
  z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .transform((v) => ["true", "1", "yes"].includes(v)),
]);

interface Setting<T> {
  description: string;
  accepted: string;
  default: T;
  schema: z.ZodType<T>;
  /** A flag that needs no value (`--fsync` means true). */
  isSwitch?: boolean;
  /** A list: the flag may repeat, the environment variable holds a comma-separated list. */
  isList?: boolean;
}

const list = z.array(z.string().min(1));
/** An optional path or secret: the empty string means "not set". */
const optionalString = z.string();

const setting = <T>(s: Setting<T>): Setting<T> => s;

export const SETTINGS = {
  host: setting({
    description: "Address to listen on",
    accepted: "a host name or IP address",
    default: "127.0.0.1",
    schema: z.string().min(1),
  }),
  port: setting({
    description: "Port for WebSocket and HTTP (0 picks a free port)",
    accepted: "an integer from 0 to 65535",
    default: 1234,
    schema: integer(0, 65535),
  }),
  data: setting({
    description: "Directory of the LevelDB database",
    accepted: "a directory path",
    default: "./data",
    schema: z.string().min(1),
  }),
  redisUrl: setting({
    description:
      "Redis for several instances (with --postgres-url): the shared log of every document",
    accepted: "a redis:// or rediss:// URL, or empty",
    default: "",
    schema: optionalString.refine((v) => v === "" || /^rediss?:\/\//.test(v)),
  }),
  postgresUrl: setting({
    description: "PostgreSQL for several instances (with --redis-url): compacted documents",
    accepted: "a postgres:// or postgresql:// URL, or empty",
    default: "",
    schema: optionalString.refine((v) => v === "" || /^postgres(ql)?:\/\//.test(v)),
  }),
  staticDir: setting({
    description: "Directory of a built web app to serve on the same port (the editor demo)",
    accepted: "a directory path, or empty for none",
    default: "",
    schema: optionalString,
  }),
  fsync: setting({
    description: "Sync every write to disk before acknowledging it (survives power loss)",
    accepted: "true or false",
    default: false,
    schema: boolean,
    isSwitch: true,
  }),
  compactAfterUpdates: setting({
    description: "Compact a document's log once it has at least this many updates...",
    accepted: "an integer from 1 to 1000000",
    default: 500,
    schema: integer(1, 1_000_000),
  }),
  compactionRatio: setting({
    description: "...and its bytes are at least this fraction of the compacted state's",
    accepted: "a number from 0 to 100",
    default: 0.5,
    schema: z.coerce.number().min(0).max(100) as unknown as z.ZodType<number>,
  }),
  maxLogUpdates: setting({
    description:
      "Compact a document's log at this many updates whatever its size (bounds load time)",
    accepted: "an integer from 1 to 10000000",
    default: 20_000,
    schema: integer(1, 10_000_000),
  }),
  compactWhenQuiet: setting({
    description:
      "Compact a document's log once it had no update for this many ms, and on unload and shutdown (0: none of these)",
    accepted: "an integer from 0 to 86400000",
    default: 5_000,
    schema: integer(0, 86_400_000),
  }),
  maxMessageSize: setting({
    description: "Largest WebSocket message accepted, in bytes (larger ones close with 1009)",
    accepted: "an integer from 1024 to 268435456",
    default: 1 * MiB,
    schema: integer(1024, 256 * MiB),
  }),
  auth: setting({
    description: "How clients authenticate: none, or JSON Web Tokens",
    accepted: AUTH_MODES.join(", "),
    default: "none" as (typeof AUTH_MODES)[number],
    schema: z.enum(AUTH_MODES),
  }),
  allowAnonymous: setting({
    description: "Allow --auth none on an address other than loopback",
    accepted: "true or false",
    default: false,
    schema: boolean,
    isSwitch: true,
  }),
  jwtSecret: setting({
    description: "HS256 secret for --auth jwt (prefer the environment variable)",
    accepted: "a string of at least 32 characters, or empty",
    default: "",
    schema: optionalString.refine((v) => v === "" || v.length >= 32),
  }),
  jwtPublicKey: setting({
    description: "PEM public key file for --auth jwt (EdDSA, ES256 or RS256)",
    accepted: "a file path, or empty",
    default: "",
    schema: optionalString,
  }),
  jwksFile: setting({
    description: "JSON Web Key Set file for --auth jwt (EdDSA, ES256 or RS256)",
    accepted: "a file path, or empty",
    default: "",
    schema: optionalString,
  }),
  tokenGrace: setting({
    description:
      "Milliseconds a connection may stay after its token expires while it fetches a fresh one",
    accepted: "an integer from 1000 to 3600000",
    default: 30_000,
    schema: integer(1000, 3_600_000),
  }),
  authTimeout: setting({
    description:
      "Milliseconds a new socket has to authenticate a document before it is closed (4408)",
    accepted: "an integer from 100 to 600000",
    default: 10_000,
    schema: integer(100, 600_000),
  }),
  socketTimeout: setting({
    description:
      "Milliseconds a socket may stay silent (no message, no answer to a ping) before it is closed as dead (4408)",
    accepted: "an integer from 100 to 3600000",
    default: 30_000,
    schema: integer(100, 3_600_000),
  }),
  showViewers: setting({
    description: "Relay the presence (awareness) of read-only connections",
    accepted: "true or false",
    default: false,
    schema: boolean,
    isSwitch: true,
  }),
  maxTokenLifetime: setting({
    description:
      "Longest a token may still be valid when presented, in ms; longer ones are refused (0: no limit)",
    accepted: "an integer from 0 to 315360000000",
    default: 24 * 3600 * 1000,
    schema: integer(0, 315_360_000_000),
  }),
  maxDocumentNameLength: setting({
    description:
      "Longest document name in bytes of UTF-8 (longer names, and control characters, close with 1007)",
    accepted: "an integer from 1 to 65536",
    default: 256,
    schema: integer(1, 65_536),
  }),
  maxAwarenessClientsPerMessage: setting({
    description: "Presence (awareness) entries one message may carry; a larger message is dropped",
    accepted: "an integer from 1 to 100000",
    default: 100,
    schema: integer(1, 100_000),
  }),
  maxAwarenessClientsPerConnection: setting({
    description: "Presence client ids one document connection may own; more are dropped",
    accepted: "an integer from 1 to 100000",
    default: 8,
    schema: integer(1, 100_000),
  }),
  allowedOrigin: setting({
    description:
      "Origins allowed to open a WebSocket (repeatable; none listed: the server's own under --auth none, any under jwt)",
    accepted: "origins such as https://app.example.com",
    default: [] as string[],
    schema: list,
    isList: true,
  }),
  trustedProxy: setting({
    description: "Proxy addresses whose X-Forwarded-For names the client (repeatable)",
    accepted: "IP addresses",
    default: [] as string[],
    schema: list,
    isList: true,
  }),
  adminToken: setting({
    description:
      "Bearer token of the admin API under /api/ (repeatable, for rotation; none and no --auth jwt: the API is off)",
    accepted: "strings of at least 32 characters",
    default: [] as string[],
    schema: z.array(z.string().min(32)),
    isList: true,
  }),
  maxDocumentSize: setting({
    description:
      "Largest stored size of a document in bytes; updates that would pass it are refused",
    accepted: "an integer from 1024 to 4294967296",
    default: 50 * MiB,
    schema: integer(1024, 4096 * MiB),
  }),
  // Issue 10 (hostile but well-formed updates). Pending: each later update of the document
  // re-reads what Yjs holds pending, ~0.1 ms per KiB; an honest client's briefly pending edits
  // (typed during a reconnect, before its sync) take a few hundred bytes.
  maxPendingBytes: setting({
    description: "Bytes a document may hold of updates that wait for state it lacks (more: 1007)",
    accepted: "an integer from 0 to 16777216",
    default: 4096,
    schema: integer(0, 16 * MiB),
  }),
  allowSubdocuments: setting({
    description: "Accept Yjs sub-documents in updates (each costs a whole Y.Doc in memory)",
    accepted: "true or false",
    default: false,
    schema: boolean,
    isSwitch: true,
  }),
  // Rich-text documents nest ~5–15 deep (lists in tables in lists); 64 leaves room for app data,
  // and 64 × maxChangedTypes bounds the parent walk Yjs does per update (< 1M steps).
  maxNestingDepth: setting({
    description: "Deepest nesting of shared types an update may create (deeper: 1007)",
    accepted: "an integer from 1 to 100000",
    default: 64,
    schema: integer(1, 100_000),
  }),
  // Existing types one transaction touches: one per edited paragraph or map; an editor's
  // "replace all" in a large document reaches thousands, not tens of thousands.
  maxChangedTypes: setting({
    description: "Most existing shared types one update may change (more: 1007)",
    accepted: "an integer from 1 to 10000000",
    default: 10_000,
    schema: integer(1, 10_000_000),
  }),
  messageRate: setting({
    description: "Messages per second a socket may send on average (0: no limit)",
    accepted: "an integer from 0 to 1000000",
    default: 1000,
    schema: integer(0, 1_000_000),
  }),
  messageBurst: setting({
    description: "Messages a socket may send at once above the average rate",
    accepted: "an integer from 1 to 1000000",
    default: 5000,
    schema: integer(1, 1_000_000),
  }),
  maxConnectionsPerIp: setting({
    description: "Open sockets per client address (0: no limit)",
    accepted: "an integer from 0 to 1000000",
    default: 100,
    schema: integer(0, 1_000_000),
  }),
  connectionsPerMinute: setting({
    description: "New sockets per client address per minute (0: no limit)",
    accepted: "an integer from 0 to 1000000",
    default: 600,
    schema: integer(0, 1_000_000),
  }),
  preAuthMaxBytes: setting({
    description: "Bytes a socket may queue before it has authenticated",
    accepted: "an integer from 1024 to 268435456",
    default: 5 * MiB,
    schema: integer(1024, 256 * MiB),
  }),
  preAuthMaxMessages: setting({
    description: "Messages a socket may queue before it has authenticated",
    accepted: "an integer from 1 to 1000000",
    default: 1000,
    schema: integer(1, 1_000_000),
  }),
  preAuthMaxDocuments: setting({
    description: "Documents a socket may ask for before any is authenticated",
    accepted: "an integer from 1 to 100000",
    default: 100,
    schema: integer(1, 100_000),
  }),
  maxBufferedBytes: setting({
    description: "Unread bytes a socket may hold beyond one message before it is closed (4429)",
    accepted: "an integer from 65536 to 4294967296",
    default: 16 * MiB,
    schema: integer(64 * 1024, 4096 * MiB),
  }),
  maxInflightBytes: setting({
    description:
      "Bytes of updates a socket may have sent and not had acknowledged before it is not read (until half are)",
    accepted: "an integer from 65536 to 4294967296",
    default: 4 * MiB,
    schema: integer(64 * 1024, 4096 * MiB),
  }),
  maxConcurrentLoads: setting({
    description: "Documents loaded from the store at once; more wait their turn (0: no limit)",
    accepted: "an integer from 0 to 100000",
    default: 4,
    schema: integer(0, 100_000),
  }),
  loadPatience: setting({
    description:
      "Milliseconds a document load keeps its turn; a slower one (a full disk, an engine away) lets the next start",
    accepted: "an integer from 1 to 600000",
    default: 1000,
    schema: integer(1, 600_000),
  }),
  maxSocketDocuments: setting({
    description: "Documents one socket may have open at once (0: no limit)",
    accepted: "an integer from 0 to 100000",
    default: 100,
    schema: integer(0, 100_000),
  }),
  maxUserDocuments: setting({
    description: "Documents one user (JWT sub) may have open at once on all sockets (0: no limit)",
    accepted: "an integer from 0 to 1000000",
    default: 500,
    schema: integer(0, 1_000_000),
  }),
  tlsCert: setting({
    description: "PEM certificate file: serve wss:// and https:// (with --tls-key)",
    accepted: "a file path, or empty",
    default: "",
    schema: optionalString,
  }),
  tlsKey: setting({
    description: "PEM private key file for --tls-cert",
    accepted: "a file path, or empty",
    default: "",
    schema: optionalString,
  }),
  shutdownTimeout: setting({
    description: "Milliseconds a graceful shutdown may take before the process exits anyway",
    accepted: "an integer from 100 to 600000",
    default: 10_000,
    schema: integer(100, 600_000),
  }),
  versions: setting({
    description:
      "Record version history: automatic versions, named versions and restore (off: the versions API answers 501)",
    accepted: "true or false",
    default: true,
    schema: boolean,
    isSwitch: true,
  }),
  versionIdle: setting({
    description: "Record an automatic version once a document had no change for this many ms",
    accepted: "an integer from 10 to 86400000",
    default: 60_000,
    schema: integer(10, 86_400_000),
  }),
  versionInterval: setting({
    description:
      "Record an automatic version at least this often (ms) while edits go on without a pause",
    accepted: "an integer from 10 to 604800000",
    default: 600_000,
    schema: integer(10, 604_800_000),
  }),
  versionRetention: setting({
    description:
      "Which automatic versions are kept as they age: tiers AGE:KEEP, youngest first (see Version history)",
    accepted: "tiers such as 24h:all,7d:1h,forever:1d",
    default: DEFAULT_RETENTION,
    schema: z.string(),
  }),
  logLevel: setting({
    description: "Least severe log level written",
    accepted: LOG_LEVELS.join(", "),
    default: "info" as (typeof LOG_LEVELS)[number],
    schema: z.enum(LOG_LEVELS),
  }),
  logFormat: setting({
    description: "Log format: JSON lines, or readable lines (auto: readable on a terminal)",
    accepted: LOG_FORMATS.join(", "),
    default: "auto" as (typeof LOG_FORMATS)[number],
    schema: z.enum(LOG_FORMATS),
  }),
  metrics: setting({
    description: "Serve Prometheus metrics at GET /metrics (--no-metrics: off)",
    accepted: "true or false",
    default: true,
    schema: boolean,
    isSwitch: true,
  }),
  metricsPort: setting({
    description:
      "Serve /metrics on this port of its own instead of the main port, which then answers 404 (0: on the main port)",
    accepted: "an integer from 0 to 65535",
    default: 0,
    schema: integer(0, 65535),
  }),
  metricsHost: setting({
    description: "Address the --metrics-port listens on (empty: the same as --host)",
    accepted: "a host name or IP address, or empty",
    default: "",
    schema: optionalString,
  }),
};

export type SettingName = keyof typeof SETTINGS;
export type ServerConfig = { [K in SettingName]: (typeof SETTINGS)[K]["default"] };

export const flagOf = (name: string): string =>
  `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
export const envOf = (name: string): string =>
  `TANDEM_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/** The config file is named by this flag or environment variable. */
export const CONFIG_FILE_FLAG = "--config";
export const CONFIG_FILE_ENV = "TANDEM_CONFIG";

/** A configuration problem, phrased for the person who made it. The CLI exits with code 2. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Source = "flag" | "environment" | "config file" | "default";

interface Sources {
  /** Command-line arguments after the command name. */
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
}

const settingNames = Object.keys(SETTINGS) as SettingName[];

function describeSource(name: SettingName, source: Source): string {
  if (source === "flag") return flagOf(name);
  if (source === "environment") return envOf(name);
  if (source === "config file") return `"${name}" in the config file`;
  return `the default of ${name}`;
}

function validate(name: SettingName, raw: unknown, source: Source): unknown {
  const spec = SETTINGS[name] as Setting<unknown>;
  const result = raw === "" ? null : spec.schema.safeParse(raw);
  if (!result?.success) {
    throw new ConfigError(
      `invalid ${describeSource(name, source)}: ${JSON.stringify(raw)} (accepted: ${spec.accepted})`,
    );
  }
  return result.data;
}

/** Splits `--name value`, `--name=value` and switches into raw strings by setting name. */
function parseFlags(argv: readonly string[]): {
  values: Map<SettingName, string | true | string[]>;
  configFile?: string;
} {
  const byFlag = new Map(settingNames.map((name) => [flagOf(name), name]));
  const values = new Map<SettingName, string | true | string[]>();
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    const next = (): string => {
      if (inline !== undefined) return inline;
      const value = argv[i + 1];
      if (value === undefined || value.startsWith("--")) {
        throw new ConfigError(`missing value for ${flag}`);
      }
      i++;
      return value;
    };
    if (flag === CONFIG_FILE_FLAG) {
      configFile = next();
      continue;
    }
    const negated = flag.startsWith("--no-") ? byFlag.get(`--${flag.slice(5)}`) : undefined;
    if (negated && (SETTINGS[negated] as Setting<unknown>).isSwitch && inline === undefined) {
      values.set(negated, "false");
      continue;
    }
    const name = byFlag.get(flag);
    if (!name) {
      throw new ConfigError(
        `unknown option ${JSON.stringify(flag)} (accepted: ${[CONFIG_FILE_FLAG, ...byFlag.keys()].join(", ")})`,
      );
    }
    const spec = SETTINGS[name] as Setting<unknown>;
    if (spec.isList) {
      const previous = values.get(name);
      values.set(name, [...(Array.isArray(previous) ? previous : []), next()]);
      continue;
    }
    values.set(name, spec.isSwitch && inline === undefined ? true : next());
  }
  return configFile === undefined ? { values } : { values, configFile };
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object of settings`);
  }
  for (const key of Object.keys(parsed)) {
    if (!(key in SETTINGS)) {
      throw new ConfigError(
        `unknown setting ${JSON.stringify(key)} in config file ${path} (accepted: ${settingNames.join(", ")})`,
      );
    }
  }
  return parsed as Record<string, unknown>;
}

/** Resolves the configuration from flags, environment, config file and defaults. */
export function resolveConfig({ argv, env }: Sources): ServerConfig {
  const { values: flags, configFile: fileFromFlag } = parseFlags(argv);
  const configFile = fileFromFlag ?? env[CONFIG_FILE_ENV];
  const file = configFile ? readConfigFile(configFile) : {};
  const config: Record<string, unknown> = {};
  for (const name of settingNames) {
    const flag = flags.get(name);
    const fromEnv = env[envOf(name)];
    if (flag !== undefined) config[name] = validate(name, flag, "flag");
    else if (fromEnv !== undefined && fromEnv !== "") {
      const raw = (SETTINGS[name] as Setting<unknown>).isList
        ? fromEnv.split(",").map((v) => v.trim())
        : fromEnv;
      config[name] = validate(name, raw, "environment");
    } else if (name in file) config[name] = validate(name, file[name], "config file");
    else config[name] = SETTINGS[name].default;
  }
  checkConfig(config as ServerConfig);
  return config as ServerConfig;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/;
export const isLoopback = (host: string): boolean => LOOPBACK.test(host);

/** Rules that involve more than one setting. Throws ConfigError naming them. */
export function checkConfig(config: ServerConfig): void {
  if (config.auth === "none" && !isLoopback(config.host) && !config.allowAnonymous) {
    throw new ConfigError(
      `refusing to serve ${config.host} without authentication: anyone who can reach it could read and change every document (set --auth jwt, or --allow-anonymous to accept that)`,
    );
  }
  const keys = [config.jwtSecret, config.jwtPublicKey, config.jwksFile].filter((v) => v !== "");
  if (config.auth === "jwt" && keys.length !== 1) {
    throw new ConfigError(
      `--auth jwt needs exactly one of --jwt-secret, --jwt-public-key, --jwks-file (${keys.length} given)`,
    );
  }
  if (config.staticDir && !existsSync(join(config.staticDir, "index.html"))) {
    throw new ConfigError(
      `--static-dir ${config.staticDir} has no index.html (build the app first: pnpm start builds the editor)`,
    );
  }
  if ((config.redisUrl === "") !== (config.postgresUrl === "")) {
    throw new ConfigError(
      "--redis-url and --postgres-url go together: give both (several instances share documents) or neither (one instance on --data)",
    );
  }
  if ((config.tlsCert === "") !== (config.tlsKey === "")) {
    throw new ConfigError("--tls-cert and --tls-key go together: give both or neither");
  }
  try {
    parseRetention(config.versionRetention);
  } catch (error) {
    if (!(error instanceof RetentionError)) throw error;
    throw new ConfigError(
      `invalid --version-retention ${JSON.stringify(config.versionRetention)}: ${error.message}`,
    );
  }
  if (config.metricsHost !== "" && config.metricsPort === 0) {
    throw new ConfigError(
      "--metrics-host needs --metrics-port: without a port of its own, /metrics is on the main port and address",
    );
  }
  if (config.metricsPort !== 0 && config.metricsPort === config.port) {
    throw new ConfigError(
      `--metrics-port ${config.metricsPort} is the main port: give another one, or 0 to serve /metrics on the main port`,
    );
  }
}

/** The defaults, with some settings overridden; for embedding and tests. */
export function defaultConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  const config = Object.fromEntries(settingNames.map((n) => [n, SETTINGS[n].default]));
  return { ...(config as ServerConfig), ...overrides };
}

/** Help text listing every setting. */
export function settingsHelp(): string {
  return settingNames
    .map((name) => {
      const spec = SETTINGS[name] as Setting<unknown>;
      return `  ${flagOf(name).padEnd(26)} ${spec.description}\n  ${"".padEnd(26)} env ${envOf(name)}, default ${JSON.stringify(spec.default)}; accepts ${spec.accepted}`;
    })
    .join("\n");
}
