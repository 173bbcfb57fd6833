import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from "prom-client";
import type { TokenError } from "../auth/tokens.ts";
import type { CompactionResult } from "../store/document-store.ts";
import { FastCounter, FastHistogram } from "./fast.ts";

/**
 * The server's Prometheus metrics: one Metrics object per server (tests start many servers in
 * one process, so nothing goes to prom-client's global registry), handed to the places where
 * events happen, which call its verbs. Labels take values from the fixed sets below only:
 * never a document name, a user, an address or a client's string.
 *
 * The process metrics (CPU, memory, event-loop lag, GC) describe the process, not a server:
 * they live in one registry per process, created by the first server, and are appended to every
 * scrape.
 */

/** Why an update a client sent was not applied and stored. */
export const REFUSAL_REASONS = [
  "read_only",
  "document_too_large",
  "invalid",
  "pending_dependencies",
  "nesting_depth",
  "changed_types",
] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** The configured limits that refuse or close something. */
export const LIMITS = [
  "message_rate",
  "message_size",
  "connections_per_ip",
  "connections_per_minute",
  "auth_timeout",
  "socket_timeout",
  "send_buffer",
  "catch_up",
  "inflight_bytes",
  "socket_documents",
  "user_documents",
  "document_size",
  "pending_bytes",
  "nesting_depth",
  "changed_types",
  "awareness_entries",
  "awareness_clients",
] as const;
export type LimitName = (typeof LIMITS)[number];

/** Why a token was refused (a token reason, or a refusal without one). */
export const AUTH_FAILURE_REASONS = [
  "token-missing",
  "token-malformed",
  "token-signature-invalid",
  "token-expired",
  "token-lifetime-too-long",
  "token-claims-invalid",
  "no-access",
  "permission-denied",
] as const satisfies readonly (TokenError["reason"] | "permission-denied")[];
export type AuthFailureReason = TokenError["reason"] | "permission-denied";

/** What the gauges read at scrape time. */
export interface GaugeSources {
  /** Open WebSockets. */
  sockets(): number;
  /** Sockets with at least one authenticated document connection. */
  authenticatedSockets(): number;
  /** Open document connections (one per document per socket). */
  documentConnections(): number;
  /** Documents loaded in memory. */
  documents(): number;
  /** Document loads waiting for a turn (--max-concurrent-loads). */
  loadsWaiting(): number;
  /** Whether the store takes writes now. */
  storeReady(): boolean;
}

const seconds = (ms: number) => ms / 1000;

/** 0.5 ms to 10 s: acknowledgements and appends are a few ms; a full disk holds them longer. */
const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const SLOW_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BATCH_WRITES_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
const BATCH_BYTES_BUCKETS = [256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304];

/** Close codes are the server's own, but a label must never carry an unexpected value. */
const closeCodeLabel = (code: number): string =>
  (code >= 1000 && code <= 1015) || (code >= 3000 && code <= 4999) ? String(code) : "other";

let processRegistry: Registry | null = null;

