/**
 * A stable colour for a user id, as `#rrggbb`: the same user gets the same colour in every tab
 * and on every device, without anyone having to store it. The hue comes from a hash of the id;
 * saturation and lightness are fixed so that every colour reads well on a light background and
 * under white text.
 */
export function colorFor(id: string): string {
  return hslToHex(fnv1a(id) % 360, 0.65, 0.45);
}

/** FNV-1a, 32 bits: tiny, fast, and spreads similar ids ("user-1", "user-2") apart. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

function hslToHex(hue: number, saturation: number, lightness: number): string {
  // The CSS Color 4 conversion (https://www.w3.org/TR/css-color-4/#hsl-to-rgb).
  const a = saturation * Math.min(lightness, 1 - lightness);
  const channel = (n: number): string => {
    const k = (n + hue / 30) % 12;
    const value = lightness - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(value * 255)
      .toString(16)
      .padStart(2, "0");
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}
