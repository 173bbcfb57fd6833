// Plain @hocuspocus/server, documents in memory only: the stock server with no extensions.
import { Server } from "@hocuspocus/server";
import { announce, envPort } from "./announce.ts";

const server = new Server({
  port: envPort(),
  address: "127.0.0.1",
  quiet: true,
  // The bench sends SIGTERM for a graceful stop; handled below so the exit is explicit.
  stopOnSignals: false,
});
await server.listen();
announce(server.address.port);

process.once("SIGTERM", () => {
  void server.destroy().finally(() => process.exit(0));
});
