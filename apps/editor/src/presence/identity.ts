import type { AppConfig } from "../config.ts";
import { readStorage, writeStorage } from "../dom.ts";
import { readClaims } from "../token.ts";
import { colorForId, isPaletteColor } from "./colors.ts";

/**
 * Who is editing in this browser. The id is random and stays in localStorage, so several tabs
 * of one browser are one person for the others. With a token the server decides: it rewrites
 * every presence update with the token's `sub` and `name`, so the app shows the same here.
 */
export interface Identity {
  id: string;
  /** Null until the person has told us (asked once, then remembered). */
  name: string | null;
  color: string;
  /** The name comes from the token and cannot be changed here. */
  fromToken: boolean;
}

const ID_KEY = "tandem.user.id";
const NAME_KEY = "tandem.user.name";
const COLOR_KEY = "tandem.user.color";
const MAX_NAME_LENGTH = 40;

export function loadIdentity(config: AppConfig): Identity {
  if (config.userName) saveName(config.userName);
  const claims = config.token ? readClaims(config.token) : null;
  const id = claims?.sub ?? browserId();
  const stored = readStorage("local", COLOR_KEY);
  const color = stored && isPaletteColor(stored) ? stored : colorForId(id);
  if (claims) return { id, name: claims.name ?? claims.sub, color, fromToken: true };
  return { id, name: cleanName(readStorage("local", NAME_KEY) ?? ""), color, fromToken: false };
}

export function saveName(name: string): void {
  writeStorage("local", NAME_KEY, cleanName(name));
}

export function saveColor(color: string): void {
  writeStorage("local", COLOR_KEY, color);
}

/** Trims and shortens a name; null if nothing is left. */
export function cleanName(name: string): string | null {
  const cleaned = name.replace(/\s+/g, " ").trim().slice(0, MAX_NAME_LENGTH);
  return cleaned === "" ? null : cleaned;
}

function browserId(): string {
  const known = readStorage("local", ID_KEY);
  if (known) return known;
  // randomUUID needs a secure context (https or localhost); a LAN address over http has none.
  const id =
    typeof crypto.randomUUID === "function"
      ? crypto.randomUUID()
      : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
          b.toString(16).padStart(2, "0"),
        ).join("");
  writeStorage("local", ID_KEY, id);
  return id;
}
