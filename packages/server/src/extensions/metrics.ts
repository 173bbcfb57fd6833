import type {
  beforeSyncPayload,
  Connection,
  Extension,
  onAwarenessUpdatePayload,
} from "@hocuspocus/server";
import { messageYjsSyncStep2, messageYjsUpdate } from "y-protocols/sync";
import * as Y from "yjs";
import type { Metrics } from "../metrics/registry.ts";

export interface MetricsHooksOptions {
  metrics: Metrics;
  /** Told first, before any other extension, that a connection's update arrived (ack-gate.ts). */
  updateArrived: (connection: Connection) => void;
}

/**
 * Counts what Hocuspocus's hooks see: updates received (and those of read-only connections,
 * which Hocuspocus refuses itself), and presence updates relayed. Runs before every other
 * extension's beforeSync, so the arrival time it reports starts the acknowledgement latency.
 */
export class MetricsHooks implements Extension {
  extensionName = "tandem-metrics";
  // Before DocumentSizeLimit (1100), the first of Tandem's beforeSync hooks.
  priority = 10_000;

  constructor(private readonly options: MetricsHooksOptions) {}

  async beforeSync({ connection, type, payload, document }: beforeSyncPayload): Promise<void> {
    if (type !== messageYjsSyncStep2 && type !== messageYjsUpdate) return;
    // Read-only connections are acknowledged by Hocuspocus, not through the ack gate.
    if (!connection.readOnly) this.options.updateArrived(connection);
    // An empty update ([0, 0]: "I have nothing you lack") is part of every sync, not an edit.
    if (payload.length === 2 && payload[0] === 0 && payload[1] === 0) return;
    const { metrics } = this.options;
    metrics.updateReceived();
    if (!connection.readOnly) return;
    // Hocuspocus refuses a read-only connection's update, and its sync step 2 when it carries
    // something the document lacks (once per connect; the same check Hocuspocus makes).
    if (type === messageYjsUpdate || !Y.snapshotContainsUpdate(Y.snapshot(document), payload)) {
      metrics.updateRefused("read_only");
    }
  }

  async onAwarenessUpdate(_payload: onAwarenessUpdatePayload): Promise<void> {
    this.options.metrics.awarenessUpdated();
  }
}
