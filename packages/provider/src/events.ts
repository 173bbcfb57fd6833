type Listener<T> = (value: T) => void;

/**
 * A small typed event emitter: `on` returns the function that removes the listener, which is
 * what UI frameworks' effect cleanups want.
 *
 * A listener that throws does not stop the other listeners, nor the SDK code that emitted the
 * event (which would leave the document half-updated): the error is rethrown on a microtask,
 * where it surfaces like any uncaught error (the console in browsers, a crash in Node.js, as
 * with Node's own EventEmitter).
 */
export class Emitter<Events extends object> {
  #listeners = new Map<keyof Events, Set<Listener<unknown>>>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<unknown>);
    return () => this.off(event, listener);
  }

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (value) => {
      off();
      listener(value);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    this.#listeners.get(event)?.delete(listener as Listener<unknown>);
  }

  protected emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    // A copy: listeners may remove themselves (once) or others while we iterate.
    for (const listener of [...set]) {
      try {
        listener(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  protected listenerCount<K extends keyof Events>(event: K): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  protected removeAllListeners(): void {
    this.#listeners.clear();
  }
}
