// @hocuspocus/server with @hocuspocus/extension-sqlite, as its documentation sets it up: one SQLite
// file, the extension's default schema, Hocuspocus's default store debounce (2 s, at most 10 s).
import { join } from "node:path";
import { SQLite } from "@hocuspocus/extension-sqlite";
import { Server } from "@hocuspocus/server";
import { announce, envDataDir, envPort } from "./announce.ts";

const server = new Server({
  port: envPort(),
  address: "127.0.0.1",
  quiet: true,
  stopOnSignals: false,
  extensions: [new SQLite({ database: join(envDataDir(), "db.sqlite") })],
});
await server.listen();
announce(server.address.port);

// destroy() runs the pending debounced stores before it resolves, as a stock shutdown would.
process.once("SIGTERM", () => {
  void server.destroy().finally(() => process.exit(0));
});
