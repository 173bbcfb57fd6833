export {
  type Engine,
  freePort,
  type PostgresEngine,
  type RedisEngine,
  type RedisOptions,
  startPostgres,
  startRedis,
} from "./engines.ts";
export { type FaultProxy, startFaultProxy } from "./fault-proxy.ts";
export {
  authFrame,
  describeFrame,
  frame,
  readFrame,
  stateVectorFrame,
  syncFrame,
  updateFrame,
} from "./frames.ts";
export { GatedStore } from "./gated-store.ts";
export {
  manyRootsUpdate,
  nestedMapsUpdate,
  pendingDeletesUpdate,
  subdocumentsUpdate,
  throwsOnApplyUpdate,
  touchEachMapUpdate,
} from "./hostile-updates.ts";
export {
  connectClient,
  QuietWebSocket,
  type TestClient,
  type TestClientOptions,
} from "./providers.ts";
export { type Random, seededRandom } from "./random.ts";
export { openRawSocket, type RawSocket, tryUpgrade } from "./raw-socket.ts";
export { cleanupScope } from "./scope.ts";
export { limitHits, startGatedServer, startTestServer, type TestServer } from "./servers.ts";
export { runCli, type SpawnedServer, spawnServer } from "./spawn.ts";
export { tempDir } from "./temp.ts";
export { mountSmallDisk, type SmallDisk } from "./tmpfs.ts";
export {
  insertToken,
  NO_TOKEN_PROBLEMS,
  type TokenProblems,
  tokenProblems,
} from "./typing.ts";
export { textOfUpdate } from "./updates.ts";
export { StopWaiting, type WaitOptions, waitFor } from "./wait.ts";
