import { readFileSync } from "node:fs";
import { envOf, flagOf, SETTINGS } from "@tandem/server";
import { describe, expect, it } from "vitest";

const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("documents every setting with its flag, variable, default and accepted values", () => {
    for (const [name, setting] of Object.entries(SETTINGS)) {
      const row = readme.split("\n").find((line) => line.startsWith(`| \`${name}\``));
      expect(row, `README row for ${name}`).toBeDefined();
      expect(row).toContain(`\`${flagOf(name)}\``);
      expect(row).toContain(`\`${envOf(name)}\``);
      expect(row).toContain(`\`${JSON.stringify(setting.default)}\``);
      expect(row).toContain(setting.accepted);
    }
  });
});
