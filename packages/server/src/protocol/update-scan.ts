import { isUtf8 } from "node:buffer";
import * as decoding from "lib0/decoding";

/**
 * A structural scanner for Yjs v1 updates: it reads an update exactly as Yjs does
 * (`readClientsStructRefs`, `readItemContent`, `readDeleteSet` in yjs/src, UpdateDecoderV1) and
 * so accepts exactly the updates `Y.decodeUpdate` accepts, but builds no Y objects. That matters
 * because decoding a sub-document item (ContentDoc) allocates a whole `Y.Doc`: refusing
 * sub-documents after `Y.decodeUpdate` would already have paid for them.
 *
 * Format (lib0 encoding: varUint, varString = varUint length + UTF-8 bytes, any = lib0 `readAny`):
 *
 *   update      = varUint clientCount, clientCount × clientBlock, deleteSet
 *   clientBlock = varUint structCount, varUint client, varUint clock (of the first struct),
 *                 structCount × struct            (each struct's clock is the previous one's
 *                                                   clock + its length)
 *   struct      = uint8 info, then by `info & 0b11111`:
 *     0  GC     varUint length
 *     10 Skip   varUint length                    (info must be exactly 10)
 *     1–9 Item:
 *       if info & 0x80  origin      = varUint client, varUint clock   (left neighbour at creation)
 *       if info & 0x40  rightOrigin = varUint client, varUint clock
 *       if neither:     varUint parentInfo: 1 → varString root type name
 *                                          otherwise → parent ID = varUint client, varUint clock
 *                       if info & 0x20  varString parentSub (the key in a map)
 *       (with an origin or right origin the parent is the neighbour's parent)
 *       content by info & 0b11111, with its length in clock ticks:
 *         1 Deleted  varUint length                                   length
 *         2 JSON     varUint n, n × varString (JSON, or "undefined")   n
 *         3 Binary   varUint8Array                                    1
 *         4 String   varString                                        UTF-16 code units
 *         5 Embed    varString JSON                                   1
 *         6 Format   varString key, varString JSON                    1
 *         7 Type     varUint typeRef (0 Array, 1 Map, 2 Text, 3 XmlElement + varString name,
 *                    4 XmlFragment, 5 XmlHook + varString name, 6 XmlText)     1
 *         8 Any      varUint n, n × any                                n
 *         9 Doc      varString guid, any options   (a sub-document)   1
 *   deleteSet   = varUint clientCount, clientCount × (varUint client, varUint n,
 *                                                    n × (varUint clock, varUint length))
 *
 * Strings must be UTF-8 (lib0 decodes them with a fatal TextDecoder). Bytes after the delete
 * set are ignored, as Yjs ignores them.
 */

export interface ID {
  client: number;
  clock: number;
}

export const STRUCT_GC = 0;
export const STRUCT_SKIP = 10;
export const CONTENT_DELETED = 1;
export const CONTENT_STRING = 4;
export const CONTENT_TYPE = 7;
export const CONTENT_DOC = 9;

export interface ScannedStruct {
  client: number;
  clock: number;
  length: number;
  /** STRUCT_GC, STRUCT_SKIP, or the item's content ref (1–9). */
  ref: number;
  origin: ID | null;
  rightOrigin: ID | null;
  /** Root type name, when the parent is a root type. */
  parentKey: string | null;
  /** The parent type's item, when the parent is a nested type. */
  parentId: ID | null;
}

export interface ClientStructs {
  client: number;
  /** Index range in `structs` (structs of one client, in clock order). */
  start: number;
  end: number;
}

export interface UpdateScan {
  structs: ScannedStruct[];
  /** One entry per client block, in update order (Yjs keeps only the last block of a client). */
  clients: ClientStructs[];
  /** Delete set (with `keepDeletes`): per client, flat [clock, length, clock, length, ...]. */
  deletes: { client: number; ranges: number[] }[];
  /** Number of sub-document items (ContentDoc). */
  subdocuments: number;
}

