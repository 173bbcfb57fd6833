import { hocuspocusAdapter } from "./hocuspocus.ts";
import type { Protocol, ProtocolAdapter } from "./types.ts";
import { yWebsocketAdapter } from "./y-websocket.ts";

export type { BenchClient, IdleSocket, Protocol, ProtocolAdapter } from "./types.ts";
export { PROTOCOLS } from "./types.ts";

export function adapterFor(protocol: Protocol): ProtocolAdapter {
  return protocol === "hocuspocus" ? hocuspocusAdapter : yWebsocketAdapter;
}
