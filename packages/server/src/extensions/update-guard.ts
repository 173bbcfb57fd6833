import type { beforeSyncPayload, Connection, Extension } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import { messageYjsSyncStep2, messageYjsUpdate } from "y-protocols/sync";
import * as Y from "yjs";
import type { Logger } from "../logger.ts";
import type { Metrics, RefusalReason } from "../metrics/registry.ts";
import type { UpdateLimits } from "../protocol/frame-screen.ts";
import {
  analyzeStructure,
  type ID,
  type ParentRef,
  type ScannedStruct,
  STRUCT_SKIP,
  scanUpdate,
  type UpdateScan,
} from "../protocol/update-scan.ts";

export interface UpdateGuardOptions extends UpdateLimits {
  /**
   * Bytes of updates a document may hold that Yjs keeps pending (their structs or deletions
   * depend on state the document does not have).
   */
  maxPendingBytes: number;
  logger: Logger;
  /** Told of each update the guard applied itself (ApplyOnce spares Hocuspocus the second). */
  applied?: (update: Uint8Array) => void;
  metrics?: Metrics | null;
}

/** A refusal that a limit made (the other refusals are of invalid updates), as metrics name it. */
type LimitRefusal = Extract<
  RefusalReason,
  "pending_dependencies" | "nesting_depth" | "changed_types"
>;

interface Problem {
  kind: LimitRefusal;
  reason: string;
}

const LIMIT_OF = {
  pending_dependencies: "pending_bytes",
  nesting_depth: "nesting_depth",
  changed_types: "changed_types",
} as const;

/** Thrown from beforeSync: Hocuspocus then neither applies the update nor acknowledges it. */
class Refused extends Error {
  readonly code = CloseCode.InvalidFrame;
  constructor(readonly reason: string) {
    super(reason);
  }
}

type Pending = Y.Doc["store"]["pendingStructs"];
/** Yjs's own type for a shared type (AbstractType<YEvent<any>>), as a root type is typed. */
type SharedType = Y.Doc["share"] extends Map<string, infer T> ? T : never;

/**
 * Checks each client update against the document it is for, then applies it itself, before
 * Hocuspocus does (runs after DocumentSizeLimit, before Durability stages the update):
 *
 * - Dependencies (issue 10, finding 2). Yjs keeps structs and deletions whose dependencies the
 *   document lacks "pending", and decodes and re-encodes them on every later update of the
 *   document, forever if they never resolve. In the Hocuspocus protocol the server is the hub:
 *   a client's update depends only on what it got from the server or made itself, and its
 *   SyncStep2 (sent on every connect) carries everything the server lacks. So an honest
 *   client's update is pending only briefly: an edit made right after a reconnect overtakes
 *   the SyncStep2 that carries the offline edits it builds on, or the server lost an
 *   unacknowledged update in a crash that a peer still holds. Those are small. Policy: an
 *   update with missing dependencies is accepted only while it and what the document already
 *   holds pending stay within `maxPendingBytes` (measured before applying from the update's
 *   size, and after applying from what Yjs really holds pending); otherwise it is refused.
 *   What is accepted pending is stored (it may resolve, and it is bounded), and compaction
 *   drops it if it never does. A refused honest client reconnects and its SyncStep2 brings
 *   the update together with its dependencies.
 * - Nesting and changed types (finding 5), completing the frame screen's check with the
 *   document: the depth of the types an update nests into, and the existing types its items
 *   and deletions land in.
 * - Updates that throw while applied (finding 7): y-protocols catches the error and
 *   Hocuspocus acknowledges and stores the update anyway. Applying it here first, inside a
 *   try, turns the throw into a refusal. When it succeeded, Hocuspocus's own apply is made
 *   empty (apply-once.ts) and it acknowledges as usual. Yjs has no rollback: the
 *   structs integrated before the throw stay in memory (and reach peers), but are not stored.
 *
 * A refusal closes the sender's socket with 1007, logs one line, and throws, so Hocuspocus
 * neither applies nor acknowledges the update, and nothing is stored.
 */
export class UpdateGuard implements Extension {
  extensionName = "tandem-update-guard";
  // After DocumentSizeLimit (1100), before Durability (1000) stages the update for storage.
  priority = 1050;

  constructor(private readonly options: UpdateGuardOptions) {}

