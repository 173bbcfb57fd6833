import { ConfigError, resolveConfig, type ServerConfig, settingsHelp } from "./config.ts";
import { routeConsoleToLogger } from "./console-to-logger.ts";
import { createLogger, type Logger } from "./logger.ts";
import {
  BACKUP_USAGE,
  backupCommand,
  RESTORE_USAGE,
  restoreCommand,
} from "./maintenance/backup.ts";
import { CHECK_USAGE, checkCommand } from "./maintenance/check.ts";
import {
  EXPORT_USAGE,
  exportCommand,
  IMPORT_USAGE,
  importCommand,
} from "./maintenance/export-import.ts";
import { IMPORT_PEER_USAGE, importPeerCommand } from "./maintenance/import-peer.ts";
import { MIGRATE_USAGE, migrateCommand } from "./maintenance/migrate.ts";
import { REPAIR_USAGE, repairCommand } from "./maintenance/repair.ts";
import { startServer } from "./server.ts";
import { TOKEN_USAGE, tokenCommand } from "./token-command.ts";

const USAGE = `Usage: tandem <command> [options]

Commands:
  serve      Start the sync server
  token      Mint an access token (tandem token --help)
  check      Verify every document of a stopped server's data directory (tandem check --help)
  repair     Salvage a damaged data directory into a new one (tandem repair --help)
  export     Write documents as Markdown, HTML, JSON, text or Yjs (tandem export --help)
  import     Read such files into documents, or bring documents over from another Yjs server
             (tandem import --from y-leveldb DIR | --from hocuspocus-sqlite FILE; tandem import --help)
  backup     Back up every document, from a running server or a data directory (tandem backup --help)
  restore    Restore a backup into an empty data directory (tandem restore --help)
  migrate    Copy every document between a data directory and Redis + PostgreSQL (tandem migrate --help)
  help       Show this help

Options of serve (flag > environment > config file > default):
  --config FILE              A JSON file of settings (env TANDEM_CONFIG)
${settingsHelp()}
`;

/** Exit codes: 0 ok, 1 failure at run time, 2 bad usage or configuration. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "token") return token(rest);
  if (command === "check") return maintenance(rest, CHECK_USAGE, checkCommand);
  if (command === "repair") return maintenance(rest, REPAIR_USAGE, repairCommand);
  if (command === "export") return maintenance(rest, EXPORT_USAGE, exportCommand);
  if (command === "import") {
    // Files (exports) by default; --from names another server's store to bring documents from.
    const fromPeer = rest.some((arg) => arg === "--from" || arg.startsWith("--from="));
    return fromPeer
      ? maintenance(rest, IMPORT_PEER_USAGE, importPeerCommand)
      : maintenance(rest, `${IMPORT_USAGE}\n${IMPORT_PEER_USAGE}`, importCommand);
  }
  if (command === "backup") return maintenance(rest, BACKUP_USAGE, backupCommand);
  if (command === "restore") return maintenance(rest, RESTORE_USAGE, restoreCommand);
  if (command === "migrate") return maintenance(rest, MIGRATE_USAGE, migrateCommand);
  if (command !== "serve") {
    process.stderr.write(
      `tandem: unknown command ${JSON.stringify(command)} (accepted: serve, token, check, repair, export, import, backup, restore, migrate, help)\n`,
    );
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(USAGE);
    return 0;
  }
  let config: ServerConfig;
  try {
    config = resolveConfig({ argv: rest, env: process.env });
  } catch (error) {
    return configFailure(error);
  }
  return serve(config, createLogger(config));
}

async function token(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(TOKEN_USAGE);
    return 0;
  }
  try {
    process.stdout.write(`${await tokenCommand(argv, process.env)}\n`);
    return 0;
  } catch (error) {
    return configFailure(error);
  }
}

type MaintenanceCommand = (
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
  progress: (line: string) => void,
) => Promise<number>;

/**
 * check, repair, export, import, backup, restore, migrate: a report on stdout, progress of long
 * runs on stderr; a store that cannot be read is one line and 1.
 */
async function maintenance(
  argv: readonly string[],
  usage: string,
  command: MaintenanceCommand,
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(usage);
    return 0;
  }
  try {
    return await command(
      argv,
      process.env,
      (line) => process.stdout.write(`${line}\n`),
      (line) => process.stderr.write(`${line}\n`),
    );
  } catch (error) {
    if (error instanceof ConfigError) return configFailure(error);
    process.stderr.write(`tandem: ${(error as Error).message}\n`);
    return 1;
  }
}

/** A configuration error is one line naming what is wrong, and exit code 2. */
function configFailure(error: unknown): number {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`tandem: ${error.message}\n`);
  return 2;
}

async function serve(config: ServerConfig, logger: Logger): Promise<number> {
  // Every line this process writes is a log line of the logger, also what libraries print.
  routeConsoleToLogger(logger);
  // Hocuspocus calls some hooks without awaiting them; Tandem guards its own, and this keeps a
  // stray rejection from a library from taking every connected client down with the process.
  process.on("unhandledRejection", (reason) => {
    logger.error({ err: reason }, "unhandled promise rejection");
  });

  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(config, { logger });
  } catch (error) {
    if (error instanceof ConfigError) return configFailure(error);
    logger.fatal({ err: error }, "could not start");
    return 1;
  }
  // The signal handlers go in before "listening" is logged: until a process handles SIGTERM,
  // SIGTERM kills it at once, and a supervisor (or a test) may send it as soon as it reads that.
  const exited = new Promise<number>((resolveExit) => {
    const shutdown = (signal: NodeJS.Signals) => {
      logger.info({ signal }, "shutting down");
      const timer = setTimeout(() => {
        logger.error({ timeoutMs: config.shutdownTimeout }, "shutdown timed out");
        resolveExit(1);
      }, config.shutdownTimeout);
      timer.unref();
      server.stop().then(
        () => {
          clearTimeout(timer);
          logger.info("stopped");
          resolveExit(0);
        },
        (error: unknown) => {
          logger.error({ err: error }, "shutdown failed");
          resolveExit(1);
        },
      );
    };
    process.once("SIGTERM", shutdown);
    process.once("SIGINT", shutdown);
  });
  logger.info(
    {
      url: server.url,
      http: server.httpUrl,
      metrics: server.metricsUrl,
      data: config.data,
      fsync: config.fsync,
    },
    `listening on ${server.url}`,
  );
  if (config.staticDir)
    logger.info({ open: `${server.httpUrl}/` }, `open ${server.httpUrl}/ in a browser`);

  return exited;
}
