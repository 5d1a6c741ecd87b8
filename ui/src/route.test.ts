// Tests: screens to location hashes and back.
import { describe, expect, it } from "vitest";

import { parseHash, sameScreen, screenHash } from "./route";

describe("routes", () => {
  it("parses and formats every screen", () => {
    for (const s of [
      { name: "accounts" as const },
      { name: "add" as const },
      { name: "providers" as const },
      { name: "account" as const, account: "alice@example.com" },
      { name: "account" as const, account: "work/ünï code #1" },
    ]) {
      expect(parseHash(screenHash(s))).toEqual(s);
    }
  });
  it("falls back to the accounts list", () => {
    expect(parseHash("")).toEqual({ name: "accounts" });
    expect(parseHash("#/nowhere")).toEqual({ name: "accounts" });
    expect(parseHash("#/account/")).toEqual({ name: "accounts" });
    expect(parseHash("#/account/%E0%A4%A")).toEqual({ name: "account", account: "%E0%A4%A" });
  });
  it("compares screens", () => {
    expect(sameScreen({ name: "account", account: "a" }, { name: "account", account: "a" })).toBe(true);
    expect(sameScreen({ name: "account", account: "a" }, { name: "account", account: "b" })).toBe(false);
  });
});
