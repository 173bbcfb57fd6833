import { TokenBucket } from "./token-bucket.ts";

export interface ConnectionLimits {
  /** Open sockets per address; 0 for no limit. */
  maxOpen: number;
  /** New sockets per address per minute; 0 for no limit. */
  perMinute: number;
}

interface AddressState {
  open: number;
  bucket: TokenBucket | null;
}

export type Admission =
  | { admitted: true; release: () => void }
  | { admitted: false; limit: "connections_per_ip" | "connections_per_minute"; reason: string };

/** Per-address limits on open and new sockets. */
export class ConnectionLimiter {
  private readonly addresses = new Map<string, AddressState>();

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  admit(address: string): Admission {
    const { maxOpen, perMinute } = this.limits;
    let state = this.addresses.get(address);
    if (!state) {
      state = {
        open: 0,
        bucket: perMinute > 0 ? new TokenBucket(perMinute / 60, perMinute, this.now) : null,
      };
      this.addresses.set(address, state);
    }
    if (maxOpen > 0 && state.open >= maxOpen) {
      return {
        admitted: false,
        limit: "connections_per_ip",
        reason: `more than ${maxOpen} open connections from ${address}`,
      };
    }
    if (state.bucket && !state.bucket.take()) {
      return {
        admitted: false,
        limit: "connections_per_minute",
        reason: `more than ${perMinute} new connections per minute from ${address}`,
      };
    }
    state.open++;
    let released = false;
    const entry = state;
    return {
      admitted: true,
      release: () => {
        if (released) return;
        released = true;
        entry.open--;
        this.forgetIdle(address, entry);
      },
    };
  }

  private forgetIdle(address: string, state: AddressState): void {
    // An address with no open socket and a full bucket has nothing to remember.
    if (state.open === 0 && (state.bucket?.isFull ?? true)) this.addresses.delete(address);
  }

  /** Drops idle addresses whose buckets refilled since their last socket closed. */
  sweep(): void {
    for (const [address, state] of this.addresses) this.forgetIdle(address, state);
  }
}
