import { ConfigError } from "../config.ts";
import { UnsafeEngineError } from "./redis-postgres/engine-checks.ts";
import type {
  ClusterStoreOptions,
  RedisPostgresStore,
} from "./redis-postgres/redis-postgres-store.ts";

/**
 * Opens the store of several instances (Redis + PostgreSQL). Its module, and with it the engines'
 * clients (ioredis, pg), is loaded only now: a single instance never needs them, and loading them
 * cost every start about 60 ms. A setting of Redis that would lose acknowledged edits is the
 * operator's to change, so it is a ConfigError.
 */
export async function openClusterStore(options: ClusterStoreOptions): Promise<RedisPostgresStore> {
  const { RedisPostgresStore } = await import("./redis-postgres/redis-postgres-store.ts");
  try {
    return await RedisPostgresStore.open(options);
  } catch (error) {
    if (error instanceof UnsafeEngineError) throw new ConfigError(error.message);
    throw error;
  }
}
