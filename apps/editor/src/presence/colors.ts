/**
 * People's colours: a small palette chosen to stay distinct from one another, readable under
 * white text (caret labels, avatars) and light enough as a 25% selection tint. Six-digit hex
 * only: y-prosemirror's carets accept nothing else.
 */
export const PALETTE = [
  "#e11d48",
  "#db2777",
  "#9333ea",
  "#4f46e5",
  "#2563eb",
  "#0891b2",
  "#0d9488",
  "#16a34a",
  "#a16207",
  "#ea580c",
] as const;

/** A stable colour for an id: the same person gets the same colour on every device. */
export function colorForId(id: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return PALETTE[(hash >>> 0) % PALETTE.length] ?? PALETTE[0];
}

export function isPaletteColor(color: string): boolean {
  return (PALETTE as readonly string[]).includes(color);
}

/** "Ada Lovelace" → "AL", "grace" → "G": the letters in an avatar. */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [words[0]];
  return letters
    .map((word) => (word ? Array.from(word)[0]?.toUpperCase() : ""))
    .join("")
    .slice(0, 2);
}
