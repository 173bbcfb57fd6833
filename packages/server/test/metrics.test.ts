import { readFileSync } from "node:fs";
import { CloseCode } from "@tandem/protocol";
import { mintToken, resolveConfig } from "@tandem/server";
import {
  authFrame,
  connectClient,
  describeFrame,
  freePort,
  openRawSocket,
  startTestServer,
  type TestClient,
  type TestServer,
  updateFrame,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * GET /metrics on a real server after real traffic: providers and raw sockets over real
 * WebSockets, a real LevelDB store. Counters are compared before and after each step.
 */

const SECRET = "correct horse battery staple, 32+ characters";
const dashboard = JSON.parse(
  readFileSync(new URL("../../../docs/grafana-dashboard.json", import.meta.url), "utf8"),
) as unknown;

let server: TestServer;
const clients: TestClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server?.dispose();
});

const token = (sub: string, docs: Record<string, "read" | "write">, secret = SECRET) =>
  mintToken({ secret, sub, name: sub, docs, ttlSeconds: 300 });

const connect = (name: string, options: Parameters<typeof connectClient>[2] = {}) => {
  const client = connectClient(server.url, name, options);
  clients.push(client);
  return client;
};

async function scrapeText(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/plain");
  return response.text();
}

/** Samples by series, exactly as printed: `name{label="value"}` → value. */
type Samples = Map<string, number>;

async function scrape(): Promise<Samples> {
  const samples: Samples = new Map();
  for (const line of (await scrapeText(server.metricsUrl as string)).split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

const value = (samples: Samples, series: string) => samples.get(series) ?? 0;
const delta = (before: Samples, after: Samples, series: string) =>
  value(after, series) - value(before, series);

/** Waits until a scrape shows `series` at least `min` above `before`, and returns the scrape. */
const scrapeUntil = (before: Samples, series: string, min = 1) =>
  waitFor(`${series} to grow by ${min}`, async () => {
    const now = await scrape();
    return delta(before, now, series) >= min ? now : null;
  });

/** Every metric name the dashboard's queries use. */
function dashboardMetricNames(): Set<string> {
  const names = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === "object") {
      for (const [key, child] of Object.entries(node)) {
        if (key === "expr" && typeof child === "string") {
          for (const [name] of child.matchAll(/\b(tandem|nodejs|process)_[a-z0-9_]+/g)) {
            names.add(name);
          }
        } else visit(child);
      }
    }
  };
  visit(dashboard);
  return names;
}

/** The metric a series name belongs to (histograms expose _bucket, _sum and _count). */
const familyOf = (name: string, families: Set<string>) =>
  families.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");

