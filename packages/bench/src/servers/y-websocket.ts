// The reference y-websocket server (@y/websocket-server), set up like its bin (src/server.js) but
// bound to 127.0.0.1 and announcing the port it got. Persistence is its stock y-leveldb binding,
// which utils.js enables when YPERSISTENCE names a directory at import time.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { announce, envDataDir, envPort } from "./announce.ts";

process.env.YPERSISTENCE = envDataDir();
const { setupWSConnection, getPersistence } = await import("@y/websocket-server/utils");

const wss = new WebSocketServer({ noServer: true });
const server = http.createServer((_request, response) => {
  response.writeHead(200, { "Content-Type": "text/plain" });
  response.end("okay");
});
wss.on("connection", setupWSConnection);
server.on("upgrade", (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
});
server.listen(envPort(), "127.0.0.1", () => announce((server.address() as AddressInfo).port));

// The stock bin has no shutdown handler. On SIGTERM close LevelDB cleanly, so a graceful restart
// is as kind to this server as to the others; SIGKILL stays as abrupt as for everyone.
process.once("SIGTERM", () => {
  const persistence = getPersistence() as { provider?: { destroy(): Promise<void> } } | null;
  server.close();
  for (const ws of wss.clients) ws.terminate();
  void Promise.resolve(persistence?.provider?.destroy()).finally(() => process.exit(0));
});
