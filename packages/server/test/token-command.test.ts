import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { accessFor, createTokenVerifier } from "@tandem/server";
import { describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../bin/tandem.mjs", import.meta.url));
const SECRET = "a secret for minting tokens in tests!";
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [CLI, "token", ...args], {
    encoding: "utf8",
    env: { ...process.env, TANDEM_JWT_SECRET: SECRET, ...env },
  });

describe("tandem token", () => {
  it("mints a token the server accepts, with the claims asked for", async () => {
    const minted = run([
      "--sub",
      "alice",
      "--name",
      "Alice",
      "--doc",
      "team-a/*=write",
      "--doc",
      "wiki/**=read",
      "--ttl",
      "1h",
    ]);
    expect(minted.status).toBe(0);
    const claims = await createTokenVerifier({
      jwtSecret: SECRET,
      jwtPublicKey: "",
      jwksFile: "",
    }).verify(minted.stdout.trim());
    expect(claims).toMatchObject({ sub: "alice", name: "Alice" });
    expect(claims.exp - Date.now() / 1000).toBeGreaterThan(3500);
    expect(accessFor(claims.docs, "team-a/plan")).toBe("write");
    expect(accessFor(claims.docs, "wiki/a/b")).toBe("read");
    expect(accessFor(claims.docs, "team-b/plan")).toBeNull();
  });

  it.each([
    [["--name", "x"], "missing --sub"],
    [["--sub", "a", "--ttl", "forever"], 'invalid --ttl: "forever"'],
    [["--sub", "a", "--doc", "x=admin"], 'invalid --doc: "x=admin"'],
    [["--sub", "a", "--bogus"], "Unknown option '--bogus'"],
  ])("refuses %j with exit code 2", (args, message) => {
    const result = run(args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it("needs a signing key", () => {
    const result = run(["--sub", "a"], { TANDEM_JWT_SECRET: "" });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/no signing key/);
  });
});