  async beforeSync({ connection, type, payload, document }: beforeSyncPayload): Promise<void> {
    if (type !== messageYjsSyncStep2 && type !== messageYjsUpdate) return;
    // Hocuspocus never applies a read-only connection's update.
    if (connection.readOnly) return;
    if (payload.length === 2 && payload[0] === 0 && payload[1] === 0) return;
    const refuse = (
      kind: LimitRefusal | "invalid",
      reason: string,
      detail: Record<string, unknown> = {},
    ): never => {
      const { metrics } = this.options;
      if (metrics) {
        metrics.updateRefused(kind);
        if (kind !== "invalid") metrics.limitHit(LIMIT_OF[kind]);
      }
      this.options.logger.warn(
        { document: document.name, socketId: connection.socketId, reason, ...detail },
        "refused an update; closing the socket",
      );
      connection.webSocket.close(CloseCode.InvalidFrame, reason);
      throw new Refused(reason);
    };

    // The frame screen has checked the bytes; the scan here is cheap (no Y objects).
    const result = scanUpdate(payload, {
      refuseSubdocuments: !this.options.allowSubdocuments,
      keepDeletes: true,
    });
    if (!result.ok) return refuse("invalid", result.reason);
    const { scan } = result;
    const problem = this.checkAgainst(document, scan, payload.length);
    if (problem) return refuse(problem.kind, problem.reason);

    const pendingBefore = snapshotPending(document);
    try {
      Y.applyUpdate(document, payload, {
        source: "connection",
        connection,
      } satisfies { source: "connection"; connection: Connection });
    } catch (error) {
      return refuse("invalid", "update fails to apply", { err: error });
    }
    const pendingAfter = pendingBytes(document);
    if (pendingAfter > this.options.maxPendingBytes && pendingAfter > pendingBefore.bytes) {
      // Forget what this update added to the pending state; what it integrated stays.
      document.store.pendingStructs = pendingBefore.structs;
      document.store.pendingDs = pendingBefore.ds;
      return refuse("pending_dependencies", PENDING_REASON, { pendingBytes: pendingAfter });
    }
    this.options.applied?.(payload);
  }

  /** The checks that need the document; null when the update may be applied. */
  private checkAgainst(doc: Y.Doc, scan: UpdateScan, size: number): Problem | null {
    const { maxNestingDepth, maxChangedTypes, maxPendingBytes } = this.options;
    if (hasMissingDependencies(doc, scan) && pendingBytes(doc) + size > maxPendingBytes) {
      return { kind: "pending_dependencies", reason: PENDING_REASON };
    }
    const structure = analyzeStructure(scan);
    const types = new TypeResolver(doc, maxNestingDepth);
    for (const { depth, base } of structure.types) {
      if (types.depthOf(base) + depth > maxNestingDepth) {
        return {
          kind: "nesting_depth",
          reason: `update nests shared types deeper than ${maxNestingDepth}`,
        };
      }
    }
    // Types created by this update are not "changed" (Yjs fires no events for them).
    const changed = new Set<unknown>();
    for (const parent of structure.parents) {
      const type = types.resolve(parent);
      if (type !== null) changed.add(type);
    }
    if (changed.size > maxChangedTypes || !deletesWithin(doc, scan, changed, maxChangedTypes)) {
      return {
        kind: "changed_types",
        reason: `update changes more than ${maxChangedTypes} shared types`,
      };
    }
    return null;
  }
}

const PENDING_REASON = "update depends on state the document does not have";

/** What Yjs holds pending for a document, in bytes (its own encodings of it). */
function pendingBytes(doc: Y.Doc): number {
  return (doc.store.pendingStructs?.update.length ?? 0) + (doc.store.pendingDs?.length ?? 0);
}

function snapshotPending(doc: Y.Doc): { structs: Pending; ds: Uint8Array | null; bytes: number } {
  const pending = doc.store.pendingStructs;
  // Yjs mutates pendingStructs.missing in place; the update buffer is replaced, never mutated.
  const structs = pending ? { missing: new Map(pending.missing), update: pending.update } : null;
  return { structs, ds: doc.store.pendingDs, bytes: pendingBytes(doc) };
}

/**
 * Whether anything in the update depends on state that neither the document nor the update
 * itself has: a gap before a client's structs, a reference (origin, right origin, parent) past
 * what is known, or a deletion past it. Yjs would keep those pending.
 */
