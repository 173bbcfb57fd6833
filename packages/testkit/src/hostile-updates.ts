import * as encoding from "lib0/encoding";

/**
 * Hand-encoded Yjs v1 updates that decode but are hostile (issue 10): no Yjs client makes them,
 * so they are written byte by byte (format: packages/server/src/protocol/update-scan.ts).
 */

const ORIGIN = 0x80;
const PARENT_SUB = 0x20;

function update(
  structs: (e: encoding.Encoder) => void,
  deletes: (e: encoding.Encoder) => void = (e) => encoding.writeVarUint(e, 0),
): Uint8Array {
  const e = encoding.createEncoder();
  structs(e);
  deletes(e);
  return encoding.toUint8Array(e);
}

const noStructs = (e: encoding.Encoder) => encoding.writeVarUint(e, 0);

/** One client block header: struct count, client, first clock. */
function block(e: encoding.Encoder, count: number, client: number, clock: number): void {
  encoding.writeVarUint(e, count);
  encoding.writeVarUint(e, client);
  encoding.writeVarUint(e, clock);
}

/**
 * Deletions of `ranges` one-tick ranges of a client nobody has (finding 2): they stay pending in
 * Yjs forever. About 4 bytes a range once clocks pass 2^14.
 */
export function pendingDeletesUpdate(client: number, ranges: number, firstClock = 1 << 20) {
  return update(noStructs, (e) => {
    encoding.writeVarUint(e, 1);
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, ranges);
    for (let i = 0; i < ranges; i++) {
      encoding.writeVarUint(e, firstClock + 2 * i);
      encoding.writeVarUint(e, 1);
    }
  });
}

/** `count` sub-document items in the root array `name`, about 8 bytes each (finding 3). */
export function subdocumentsUpdate(client: number, count: number, name = "subdocs") {
  return update((e) => {
    encoding.writeVarUint(e, 1);
    block(e, count, client, 0);
    for (let i = 0; i < count; i++) {
      if (i === 0) {
        encoding.writeUint8(e, 9);
        encoding.writeVarUint(e, 1);
        encoding.writeVarString(e, name);
      } else {
        encoding.writeUint8(e, 9 | ORIGIN);
        encoding.writeVarUint(e, client);
        encoding.writeVarUint(e, i - 1);
      }
      encoding.writeVarString(e, ""); // guid
      encoding.writeAny(e, {}); // options
    }
  });
}

/**
 * A chain of `depth` maps, each the value of key "k" in the one before (finding 5). The first
 * sits in the root map `root`, or in the map item `parent` when given (to continue a chain).
 */
export function nestedMapsUpdate(
  client: number,
  depth: number,
  {
    parent,
    firstClock = 0,
    root = "root",
  }: { parent?: [number, number]; firstClock?: number; root?: string } = {},
) {
  return update((e) => {
    encoding.writeVarUint(e, 1);
    block(e, depth, client, firstClock);
    for (let i = 0; i < depth; i++) {
      encoding.writeUint8(e, 7 | PARENT_SUB);
      const up = i === 0 ? parent : ([client, firstClock + i - 1] as const);
      if (up) {
        encoding.writeVarUint(e, 0);
        encoding.writeVarUint(e, up[0]);
        encoding.writeVarUint(e, up[1]);
      } else {
        encoding.writeVarUint(e, 1);
        encoding.writeVarString(e, root);
      }
      encoding.writeVarString(e, "k");
      encoding.writeVarUint(e, 1); // YMap
    }
  });
}

/** Sets key "x" in each of `count` maps created by `chainClient` from clock 0 (finding 5). */
export function touchEachMapUpdate(client: number, chainClient: number, count: number) {
  return update((e) => {
    encoding.writeVarUint(e, 1);
    block(e, count, client, 0);
    for (let i = 0; i < count; i++) {
      encoding.writeUint8(e, 8 | PARENT_SUB);
      encoding.writeVarUint(e, 0);
      encoding.writeVarUint(e, chainClient);
      encoding.writeVarUint(e, i);
      encoding.writeVarString(e, "x");
      encoding.writeVarUint(e, 1);
      encoding.writeAny(e, i);
    }
  });
}

/** One item in each of `count` root maps named `${prefix}${i}`. */
export function manyRootsUpdate(client: number, count: number, prefix = "r") {
  return update((e) => {
    encoding.writeVarUint(e, 1);
    block(e, count, client, 0);
    for (let i = 0; i < count; i++) {
      encoding.writeUint8(e, 8 | PARENT_SUB);
      encoding.writeVarUint(e, 1);
      encoding.writeVarString(e, `${prefix}${i}`);
      encoding.writeVarString(e, "x");
      encoding.writeVarUint(e, 1);
      encoding.writeAny(e, i);
    }
  });
}

/**
 * Decodes, but throws while Yjs applies it (finding 7): a text item whose left neighbour is a
 * later clock of its own client, which Yjs looks up without checking it exists.
 */
export function throwsOnApplyUpdate(client: number, text = "EVIL") {
  return update((e) => {
    encoding.writeVarUint(e, 1);
    block(e, 1, client, 0);
    encoding.writeUint8(e, 4 | ORIGIN);
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, text.length + 1);
    encoding.writeVarString(e, text);
  });
}
