import { createRequire } from "node:module";
import { type Logger, pino } from "pino";
import type PinoPretty from "pino-pretty";
import type { ServerConfig } from "./config.ts";

export type { Logger };

/**
 * Structured JSON logs (pino) for machines; readable lines when a person watches a terminal.
 * Writes are synchronous so the last lines before a crash or exit are not lost.
 */
export function createLogger(
  config: Pick<ServerConfig, "logLevel" | "logFormat">,
  stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout,
): Logger {
  const readable = config.logFormat === "pretty" || (config.logFormat === "auto" && stream.isTTY);
  const options = { level: config.logLevel, base: { pid: process.pid } };
  if (readable) {
    return pino(
      options,
      pretty({ destination: stream, sync: true, colorize: Boolean(stream.isTTY), ignore: "pid" }),
    );
  }
  return pino(
    options,
    stream === process.stdout ? pino.destination({ fd: 1, sync: true }) : stream,
  );
}

/**
 * pino-pretty, loaded when a readable log is asked for: a server logging JSON (in production, or
 * under a supervisor) never needs it, and loading it cost every start about 30 ms.
 */
function pretty(options: PinoPretty.PrettyOptions): PinoPretty.PrettyStream {
  return (createRequire(import.meta.url)("pino-pretty") as typeof PinoPretty)(options);
}

/** A logger that drops everything, for embedding and tests that do not read logs. */
export const silentLogger = (): Logger =>
  // A stream of its own: pino's default stdout destination registers a process exit listener
  // per logger, which piles up in a process that starts many servers (tests, embedding).
  pino({ level: "silent" }, { write: () => {} });

/**
 * A child logger made on first use. The gateway makes one per socket to tag its lines with the
 * client's address, and most sockets never log a line: a pino child costs about 200 bytes of
 * heap for as long as its socket is open.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): () => Logger {
  let child: Logger | undefined;
  return () => {
    child ??= parent.child(bindings);
    return child;
  };
}