function hasMissingDependencies(doc: Y.Doc, scan: UpdateScan): boolean {
  const { structs } = scan;
  // How far each client's clock is known once the update's contiguous structs are added.
  const reach = new Map<number, number>();
  const reachOf = (client: number) => reach.get(client) ?? Y.getState(doc.store, client);
  let gap = false;
  for (const block of scan.clients) {
    let known = Y.getState(doc.store, block.client);
    for (let i = block.start; i < block.end; i++) {
      const s = structs[i] as ScannedStruct;
      if (s.ref === STRUCT_SKIP || s.clock > known) {
        // A Skip stands for structs this update does not carry; a later clock for a gap.
        if (s.clock + s.length > known) gap = true;
        break;
      }
      known = Math.max(known, s.clock + s.length);
    }
    reach.set(block.client, known);
  }
  if (gap) return true;
  const missing = (id: ID | null) => id !== null && id.clock >= reachOf(id.client);
  for (const s of structs) {
    if (missing(s.origin) || missing(s.rightOrigin) || missing(s.parentId)) return true;
  }
  for (const { client, ranges } of scan.deletes) {
    const known = reachOf(client);
    for (let i = 0; i < ranges.length; i += 2) {
      if ((ranges[i] as number) + (ranges[i + 1] as number) > known) return true;
    }
  }
  return false;
}

/** Finds the document's types behind the update's parent references, and their depths. */
class TypeResolver {
  private readonly depths = new Map<SharedType, number>();

  constructor(
    private readonly doc: Y.Doc,
    private readonly limit: number,
  ) {}

  /** The existing type (or root name) a parent reference lands in; null for the update's own. */
  resolve(parent: ParentRef): SharedType | string | null {
    switch (parent.kind) {
      case "root":
        return this.doc.share.get(parent.key) ?? `root:${parent.key}`;
      case "doc-type": {
        const item = this.itemAt(parent.id);
        return item?.content instanceof Y.ContentType ? item.content.type : null;
      }
      case "doc-neighbour": {
        const item = this.itemAt(parent.id);
        return item?.parent instanceof Y.AbstractType ? item.parent : null;
      }
      default:
        return null;
    }
  }

  /** Depth of a base: 0 for a root type or an unknown one. */
  depthOf(base: ParentRef): number {
    const type = this.resolve(base);
    return type === null || typeof type === "string" ? 0 : this.typeDepth(type);
  }

  private typeDepth(type: SharedType): number {
    const known = this.depths.get(type);
    if (known !== undefined) return known;
    let depth = 0;
    let at: SharedType = type;
    // Stop just past the limit: deeper is refused anyway (documents stored before the limit).
    while (at._item !== null && depth <= this.limit) {
      const parent = at._item.parent;
      if (!(parent instanceof Y.AbstractType)) break;
      depth++;
      at = parent;
    }
    this.depths.set(type, depth);
    return depth;
  }

  private itemAt(id: ID): Y.Item | null {
    if (id.clock >= Y.getState(this.doc.store, id.client)) return null;
    const struct = Y.getItem(this.doc.store, Y.createID(id.client, id.clock));
    return struct instanceof Y.Item ? struct : null;
  }
}

/**
 * Adds the types that the update's deletions change to `changed`; false once there are more
 * than `max`. Walks the document's structs in each deleted range, as applying does.
 */
function deletesWithin(doc: Y.Doc, scan: UpdateScan, changed: Set<unknown>, max: number): boolean {
  for (const { client, ranges } of scan.deletes) {
    const structs = doc.store.clients.get(client);
    if (!structs || structs.length === 0) continue;
    const state = Y.getState(doc.store, client);
    for (let r = 0; r < ranges.length; r += 2) {
      const clock = ranges[r] as number;
      const end = Math.min(clock + (ranges[r + 1] as number), state);
      if (clock >= end) continue;
      for (let i = Y.findIndexSS(structs, clock); i < structs.length; i++) {
        const struct = structs[i] as Y.Item | Y.GC;
        if (struct.id.clock >= end) break;
        if (
          struct instanceof Y.Item &&
          !struct.deleted &&
          struct.parent instanceof Y.AbstractType
        ) {
          changed.add(struct.parent);
          if (changed.size > max) return false;
        }
      }
    }
  }
  return true;
}
