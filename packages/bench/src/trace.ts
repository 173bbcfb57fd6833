import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { gunzipSync } from "node:zlib";
import type * as Y from "yjs";

/** [position in code points, characters to delete, text to insert] */
export type Patch = [number, number, string];

/** The sequential editing-trace format (josephg/editing-traces). */
export interface Trace {
  name: string;
  startContent: string;
  endContent: string;
  txns: { patches: Patch[] }[];
}

/** Reads a trace file, gzipped (.gz) or not. */
export async function loadTrace(path: string): Promise<Trace> {
  const raw = await readFile(path);
  const json = path.endsWith(".gz") ? gunzipSync(raw).toString("utf8") : raw.toString("utf8");
  const parsed = JSON.parse(json) as Partial<Trace> & { kind?: string };
  if (parsed.kind === "concurrent") {
    throw new Error(`${path} is a concurrent trace; the bench replays sequential traces only`);
  }
  if (typeof parsed.endContent !== "string" || !Array.isArray(parsed.txns)) {
    throw new Error(`${path} is not a sequential editing trace (endContent, txns)`);
  }
  return {
    name: basename(path).replace(/\.json(\.gz)?$/, ""),
    startContent: parsed.startContent ?? "",
    endContent: parsed.endContent,
    txns: parsed.txns,
  };
}

/** A small deterministic PRNG (mulberry32), so the generated trace is the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = "the quick brown fox jumps over a lazy dog while sync servers store every edit".split(
  " ",
);

/**
 * A typing session of `edits` single-character edits: mostly typing at the cursor, some
 * backspaces, short cursor moves and the odd jump elsewhere, like the real traces. ASCII only,
 * so code points and UTF-16 positions agree. The text is kept as a gap buffer (before-cursor
 * characters, and after-cursor characters reversed) so generating 100,000 edits is instant.
 */
export function generateTrace(edits: number, seed = 42): Trace {
  const rnd = random(seed);
  const before: string[] = [];
  const after: string[] = [];
  const txns: { patches: Patch[] }[] = [];
  let pending = "";
  const moveTo = (pos: number) => {
    while (before.length > pos) after.push(before.pop() as string);
    while (before.length < pos && after.length > 0) before.push(after.pop() as string);
  };
  while (txns.length < edits) {
    const r = rnd();
    const length = before.length + after.length;
    if (r < 0.04 && length > 0) {
      // Jump: usually nearby, sometimes anywhere.
      const far = rnd() < 0.1;
      const target = far
        ? Math.floor(rnd() * (length + 1))
        : Math.max(0, Math.min(length, before.length + Math.floor((rnd() - 0.5) * 400)));
      moveTo(target);
      continue;
    }
    if (r < 0.14 && before.length > 0) {
      before.pop();
      txns.push({ patches: [[before.length, 1, ""]] });
      continue;
    }
    if (pending.length === 0)
      pending = `${WORDS[Math.floor(rnd() * WORDS.length)]}${rnd() < 0.1 ? ".\n" : " "}`;
    const ch = pending[0] as string;
    pending = pending.slice(1);
    txns.push({ patches: [[before.length, 0, ch]] });
    before.push(ch);
  }
  return {
    name: `generated-${edits}`,
    startContent: "",
    endContent: before.join("") + after.reverse().join(""),
    txns,
  };
}

/** Whether any text in the trace needs two UTF-16 units (then positions need converting). */
function hasAstral(trace: Trace): boolean {
  const astral = /[\uD800-\uDFFF]/;
  if (astral.test(trace.startContent)) return true;
  return trace.txns.some((t) => t.patches.some((p) => astral.test(p[2])));
}

/**
 * Returns a function that applies transaction i of the trace to `text` (the caller wraps it in a
 * Y transaction). Y.Text counts UTF-16 units; traces count code points. When the trace is all
 * BMP the two agree; otherwise a mirror string converts positions (slow, but rare).
 */
export function traceApplier(trace: Trace): (text: Y.Text, index: number) => void {
  if (!hasAstral(trace)) {
    return (text, index) => {
      for (const [pos, del, ins] of trace.txns[index]?.patches ?? []) {
        if (del > 0) text.delete(pos, del);
        if (ins.length > 0) text.insert(pos, ins);
      }
    };
  }
  let mirror = [...trace.startContent];
  return (text, index) => {
    for (const [pos, del, ins] of trace.txns[index]?.patches ?? []) {
      const at = mirror.slice(0, pos).join("").length;
      const deleted = mirror.slice(pos, pos + del).join("").length;
      if (deleted > 0) text.delete(at, deleted);
      if (ins.length > 0) text.insert(at, ins);
      mirror = [...mirror.slice(0, pos), ...ins, ...mirror.slice(pos + del)];
    }
  };
}
