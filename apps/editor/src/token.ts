/** What the app reads from a JSON Web Token: who it names. The server verifies it; we only display. */
export interface TokenClaims {
  sub: string;
  name: string | null;
  /** Expiry in seconds since the epoch, if the token says. */
  exp: number | null;
}

/** Decodes a JWT's payload without verifying it, or null if it is not a readable JWT. */
export function readClaims(token: string): TokenClaims | null {
  const payload = token.split(".")[1];
  if (!payload) return null;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
    const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof claims !== "object" || claims === null) return null;
    const { sub, name, exp } = claims as Record<string, unknown>;
    if (typeof sub !== "string" || sub === "") return null;
    return {
      sub,
      name: typeof name === "string" && name.trim() !== "" ? name : null,
      exp: typeof exp === "number" ? exp : null,
    };
  } catch {
    return null;
  }
}