describe("Prometheus metrics", () => {
  it("count a writer, a refused update, a bad token, a limit hit and a close code", async () => {
    server = await startTestServer({
      auth: "jwt",
      jwtSecret: SECRET,
      maxDocumentSize: 2048,
      maxMessageSize: 8192,
      // Only the compaction the test asks for.
      compactWhenQuiet: 0,
    });
    const writer = await token("ada", { "metrics-doc-*": "write" });
    const start = await scrape();
    expect(value(start, "tandem_sockets")).toBe(0);
    expect(value(start, "tandem_store_ready")).toBe(1);

    // A writer: three edits, each acknowledged once durable.
    const ada = connect("metrics-doc-secret-plan", { token: writer });
    await ada.synced();
    ada.provider.setAwarenessField("user", { color: "red" });
    const updateBytes: number[] = [];
    ada.doc.on("update", (update: Uint8Array) => updateBytes.push(update.byteLength));
    for (const word of ["one ", "two ", "three"]) {
      ada.doc.getText("t").insert(0, word);
      await ada.stored();
    }
    const written = await scrapeUntil(start, "tandem_updates_stored_total", 3);
    expect(delta(start, written, "tandem_updates_received_total")).toBe(3);
    expect(delta(start, written, "tandem_updates_stored_total")).toBe(3);
    expect(delta(start, written, "tandem_stored_bytes_total")).toBe(
      updateBytes.reduce((a, b) => a + b, 0),
    );
    expect(delta(start, written, "tandem_ack_latency_seconds_count")).toBeGreaterThanOrEqual(3);
    expect(value(written, "tandem_ack_latency_seconds_sum")).toBeGreaterThan(0);
    expect(delta(start, written, "tandem_store_append_seconds_count")).toBe(3);
    expect(delta(start, written, "tandem_store_batch_writes_count")).toBeGreaterThanOrEqual(1);
    expect(delta(start, written, "tandem_store_batch_writes_sum")).toBeGreaterThanOrEqual(3);
    expect(delta(start, written, "tandem_store_batch_bytes_sum")).toBeGreaterThan(0);
    expect(delta(start, written, "tandem_document_load_seconds_count")).toBe(1);
    expect(delta(start, written, "tandem_awareness_relayed_total")).toBeGreaterThanOrEqual(1);
    expect(value(written, "tandem_sockets")).toBe(1);
    expect(value(written, "tandem_authenticated_sockets")).toBe(1);
    expect(value(written, "tandem_document_connections")).toBe(1);
    expect(value(written, "tandem_documents")).toBe(1);

    // A compaction of the writer's log.
    const compaction = await server.store.compact("metrics-doc-secret-plan");
    expect(compaction).not.toBeNull();
    const compacted = await scrapeUntil(written, 'tandem_compactions_total{outcome="ok"}');
    expect(delta(written, compacted, 'tandem_compactions_total{outcome="ok"}')).toBe(1);
    expect(delta(written, compacted, "tandem_compaction_seconds_count")).toBe(1);
    expect(delta(written, compacted, "tandem_compaction_bytes_before_total")).toBe(
      compaction?.bytesBefore,
    );
    expect(delta(written, compacted, "tandem_compaction_bytes_after_total")).toBe(
      compaction?.bytesAfter,
    );

    // A read-only token's edit is refused by Hocuspocus.
    const grace = connect("metrics-doc-secret-plan", {
      token: await token("grace", { "metrics-doc-*": "read" }),
    });
    await grace.synced();
    grace.doc.getText("t").insert(0, "not allowed");
    const readOnly = await scrapeUntil(
      compacted,
      'tandem_updates_refused_total{reason="read_only"}',
    );
    expect(delta(compacted, readOnly, 'tandem_updates_refused_total{reason="read_only"}')).toBe(1);
    grace.destroy();

    // An update that would make a document too large: refused, and a limit hit.
    const raw = await openRawSocket(server.url);
    raw.send(authFrame("metrics-doc-big", writer));
    const first = await raw.nextMessageOrClose(0);
    expect("message" in first && describeFrame(first.message)).toBe("auth:authenticated");
    const big = new Y.Doc();
    big.getText("t").insert(0, "x".repeat(3000));
    raw.send(updateFrame("metrics-doc-big", Y.encodeStateAsUpdate(big)));
    const tooLarge = await scrapeUntil(
      readOnly,
      'tandem_updates_refused_total{reason="document_too_large"}',
    );
    expect(
      delta(readOnly, tooLarge, 'tandem_updates_refused_total{reason="document_too_large"}'),
    ).toBe(1);
    expect(delta(readOnly, tooLarge, 'tandem_limit_hits_total{limit="document_size"}')).toBe(1);
    expect(delta(readOnly, tooLarge, "tandem_updates_stored_total")).toBe(0);
    raw.ws.close();

    // A token signed with another secret.
    const mallory = connect("metrics-doc-secret-plan", {
      token: await token("mallory", { "metrics-doc-*": "write" }, "x".repeat(40)),
    });
    await waitFor("a denial", () => mallory.denials.length > 0);
    const denied = await scrapeUntil(
      tooLarge,
      'tandem_auth_failures_total{reason="token-signature-invalid"}',
    );
    expect(
      delta(tooLarge, denied, 'tandem_auth_failures_total{reason="token-signature-invalid"}'),
    ).toBe(mallory.denials.length);
    mallory.destroy();

    // A message over --max-message-size: ws closes the socket with 1009, a limit hit.
    const huge = await openRawSocket(server.url);
    huge.send(new Uint8Array(9000));
    expect((await huge.closed).code).toBe(CloseCode.MessageTooBig);
    // A text frame: Tandem closes the socket with 1003.
    const text = await openRawSocket(server.url);
    text.send("hello");
    expect((await text.closed).code).toBe(CloseCode.UnsupportedData);
    const closed = await scrapeUntil(denied, 'tandem_close_codes_total{code="1003"}');
    expect(delta(denied, closed, 'tandem_close_codes_total{code="1009"}')).toBe(1);
    expect(delta(denied, closed, 'tandem_limit_hits_total{limit="message_size"}')).toBe(1);
    expect(delta(denied, closed, 'tandem_close_codes_total{code="1003"}')).toBe(1);

    // Labels are bounded: no document, user or token in any series.
    const output = await scrapeText(server.metricsUrl as string);
    for (const secret of ["metrics-doc", "secret-plan", "ada", "grace", "mallory", writer]) {
      expect(output).not.toContain(secret);
    }
    for (const line of output.split("\n")) {
      if (!line.startsWith("tandem_")) continue;
      for (const [, label, labelValue] of line.matchAll(/([a-z_]+)="([^"]*)"/g)) {
        expect(["reason", "limit", "code", "outcome", "le"]).toContain(label);
        expect(labelValue).toMatch(/^[a-z0-9_.+-]+$|^\+Inf$/i);
      }
    }
    // The process's default metrics are there too.
    expect(output).toMatch(/^process_cpu_user_seconds_total /m);
    expect(output).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it("serves /metrics on --metrics-port alone, and the main port answers 404 there", async () => {
    const metricsPort = await freePort();
    server = await startTestServer({ metricsPort });
    expect(server.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}/metrics`);
    const ada = connect("metrics-port-doc");
    await ada.synced();
    const samples = await waitFor("the socket to show", async () => {
      const now = await scrape();
      return value(now, "tandem_sockets") === 1 ? now : null;
    });
    expect(value(samples, "tandem_documents")).toBe(1);
    expect((await fetch(`${server.httpUrl}/metrics`)).status).toBe(404);
    expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
  });

  it("refuses --metrics-host without --metrics-port, and --metrics-port on the main port", () => {
    const resolve = (...argv: string[]) => resolveConfig({ argv, env: {} });
    expect(() => resolve("--metrics-host", "10.0.0.1")).toThrow(
      /--metrics-host needs --metrics-port/,
    );
    expect(() => resolve("--port", "9000", "--metrics-port", "9000")).toThrow(
      /--metrics-port 9000 is the main port/,
    );
    const config = resolve("--metrics-port", "9464", "--metrics-host", "::1", "--no-metrics");
    expect(config).toMatchObject({ metrics: false, metricsPort: 9464, metricsHost: "::1" });
  });

  it("is off with --no-metrics", async () => {
    server = await startTestServer({ metrics: false });
    expect(server.metricsUrl).toBeNull();
    expect((await fetch(`${server.httpUrl}/metrics`)).status).toBe(404);
  });

  it("has every metric the Grafana dashboard queries", async () => {
    server = await startTestServer();
    const ada = connect("dashboard-doc");
    await ada.synced();
    ada.doc.getText("t").insert(0, "hello");
    await ada.stored();
    const output = await scrapeText(server.metricsUrl as string);
    const families = new Set(
      [...output.matchAll(/^# TYPE (\S+) /gm)].map(([, name]) => name as string),
    );
    const queried = dashboardMetricNames();
    expect(queried.size).toBeGreaterThan(15);
    const missing = [...queried].filter((name) => !families.has(familyOf(name, families)));
    expect(missing).toEqual([]);
  });
});
