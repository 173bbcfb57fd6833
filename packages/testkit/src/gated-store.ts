import type { Author, DocumentStore, RemoteUpdates } from "@tandem/server";

/** Calls that wait while it is held: passed at once otherwise. */
export class Barrier {
  private held: (() => void)[] | null = null;

  /** Calls waiting at the barrier. */
  get waiting(): number {
    return this.held?.length ?? 0;
  }

  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const go of held) go();
  }

  /** Lets the oldest waiting call through; the barrier stays up for the others. */
  releaseOne(): void {
    this.held?.shift()?.();
  }

  async pass(): Promise<void> {
    if (this.held) await new Promise<void>((go) => this.held?.push(go));
  }
}

/**
 * A real store whose appends can be held back: while held, appends start (and are counted) but
 * do not reach the inner store until release(). For showing that an acknowledgement waits for
 * the disk. Loads can be held the same way (`loads`). Everything else passes straight through.
 */
export class GatedStore implements DocumentStore {
  private readonly appends = new Barrier();
  /** Loads wait here while held (they have passed the server's own admission). */
  readonly loads = new Barrier();
  /** Loads that reached this store (waiting at `loads` or done). */
  loadsStarted = 0;
  private failures = 0;
  /** Appends that reached the inner store and completed. */
  completedAppends = 0;
  /** Appends waiting at the gate. */
  get waiting(): number {
    return this.appends.waiting;
  }

  constructor(readonly inner: DocumentStore) {}

  /** The next `count` appends fail, as a full or broken disk would make them. */
  failNext(count: number): void {
    this.failures = count;
  }

  hold(): void {
    this.appends.hold();
  }

  release(): void {
    this.appends.release();
  }

  /** Lets the oldest held append through; the gate stays closed for the others. */
  releaseOne(): void {
    this.appends.releaseOne();
  }

  async append(name: string, update: Uint8Array, author?: Author): Promise<void> {
    await this.appends.pass();
    if (this.failures > 0) {
      this.failures--;
      throw new Error("simulated storage failure");
    }
    await this.inner.append(name, update, author);
    this.completedAppends++;
  }

  durable = (name: string) => this.inner.durable(name);
  load: DocumentStore["load"] = async (name) => {
    this.loadsStarted++;
    await this.loads.pass();
    return this.inner.load(name);
  };
  read = (name: string) => this.inner.read(name);
  sizeOf = (name: string) => this.inner.sizeOf(name);
  list = () => this.inner.list();
  delete = (name: string) => this.inner.delete(name);
  compact = (name: string) => this.inner.compact(name);
  watch = (name: string, onRemoteUpdates: RemoteUpdates) => this.inner.watch(name, onRemoteUpdates);
  get versions() {
    return this.inner.versions;
  }
  get presence() {
    return this.inner.presence?.bind(this.inner);
  }
  unload = (name: string) => this.inner.unload(name);
  get isOpen(): boolean {
    return this.inner.isOpen;
  }
  get status() {
    return this.inner.status;
  }
  close(): Promise<void> {
    this.release();
    return this.inner.close();
  }
}