export interface ScanOptions {
  /** Stop at the first sub-document item (before reading it) instead of counting it. */
  refuseSubdocuments?: boolean;
  /** Collect the delete set's ranges (otherwise they are only read). */
  keepDeletes?: boolean;
}

export type ScanResult =
  | { ok: true; scan: UpdateScan }
  | { ok: false; reason: string; subdocument?: boolean };

class Malformed extends Error {}

const fail = (why: string): never => {
  throw new Malformed(why);
};

/** Scans an update; never throws. */
export function scanUpdate(update: Uint8Array, options: ScanOptions = {}): ScanResult {
  try {
    return { ok: true, scan: scan(decoding.createDecoder(update), options) };
  } catch (error) {
    if (error instanceof SubdocumentFound) {
      return { ok: false, reason: "update creates a sub-document", subdocument: true };
    }
    // lib0 throws on a length past the end or an integer out of range; JSON.parse on bad JSON;
    // a stack overflow on absurdly nested `any` values: all of them make Yjs fail the same way.
    return { ok: false, reason: "document update does not decode" };
  }
}

class SubdocumentFound extends Error {}

const remaining = (d: decoding.Decoder) => d.arr.length - d.pos;

function readUint8(d: decoding.Decoder): number {
  // lib0's readUint8 does not check the end (it returns undefined past it).
  if (d.pos >= d.arr.length) fail("unexpected end");
  return decoding.readUint8(d);
}

/**
 * Reads a varString without decoding it, only checking it is UTF-8: lib0 decodes strings with a
 * fatal TextDecoder, so Yjs refuses an update with a string that is not.
 */
function skipString(d: decoding.Decoder): void {
  if (!isUtf8(decoding.readVarUint8Array(d))) fail("string is not UTF-8");
}

function readID(d: decoding.Decoder): ID {
  const client = decoding.readVarUint(d);
  return { client, clock: decoding.readVarUint(d) };
}

function readJSON(d: decoding.Decoder): void {
  JSON.parse(decoding.readVarString(d));
}

function scan(d: decoding.Decoder, options: ScanOptions): UpdateScan {
  const structs: ScannedStruct[] = [];
  const clients: ClientStructs[] = [];
  let subdocuments = 0;
  const clientCount = decoding.readVarUint(d);
  // Every block takes at least three bytes: fail fast on absurd counts.
  if (clientCount > remaining(d)) fail("client count past the end");
  for (let c = 0; c < clientCount; c++) {
    const count = decoding.readVarUint(d);
    const client = decoding.readVarUint(d);
    let clock = decoding.readVarUint(d);
    if (count > remaining(d)) fail("struct count past the end");
    const start = structs.length;
    for (let i = 0; i < count; i++) {
      const info = readUint8(d);
      const ref = info & 0b11111;
      if (ref === STRUCT_GC || info === STRUCT_SKIP) {
        const length = decoding.readVarUint(d);
        structs.push({
          client,
          clock,
          length,
          ref,
          origin: null,
          rightOrigin: null,
          parentKey: null,
          parentId: null,
        });
        clock += length;
        continue;
      }
      // Yjs's lazy reader (Y.decodeUpdate) reads any other info as an item; refs past 9 throw.
      if (ref > CONTENT_DOC) fail("unknown content");
      const origin = info & 0x80 ? readID(d) : null;
      const rightOrigin = info & 0x40 ? readID(d) : null;
      let parentKey: string | null = null;
      let parentId: ID | null = null;
      if ((info & 0xc0) === 0) {
        if (decoding.readVarUint(d) === 1) parentKey = decoding.readVarString(d);
        else parentId = readID(d);
        if (info & 0x20) skipString(d);
      }
      if (ref === CONTENT_DOC) {
        if (options.refuseSubdocuments) throw new SubdocumentFound();
        subdocuments++;
      }
      const length = readContent(d, ref);
      structs.push({ client, clock, length, ref, origin, rightOrigin, parentKey, parentId });
      clock += length;
    }
    clients.push({ client, start, end: structs.length });
  }
  const deletes: UpdateScan["deletes"] = [];
  const deleteClients = decoding.readVarUint(d);
  if (deleteClients > remaining(d)) fail("delete set past the end");
  for (let c = 0; c < deleteClients; c++) {
    const client = decoding.readVarUint(d);
    const count = decoding.readVarUint(d);
    if (count > remaining(d)) fail("delete count past the end");
    if (!options.keepDeletes) {
      for (let i = 0; i < 2 * count; i++) decoding.readVarUint(d);
      continue;
    }
    const ranges: number[] = [];
    for (let i = 0; i < count; i++) ranges.push(decoding.readVarUint(d), decoding.readVarUint(d));
    if (count > 0) deletes.push({ client, ranges });
  }
  return { structs, clients, deletes, subdocuments };
}

