import { frame, stateVectorFrame, syncFrame, updateFrame } from "@tandem/testkit";
import * as encoding from "lib0/encoding";
import { describe, expect, it } from "vitest";
import { frameHead } from "../src/protocol/frame-head.ts";
import { SyncCoalescer } from "../src/protocol/sync-coalescer.ts";

const answer = (address: string) => syncFrame(address, 1, new Uint8Array([0, 0]));
const closeFrame = (address: string) => frame(address, 7, (e) => encoding.writeVarString(e, "x"));
const deniedFrame = (address: string) =>
  frame(address, 2, (e) => {
    encoding.writeVarUint(e, 1);
    encoding.writeVarString(e, "no-access");
  });

describe("SyncCoalescer", () => {
  it("forwards one SyncStep1 per address until its answer has been flushed", () => {
    const coalescer = new SyncCoalescer();
    expect(coalescer.admit(frameHead(stateVectorFrame("a")))).toBe(true);
    expect(coalescer.admit(frameHead(stateVectorFrame("a")))).toBe(false);
    // Other addresses, including another session of the same document, are separate.
    expect(coalescer.admit(frameHead(stateVectorFrame("b")))).toBe(true);
    expect(coalescer.admit(frameHead(stateVectorFrame("a\0session")))).toBe(true);
    // Everything else passes.
    expect(coalescer.admit(frameHead(updateFrame("a", new Uint8Array([0, 0]))))).toBe(true);

    const flushed = coalescer.sent(frameHead(answer("a")));
    expect(coalescer.admit(frameHead(stateVectorFrame("a")))).toBe(false);
    flushed?.();
    expect(coalescer.admit(frameHead(stateVectorFrame("a")))).toBe(true);
  });

  it("starts afresh when the document connection ends or is refused", () => {
    const coalescer = new SyncCoalescer();
    const fresh = (end: () => void) => {
      expect(coalescer.admit(frameHead(stateVectorFrame("a")))).toBe(true);
      end();
      expect(coalescer.admit(frameHead(stateVectorFrame("a")))).toBe(true);
      coalescer.sent(frameHead(answer("a")))?.();
    };
    fresh(() => coalescer.admit(frameHead(closeFrame("a"))));
    fresh(() => coalescer.sent(frameHead(closeFrame("a"))));
    fresh(() => coalescer.sent(frameHead(deniedFrame("a"))));
    // Updates and awareness sent to the client do not end anything.
    expect(coalescer.admit(frameHead(stateVectorFrame("a")))).toBe(true);
    expect(coalescer.sent(frameHead(updateFrame("a", new Uint8Array([0, 0]))))).toBeUndefined();
    expect(coalescer.admit(frameHead(stateVectorFrame("a")))).toBe(false);
  });
});
