// Tests: activity records put in words (who, what, why).
import { describe, expect, it } from "vitest";

import type { ActivityRecord } from "./bindings/ActivityRecord";
import { activityWhat, activityWho, activityWhy } from "./components/AccountDetailsScreen";

function record(over: Partial<ActivityRecord>): ActivityRecord {
  return {
    time: "2026-11-30T10:00:00Z",
    asker: "program",
    program: "/usr/bin/msmtp",
    account: "work",
    action: "token.get",
    outcome: "handed_out",
    why: "rule",
    rule: "work",
    detail: "allowed by your rule for `work`",
    ...over,
  };
}

describe("activity records in words", () => {
  it("says who asked, what came of it and why", () => {
    expect(activityWho(record({}))).toBe("/usr/bin/msmtp");
    expect(activityWhat(record({}))).toBe("Read the token");
    expect(activityWhy(record({}))).toBe("allowed by your rule for this account");
    expect(activityWhy(record({ rule: "*" }))).toBe("allowed by your rule for every account");
    const person = record({ asker: "person", program: null, terminal: "/dev/pts/3", why: "person", rule: null });
    expect(activityWho(person)).toBe("you at /dev/pts/3");
    expect(activityWhy(person)).toBe("you, at your terminal");
    const copied = record({ asker: "window", program: null, action: "token.copy", why: "window" });
    expect(activityWhat(copied)).toBe("Copied the token");
    expect(activityWho(copied)).toBe("you, in this window");
  });

  it("shows counted repeats with their count", () => {
    const flood = record({ outcome: "refused", why: "no_one_to_ask", count: 5120, last: "2026-11-30T10:00:59Z" });
    expect(activityWhat(flood)).toBe("Refused: read the token ×5120");
    expect(activityWhy(flood)).toBe("no rule, and nobody answered");
    expect(activityWhat(record({ outcome: "allowed", action: "accounts.revoke", why: "window" }))).toBe(
      "Allowed to revoke the account",
    );
  });
});
