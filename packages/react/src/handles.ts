import type { OpenOptions, TandemClient, TandemDocument } from "@tandem/provider";
import { CloseLater, RELEASE_GRACE_MS, UNCOMMITTED_HOLD_MS } from "./close-later.ts";

/**
 * The document handles the hooks opened on one client, counted by the components using them.
 *
 * A client allows one handle per document name, and React renders a component before it
 * commits it, twice under StrictMode, and may throw renders away. So a handle is opened (or
 * found) during render, is counted only once an effect has committed, and is closed a moment
 * after the count drops to zero: StrictMode's unmount-and-remount and two components sharing a
 * document reuse one handle, and a handle nobody committed to is closed after a hold.
 */
export class HandleRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly client: TandemClient) {}

  /**
   * For render: the open handle of `name`, opened now if there is none. `options` apply only
   * when this opens the handle.
   */
  handleFor(name: string, options: OpenOptions | undefined): TandemDocument {
    let entry = this.entries.get(name);
    if (entry?.handle.closed) {
      // Closed behind our back (the app called close(), or closed the client): forget it.
      entry.closer.cancel();
      this.entries.delete(name);
      entry = undefined;
    }
    if (!entry) {
      const created: Entry = {
        handle: this.client.open(name, options),
        users: 0,
        closer: new CloseLater(() => this.closeUnused(created)),
      };
      this.entries.set(name, created);
      entry = created;
    }
    // Nobody committed to it yet (or any more): closed unless an effect retains it in time.
    if (entry.users === 0) entry.closer.schedule(UNCOMMITTED_HOLD_MS);
    return entry.handle;
  }

  /**
   * For an effect: counts one more user of `handle` and returns the function that releases it,
   * or null if `handle` is no longer this registry's open handle (it was closed since the
   * render): the component must render again to get the current one.
   */
  retain(handle: TandemDocument): (() => void) | null {
    const entry = this.entries.get(handle.name);
    if (!entry || entry.handle !== handle || handle.closed) return null;
    entry.users++;
    entry.closer.cancel();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.users--;
      if (entry.users === 0) entry.closer.schedule(RELEASE_GRACE_MS);
    };
  }

  private closeUnused(entry: Entry): void {
    if (entry.users > 0) return;
    if (this.entries.get(entry.handle.name) === entry) this.entries.delete(entry.handle.name);
    // close() never rejects; unacknowledged changes are the app's to await (whenStored()).
    void entry.handle.close();
  }
}

interface Entry {
  readonly handle: TandemDocument;
  /** Committed components using the handle. */
  users: number;
  readonly closer: CloseLater;
}

/** One registry per client, kept no longer than the client itself. */
const registries = new WeakMap<TandemClient, HandleRegistry>();

export function registryFor(client: TandemClient): HandleRegistry {
  let registry = registries.get(client);
  if (!registry) {
    registry = new HandleRegistry(client);
    registries.set(client, registry);
  }
  return registry;
}
