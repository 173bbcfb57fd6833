/**
 * What every launcher does once it listens: print one JSON line with its URL on stdout, which
 * src/servers.ts waits for (Tandem's own JSON log line has the same `url` field).
 */
export function announce(port: number): void {
  process.stdout.write(`${JSON.stringify({ url: `ws://127.0.0.1:${port}` })}\n`);
}

/** Port from the PORT environment variable (0, the default, picks a free one). */
export const envPort = (): number => Number(process.env.PORT ?? "0");

/** Directory for persistent launchers, from DATA_DIR; they refuse to start without it. */
export function envDataDir(): string {
  const dir = process.env.DATA_DIR;
  if (!dir) throw new Error("DATA_DIR must name the data directory");
  return dir;
}