/** The process's default metrics, collected once per process however many servers run. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class Metrics {
  readonly registry = new Registry();
  private sources: GaugeSources | null = null;

  private readonly updatesReceived = this.counter(
    "tandem_updates_received_total",
    "Document updates received from clients (non-empty sync step 2 and update messages)",
  );
  private readonly updatesStored = this.counter(
    "tandem_updates_stored_total",
    "Client updates stored durably and acknowledged",
  );
  private readonly bytesStored = this.counter(
    "tandem_stored_bytes_total",
    "Bytes of client updates stored durably and acknowledged",
  );
  private readonly updatesRefused = this.labelled(
    "tandem_updates_refused_total",
    "Client updates refused (neither applied nor stored), by reason",
    "reason",
    REFUSAL_REASONS,
  );
  private readonly ackLatency = this.histogram(
    "tandem_ack_latency_seconds",
    "From an update's arrival (its first beforeSync hook) to its acknowledgement (SyncStatus) being sent",
    LATENCY_BUCKETS,
  );
  private readonly appendLatency = this.histogram(
    "tandem_store_append_seconds",
    "From an append to the store to the update being durable (waiting for its batch included)",
    LATENCY_BUCKETS,
  );
  private readonly batchWrites = this.histogram(
    "tandem_store_batch_writes",
    "Writes (appends, compactions) group-committed in one store batch",
    BATCH_WRITES_BUCKETS,
  );
  private readonly batchBytes = this.histogram(
    "tandem_store_batch_bytes",
    "Bytes of values written in one store batch",
    BATCH_BYTES_BUCKETS,
  );
  private readonly batchLatency = this.histogram(
    "tandem_store_batch_seconds",
    "Time to write one store batch durably (retries while the storage fails included)",
    LATENCY_BUCKETS,
  );
  private readonly loadTime = this.histogram(
    "tandem_document_load_seconds",
    "Time to load a document from the store into memory",
    SLOW_BUCKETS,
  );
  private readonly compactions = this.labelled(
    "tandem_compactions_total",
    "Compactions of a document's log into its state, by outcome (ok, failed)",
    "outcome",
    ["ok", "failed"],
  );
  private readonly compactionTime = this.histogram(
    "tandem_compaction_seconds",
    "Duration of a successful compaction",
    SLOW_BUCKETS,
  );
  private readonly compactionBytesBefore = this.counter(
    "tandem_compaction_bytes_before_total",
    "Stored bytes (state plus log) of compacted documents before their compaction",
  );
  private readonly compactionBytesAfter = this.counter(
    "tandem_compaction_bytes_after_total",
    "Stored bytes (state plus log) of compacted documents after their compaction",
  );
  private readonly closeCodes = this.labelled(
    "tandem_close_codes_total",
    "WebSocket close frames the server sent, by close code",
    "code",
  );
  private readonly authFailures = this.labelled(
    "tandem_auth_failures_total",
    "Tokens refused when opening a document or refreshing a token, by reason",
    "reason",
    AUTH_FAILURE_REASONS,
  );
  private readonly limitHits = this.labelled(
    "tandem_limit_hits_total",
    "Times a configured limit refused or closed something, by limit",
    "limit",
    LIMITS,
  );
  private readonly awarenessRelayed = this.counter(
    "tandem_awareness_relayed_total",
    "Presence (awareness) updates relayed to a document's connections",
  );

  constructor() {
    this.gauge("tandem_sockets", "Open WebSockets", (s) => s.sockets());
    this.gauge(
      "tandem_authenticated_sockets",
      "WebSockets with at least one authenticated document",
      (s) => s.authenticatedSockets(),
    );
    this.gauge(
      "tandem_document_connections",
      "Open document connections (one per document per socket)",
      (s) => s.documentConnections(),
    );
    this.gauge("tandem_documents", "Documents loaded in memory", (s) => s.documents());
    this.gauge(
      "tandem_document_loads_waiting",
      "Document loads waiting for a turn (--max-concurrent-loads)",
      (s) => s.loadsWaiting(),
    );
    this.gauge("tandem_store_ready", "1 while the store takes writes, else 0", (s) =>
      s.storeReady() ? 1 : 0,
    );
  }

  /** Where the gauges read their values; before this they read 0. */
  observe(sources: GaugeSources): void {
    this.sources = sources;
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition: this server's metrics, then the process's. */
  async scrape(): Promise<string> {
    return (await this.registry.metrics()) + (await processMetrics().metrics());
  }

  updateReceived(): void {
    this.updatesReceived.inc();
  }

  updateRefused(reason: RefusalReason): void {
    this.updatesRefused.inc({ reason });
  }

  /** An acknowledgement was sent `ms` after its update arrived; `bytes` stored (0: none new). */
  acknowledged(ms: number, bytes: number): void {
    this.ackLatency.observe(seconds(ms));
    if (bytes > 0) {
      this.updatesStored.inc();
      this.bytesStored.inc(bytes);
    }
  }

  appended(ms: number): void {
    this.appendLatency.observe(seconds(ms));
  }

  batchWritten(writes: number, bytes: number, ms: number): void {
    this.batchWrites.observe(writes);
    this.batchBytes.observe(bytes);
    this.batchLatency.observe(seconds(ms));
  }

  documentLoaded(ms: number): void {
    this.loadTime.observe(seconds(ms));
  }

  compacted(result: CompactionResult, ms: number): void {
    this.compactions.inc({ outcome: "ok" });
    this.compactionTime.observe(seconds(ms));
    this.compactionBytesBefore.inc(result.bytesBefore);
    this.compactionBytesAfter.inc(result.bytesAfter);
  }

  compactionFailed(): void {
    this.compactions.inc({ outcome: "failed" });
  }

  closeSent(code: number): void {
    this.closeCodes.inc({ code: closeCodeLabel(code) });
  }

  authFailed(reason: AuthFailureReason): void {
    this.authFailures.inc({ reason });
  }

  limitHit(limit: LimitName): void {
    this.limitHits.inc({ limit });
  }

  awarenessUpdated(): void {
    this.awarenessRelayed.inc();
  }

  /** A counter on a path every update takes. */
  private counter(name: string, help: string): FastCounter {
    return new FastCounter(this.registry, name, help);
  }

  /** A counter with one label, for events that are rare (refusals, failures, closes). */
  private labelled(
    name: string,
    help: string,
    label: string,
    known: readonly string[] = [],
  ): Counter {
    const counter = new Counter({ name, help, labelNames: [label], registers: [this.registry] });
    // Known values start at 0, so a rate over the first occurrence is not lost.
    for (const value of known) counter.inc({ [label]: value }, 0);
    return counter;
  }

  private histogram(name: string, help: string, buckets: number[]): FastHistogram {
    return new FastHistogram(this.registry, name, help, buckets);
  }

  private gauge(name: string, help: string, read: (sources: GaugeSources) => number): Metric {
    const metrics = this;
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        this.set(metrics.sources ? read(metrics.sources) : 0);
      },
    });
  }
}
