import {
  connectClient,
  type SpawnedServer,
  spawnServer,
  type TestClient,
  tempDir,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";

const DOC = "durable";

/**
 * Writers that each append items to a shared Y.Array, one update at a time, and record an item as
 * acknowledged only once the server has acknowledged its update (the provider's unsynced count
 * is back to zero). Several writers run at once, so the server sees concurrent appends.
 */
class Writers {
  readonly acknowledged = new Set<string>();
  private running = true;
  private readonly loops: Promise<void>[];

  constructor(
    readonly clients: TestClient[],
    payloadBytes: number,
  ) {
    this.loops = clients.map((client, w) => this.write(client, w, "x".repeat(payloadBytes)));
  }

  private async write(client: TestClient, writer: number, padding: string): Promise<void> {
    await client.stored();
    const items = client.doc.getArray<string>("items");
    for (let n = 0; this.running; n++) {
      const item = `w${writer}-${n}`;
      items.push([`${item}|${padding}`]);
      try {
        await waitFor("ack", () => !this.running || !client.provider.hasUnsyncedChanges, {
          timeoutMs: 10_000,
          intervalMs: 1,
        });
      } catch {
        return;
      }
      if (!client.provider.hasUnsyncedChanges && this.running) this.acknowledged.add(item);
    }
  }

  /** Stops recording acknowledgements at once (call right before the kill). */
  freeze(): Set<string> {
    this.running = false;
    return new Set(this.acknowledged);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const c of this.clients) c.destroy();
  }
}

async function itemsAfterRestart(
  data: string,
): Promise<{ items: Set<string>; server: SpawnedServer }> {
  const server = await spawnServer(["--port", "0", "--data", data]);
  const reader = connectClient(server.url, DOC);
  await reader.synced();
  const items = new Set(reader.doc.getArray<string>("items").map((s) => s.split("|")[0] as string));
  reader.destroy();
  return { items, server };
}

describe("durability across a crash of the server process (SIGKILL)", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function run(args: string[], { writers = 4, payloadBytes = 16 } = {}) {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const server = await spawnServer(["--port", "0", "--data", dir.path, ...args]);
    cleanups.push(async () => {
      server.kill("SIGKILL");
      await server.exited;
    });
    const clients = Array.from({ length: writers }, () => connectClient(server.url, DOC));
    const stream = new Writers(clients, payloadBytes);
    cleanups.push(() => stream.stop());
    return { dir, server, stream };
  }

  async function killAndCheck(server: SpawnedServer, stream: Writers, data: string) {
    const acknowledged = stream.freeze();
    server.kill("SIGKILL");
    expect(await server.exited).toBe("SIGKILL");
    await stream.stop();
    const { items, server: restarted } = await itemsAfterRestart(data);
    cleanups.push(async () => {
      restarted.kill("SIGKILL");
      await restarted.exited;
    });
    const lost = [...acknowledged].filter((item) => !items.has(item));
    expect(lost, `acknowledged items lost: ${lost.slice(0, 10).join(", ")}`).toEqual([]);
    return { acknowledged, items };
  }

  it("keeps everything acknowledged before the kill", async () => {
    const { dir, server, stream } = await run([]);
    await waitFor("200 acknowledged items", () => stream.acknowledged.size >= 200);
    stream.freeze();
    await stream.stop();
    const acknowledged = new Set(stream.acknowledged);
    server.kill("SIGKILL");
    await server.exited;
    const { items, server: restarted } = await itemsAfterRestart(dir.path);
    cleanups.push(async () => {
      restarted.kill("SIGKILL");
      await restarted.exited;
    });
    for (const item of acknowledged) expect(items.has(item), item).toBe(true);
  });

  it("loses nothing acknowledged when the kill lands mid-stream", async () => {
    const { dir, server, stream } = await run([]);
    await waitFor("300 acknowledged items", () => stream.acknowledged.size >= 300);
    const { acknowledged } = await killAndCheck(server, stream, dir.path);
    expect(acknowledged.size).toBeGreaterThanOrEqual(300);
  });

  it("loses nothing acknowledged when the kill lands during a compaction", async () => {
    // Big updates and a low threshold make compactions frequent and long enough to hit.
    let landed = 0;
    for (let attempt = 0; attempt < 6 && landed === 0; attempt++) {
      const { dir, server, stream } = await run(
        ["--compact-after-updates", "20", "--compaction-ratio", "0", "--log-level", "debug"],
        { payloadBytes: 4096 },
      );
      await waitFor(
        "a few compactions",
        () => server.logs.filter((l) => l.msg === "compaction finished").length >= 3,
      );
      await waitFor(
        "a compaction to start",
        () => server.logs.at(-1)?.msg === "compaction started",
        {
          intervalMs: 1,
        },
      );
      await killAndCheck(server, stream, dir.path);
      // Whether the kill really landed inside the compaction: its "finished" line never came.
      const compactionLines = server.logs.filter((l) => l.msg.startsWith("compaction"));
      if (compactionLines.at(-1)?.msg === "compaction started") landed++;
    }
    expect(landed, "a kill landed while a compaction was running").toBeGreaterThan(0);
  }, 120_000);
});