/** Reads an item's content (Item.js `contentRefs`) and returns its length in clock ticks. */
function readContent(d: decoding.Decoder, ref: number): number {
  switch (ref) {
    case CONTENT_DELETED:
      return decoding.readVarUint(d);
    case 2: {
      const n = decoding.readVarUint(d);
      if (n > remaining(d)) fail("JSON count past the end");
      for (let i = 0; i < n; i++) {
        const value = decoding.readVarString(d);
        if (value !== "undefined") JSON.parse(value);
      }
      return n;
    }
    case 3:
      decoding.readVarUint8Array(d);
      return 1;
    case CONTENT_STRING:
      // The length is in UTF-16 code units, as in a JavaScript string.
      return decoding.readVarString(d).length;
    case 5:
      readJSON(d);
      return 1;
    case 6:
      skipString(d);
      readJSON(d);
      return 1;
    case CONTENT_TYPE: {
      const typeRef = decoding.readVarUint(d);
      if (typeRef > 6) fail("unknown type");
      // XmlElement and XmlHook carry a name.
      if (typeRef === 3 || typeRef === 5) skipString(d);
      return 1;
    }
    case 8: {
      const n = decoding.readVarUint(d);
      if (n > remaining(d)) fail("any count past the end");
      for (let i = 0; i < n; i++) decoding.readAny(d);
      return n;
    }
    case CONTENT_DOC: {
      skipString(d);
      // Yjs spreads the options into the new Y.Doc's and reads fields of them: null throws.
      const options: unknown = decoding.readAny(d);
      if (options === null || options === undefined) fail("sub-document without options");
      return 1;
    }
    default:
      return fail("unknown content");
  }
}

/** Where the parent of an item lies, as far as the update itself can tell. */
export type ParentRef =
  | { kind: "root"; key: string }
  /** A type created by this update: structs[index]. */
  | { kind: "type"; index: number }
  /** The type whose item has this id, in the document (not in the update). */
  | { kind: "doc-type"; id: ID }
  /** The parent of the document's item with this id (a neighbour inherited the parent). */
  | { kind: "doc-neighbour"; id: ID }
  /** None: the item ends up garbage-collected (or the update is inconsistent). */
  | { kind: "none" };

const NONE: ParentRef = { kind: "none" };

export interface Structure {
  /** Per struct index: its parent (items only; GC and Skip have none). */
  parents: ParentRef[];
  /**
   * For each type created by the update: its nesting depth counted from `base`, the first
   * parent outside the update's own types (1: directly inside `base`).
   */
  types: { index: number; depth: number; base: ParentRef }[];
  /** The deepest of `types[].depth`: a lower bound of the real depth. */
  maxDepth: number;
  /**
   * Distinct parents outside the update's own types that receive items: root types, and types
   * the update names by id. A lower bound of the types the update changes (neighbour-inherited
   * parents need the document to tell them apart).
   */
  namedParents: number;
}

