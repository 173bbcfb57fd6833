import { format } from "node:util";
import type { Logger } from "./logger.ts";

const LEVELS = {
  error: "error",
  warn: "warn",
  info: "info",
  log: "info",
  debug: "debug",
  trace: "debug",
} as const;

type ConsoleMethod = keyof typeof LEVELS;

/**
 * Sends what libraries print with console.* through the server's logger instead of raw to
 * stdout/stderr. Hocuspocus logs this way (console.warn when a socket passes the pre-auth
 * bounds, naming the document; console.error for hook errors and for the reasons of refused
 * tokens), and a raw line is forgeable: a document name holding a newline and a JSON object
 * printed as a log line of its own. Through pino, the text is one escaped `msg` field of one JSON
 * line, at the matching level, marked `source: "console"`.
 *
 * This replaces the methods of the process's global console, so the CLI does it once for the
 * process it owns (`tandem serve`); an app that embeds startServer decides for itself. Returns a
 * function that puts the original methods back.
 */
export function routeConsoleToLogger(logger: Logger): () => void {
  const log = logger.child({ source: "console" });
  const originals = new Map<ConsoleMethod, (...args: unknown[]) => void>();
  for (const method of Object.keys(LEVELS) as ConsoleMethod[]) {
    originals.set(method, console[method]);
    const level = LEVELS[method];
    console[method] = (...args: unknown[]) => {
      const err = args.find((arg): arg is Error => arg instanceof Error);
      const message = format(...args.map((arg) => (err && arg === err ? err.message : arg)));
      if (err) log[level]({ err }, message);
      else log[level](message);
    };
  }
  return () => {
    for (const [method, original] of originals) console[method] = original;
  };
}
