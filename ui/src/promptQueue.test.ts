// Tests: the queue of access requests (order, set aside, bring forward, expiry).
import { describe, expect, it } from "vitest";

import type { AccessPrompt } from "./bindings/AccessPrompt";
import {
  addPrompts,
  bringForward,
  currentPrompt,
  dropExpired,
  emptyQueue,
  removePrompt,
  restoreAll,
  setAside,
  setAsidePrompts,
  waitingBehind,
} from "./promptQueue";

const NOW = Date.parse("2025-03-01T12:00:00Z");
function prompt(id: string, askedSecs: number, expiresSecs = 60): AccessPrompt {
  return {
    prompt_id: id,
    program: `/usr/bin/${id}`,
    program_name: id,
    action: "read_token",
    account: "work",
    asked_at: new Date(NOW + askedSecs * 1000).toISOString(),
    expires_at: new Date(NOW + expiresSecs * 1000).toISOString(),
  };
}

describe("prompt queue", () => {
  it("queues prompts once each, oldest first, shows the first", () => {
    let q = addPrompts(emptyQueue, [prompt("b", 2), prompt("a", 1)]);
    expect(q.items.map((p) => p.prompt_id)).toEqual(["a", "b"]);
    q = addPrompts(q, [prompt("a", 1), prompt("c", 3)]);
    expect(q.items.map((p) => p.prompt_id)).toEqual(["a", "b", "c"]);
    expect(currentPrompt(q)?.prompt_id).toBe("a");
    expect(waitingBehind(q)).toBe(2);
    expect(addPrompts(q, [prompt("b", 2)])).toBe(q);
  });

  it("removes answered or closed prompts and moves on", () => {
    let q = addPrompts(emptyQueue, [prompt("a", 1), prompt("b", 2)]);
    q = removePrompt(q, "a");
    expect(currentPrompt(q)?.prompt_id).toBe("b");
    expect(waitingBehind(q)).toBe(0);
    expect(removePrompt(q, "nope")).toBe(q);
    q = removePrompt(q, "b");
    expect(currentPrompt(q)).toBeNull();
  });

  it("drops expired prompts", () => {
    const q = addPrompts(emptyQueue, [prompt("a", 1, 5), prompt("b", 2, 60)]);
    expect(dropExpired(q, NOW).items.length).toBe(2);
    expect(dropExpired(q, NOW).items).toBe(q.items);
    const later = dropExpired(setAside(q, "a"), NOW + 10_000);
    expect(later.items.map((p) => p.prompt_id)).toEqual(["b"]);
    expect(later.setAside).toEqual([]);
  });

  it("sets prompts aside and brings them back", () => {
    let q = addPrompts(emptyQueue, [prompt("a", 1), prompt("b", 2)]);
    q = setAside(q, "a");
    expect(currentPrompt(q)?.prompt_id).toBe("b");
    expect(setAsidePrompts(q).map((p) => p.prompt_id)).toEqual(["a"]);
    q = setAside(q, "b");
    expect(currentPrompt(q)).toBeNull();
    q = bringForward(q, "b");
    expect(currentPrompt(q)?.prompt_id).toBe("b");
    q = restoreAll(q);
    expect(currentPrompt(q)?.prompt_id).toBe("b");
    expect(waitingBehind(q)).toBe(1);
    expect(bringForward(q, "zzz")).toBe(q);
  });

  it("a new prompt does not jump ahead of one brought forward", () => {
    let q = addPrompts(emptyQueue, [prompt("a", 1), prompt("b", 2)]);
    q = bringForward(q, "b");
    q = addPrompts(q, [prompt("c", 0)]);
    expect(currentPrompt(q)?.prompt_id).toBe("b");
  });
});