/**
 * Resolves parents and nesting within the update. Iterative throughout: a hostile update may
 * chain tens of thousands of items or types.
 */
export function analyzeStructure(scan: UpdateScan): Structure {
  const { structs } = scan;
  const byClient = new Map<number, ClientStructs>();
  // Yjs keeps only the last block of a client that appears twice.
  for (const block of scan.clients) byClient.set(block.client, block);
  const find = (id: ID): number => {
    const block = byClient.get(id.client);
    if (!block) return -1;
    let lo = block.start;
    let hi = block.end - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = structs[mid] as ScannedStruct;
      if (id.clock < s.clock) hi = mid - 1;
      else if (id.clock >= s.clock + s.length) lo = mid + 1;
      else return s.ref === STRUCT_SKIP ? -1 : mid;
    }
    return -1;
  };

  const parents: (ParentRef | undefined)[] = new Array(structs.length);
  const visiting = new Uint8Array(structs.length);
  const resolve = (start: number): ParentRef => {
    const chain: number[] = [];
    let at = start;
    let result: ParentRef = NONE;
    for (;;) {
      const known = parents[at];
      if (known) {
        result = known;
        break;
      }
      const s = structs[at] as ScannedStruct;
      if (s.ref === STRUCT_GC || s.ref === STRUCT_SKIP || visiting[at]) break;
      chain.push(at);
      visiting[at] = 1;
      if (s.parentKey !== null) {
        result = { kind: "root", key: s.parentKey };
        break;
      }
      if (s.parentId) {
        const j = find(s.parentId);
        if (j === -1) result = { kind: "doc-type", id: s.parentId };
        else if ((structs[j] as ScannedStruct).ref === CONTENT_TYPE)
          result = { kind: "type", index: j };
        break;
      }
      const neighbour = s.origin ?? s.rightOrigin;
      if (!neighbour) break;
      const j = find(neighbour);
      if (j === -1) {
        result = { kind: "doc-neighbour", id: neighbour };
        break;
      }
      at = j;
    }
    for (const i of chain) parents[i] = result;
    return result;
  };
  for (let i = 0; i < structs.length; i++) if (!parents[i]) resolve(i);

  const depths = new Int32Array(structs.length);
  const bases: ParentRef[] = new Array(structs.length);
  const types: Structure["types"] = [];
  let maxDepth = 0;
  for (let i = 0; i < structs.length; i++) {
    if ((structs[i] as ScannedStruct).ref !== CONTENT_TYPE || depths[i] !== 0) continue;
    // Walk up through the update's own types until a known depth or a base outside them.
    const chain: number[] = [];
    let at = i;
    let depth = 0;
    let base: ParentRef = NONE;
    for (;;) {
      if ((depths[at] as number) > 0) {
        depth = depths[at] as number;
        base = bases[at] as ParentRef;
        break;
      }
      if (depths[at] === -1) break; // a cycle (hostile): leave it to Yjs, it stays pending
      chain.push(at);
      depths[at] = -1;
      const parent = parents[at] ?? NONE;
      if (parent.kind !== "type") {
        base = parent;
        break;
      }
      at = parent.index;
    }
    for (let k = chain.length - 1; k >= 0; k--) {
      const index = chain[k] as number;
      depth++;
      depths[index] = depth;
      bases[index] = base;
      types.push({ index, depth, base });
      if (depth > maxDepth) maxDepth = depth;
    }
  }

  const named = new Set<string>();
  for (const parent of parents) {
    if (parent?.kind === "root") named.add(`r${parent.key}`);
    else if (parent?.kind === "doc-type") named.add(`t${parent.id.client}:${parent.id.clock}`);
  }
  return {
    parents: parents.map((p) => p ?? NONE),
    types,
    maxDepth,
    namedParents: named.size,
  };
}
