import { mkdtempSync } from "node:fs";
import * as Y from "yjs";
import { LevelDocumentStore } from "./src/index.ts";

const path = mkdtempSync("/tmp/probe-");
const store = await LevelDocumentStore.open({
  path,
  fsync: false,
  compaction: { maxUpdates: 500, maxBytes: 1 << 20 },
  events: { compacted: (r, ms) => console.log("compacted", r.merged, r.bytesAfter, ms.toFixed(1)) },
});
const doc = new Y.Doc();
const text = doc.getText("t");
const pending: Promise<void>[] = [];
doc.on("update", (u: Uint8Array) => pending.push(store.append("big", u)));
const t0 = performance.now();
for (let i = 0; i < 100_000; i++) {
  text.insert(text.length, "a");
  if (pending.length >= 5000) await Promise.all(pending.splice(0));
}
await Promise.all(pending);
console.log("appends done", (performance.now() - t0).toFixed(0));
await store.close();
