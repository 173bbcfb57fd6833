import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { documentText, expectSaved, typeText } from "../support/editor.ts";
import { expect, test } from "../support/fixtures.ts";

const SECRET = "e2e-secret-that-is-long-enough-for-hs256";
const CLI = fileURLToPath(new URL("../../packages/server/bin/tandem.mjs", import.meta.url));

/** A token from `tandem token`, as an operator would mint it. */
function mint(sub: string, name: string): string {
  return execFileSync(
    process.execPath,
    [CLI, "token", "--sub", sub, "--name", name, "--doc", "**=write", "--ttl", "1h"],
    { env: { ...process.env, TANDEM_JWT_SECRET: SECRET }, encoding: "utf8" },
  ).trim();
}

test.describe("a server with --auth jwt", () => {
  test.use({ serverOptions: { args: ["--auth", "jwt"], env: { TANDEM_JWT_SECRET: SECRET } } });

  test("says a token is required, and works with one from ?token=", async ({ people }) => {
    const anonymous = await people.join("Mallory", "team-notes");
    const notice = anonymous.page.getByTestId("auth-required");
    await expect(notice).toContainText("A token is required");
    await expect(notice).toContainText("pnpm tandem token");
    await expect(anonymous.status).toHaveAttribute("data-state", "unauthorized");

    // The name shown is the token's, whatever ?user says: the server enforces it anyway.
    const erin = await people.join("ignored", "team-notes", {
      params: { token: mint("erin", "Erin") },
    });
    const frank = await people.join("ignored", "team-notes", {
      params: { token: mint("frank", "Frank") },
    });
    await expect(erin.page.getByTestId("me")).toContainText("Erin");
    await expect(erin.page).not.toHaveURL(/token=/);
    await typeText(erin, "Signed in as Erin.");
    await expectSaved(erin);
    await expect.poll(() => documentText(frank.page)).toBe("Signed in as Erin.");
    await expect(frank.peers).toHaveCount(1);
    await expect(frank.peers.first()).toHaveAttribute("data-peer-name", "Erin");
    await expect(frank.page.locator('[data-testid="caret"][data-user="Erin"]')).toHaveText("Erin");

    // The token is remembered for the session: a reload stays signed in.
    await erin.page.reload();
    await expectSaved(erin);
  });
});
