import * as Y from "yjs";
import { changeLiveDocument, type LiveDocuments } from "../documents/live.ts";
import type { Logger } from "../logger.ts";
import type { VersionInfo, VersionStore } from "../store/document-store.ts";

export interface RestoreResult {
  /** The state right before the restore, recorded as a version of kind "restore". */
  before: VersionInfo;
  /** The version whose content the document now has. */
  restored: VersionInfo;
}

/** The label of the version recorded before restoring `version`. */
export const beforeRestoringLabel = (version: VersionInfo): string =>
  `Before restoring ${version.label ?? new Date(version.time).toISOString()}`;

/**
 * Restores versions: never a rewind of the log, but a new forward change. First the document's
 * durable state is recorded as a version "Before restoring …" (so a restore can be undone by
 * restoring that one), then ONE transaction is applied to the live document that makes its
 * content equal the version's (equalize.ts: only what differs changes). It goes through
 * Hocuspocus like any server-side change, so every connected client receives it and converges
 * without a reload, edits made meanwhile merge with it, and it is durable before restore()
 * resolves. Restores of one document run one after the other.
 */
export class Restorer {
  /** The restore running per document; an entry lives as long as its restore. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(
    private readonly live: LiveDocuments,
    private readonly versions: VersionStore,
    private readonly logger: Logger,
  ) {}

  /** Null when the document or the version does not exist. */
  restore(name: string, id: string): Promise<RestoreResult | null> {
    const previous = this.running.get(name) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(() => this.restoreNow(name, id));
    this.running.set(name, run);
    const forget = () => {
      if (this.running.get(name) === run) this.running.delete(name);
    };
    run.then(forget, forget);
    return run;
  }

  private async restoreNow(name: string, id: string): Promise<RestoreResult | null> {
    const version = await this.versions.read(name, id);
    if (!version) return null;
    const source = new Y.Doc();
    try {
      Y.applyUpdate(source, version.update);
      // Every edit that reached the server before the restore belongs to the state before it.
      await this.live.store.durable(name);
      const before = await this.versions.record(name, {
        kind: "restore",
        label: beforeRestoringLabel(version.info),
      });
      if (!before) return null;
      try {
        // Loaded on the first restore: it brings the content conversions (content/convert.ts).
        const { equalize } = await import("./equalize.ts");
        await changeLiveDocument(this.live, name, (doc) => equalize(doc, source));
      } catch (error) {
        // Nothing was restored (e.g. the document would pass --max-document-size): the version
        // recorded for undoing it would only mislead.
        await this.versions.delete(name, [before.id]).catch((deleteError: unknown) => {
          this.logger.warn(
            { err: deleteError, document: name, version: before.id },
            "could not delete the version recorded before a failed restore",
          );
        });
        throw error;
      }
      this.logger.info({ document: name, version: id, before: before.id }, "version restored");
      return { before, restored: version.info };
    } finally {
      source.destroy();
    }
  }
}
