// The queue of access requests waiting for an answer, as pure functions.
import type { AccessPrompt } from "./bindings/AccessPrompt";
import { parseTime } from "./format";

/**
 * The access prompts waiting for an answer, oldest first. The first one not set aside is the
 * one shown; a prompt set aside (Escape) stays in the queue, answerable from a banner, until it
 * is answered, closed by the backend or expires.
 */
export type PromptQueue = { items: AccessPrompt[]; setAside: string[] };

export const emptyQueue: PromptQueue = { items: [], setAside: [] };

function byAskedAt(a: AccessPrompt, b: AccessPrompt): number {
  return (parseTime(a.asked_at) ?? 0) - (parseTime(b.asked_at) ?? 0);
}

/** Adds prompts not yet queued (by prompt_id) at the end, the new ones ordered by asked_at. */
export function addPrompts(q: PromptQueue, prompts: AccessPrompt[]): PromptQueue {
  const known = new Set(q.items.map((p) => p.prompt_id));
  const fresh = prompts.filter((p) => {
    if (known.has(p.prompt_id)) return false;
    known.add(p.prompt_id);
    return true;
  });
  if (!fresh.length) return q;
  const items = [...q.items, ...fresh.sort(byAskedAt)];
  return { ...q, items };
}

/** Drops a prompt (answered here, or closed elsewhere). */
export function removePrompt(q: PromptQueue, promptId: string): PromptQueue {
  if (!q.items.some((p) => p.prompt_id === promptId)) return q;
  return {
    items: q.items.filter((p) => p.prompt_id !== promptId),
    setAside: q.setAside.filter((id) => id !== promptId),
  };
}

/** Drops the prompts whose answer time has passed (the backend denied them this once). */
export function dropExpired(q: PromptQueue, now: number): PromptQueue {
  const items = q.items.filter((p) => {
    const t = parseTime(p.expires_at);
    return t === null || t > now;
  });
  if (items.length === q.items.length) return q;
  const ids = new Set(items.map((p) => p.prompt_id));
  return { items, setAside: q.setAside.filter((id) => ids.has(id)) };
}

/** Sets the shown prompt aside without answering it. */
export function setAside(q: PromptQueue, promptId: string): PromptQueue {
  if (q.setAside.includes(promptId) || !q.items.some((p) => p.prompt_id === promptId)) return q;
  return { ...q, setAside: [...q.setAside, promptId] };
}

/** Shows a prompt now: takes it out of the set-aside list and puts it first. */
export function bringForward(q: PromptQueue, promptId: string): PromptQueue {
  const p = q.items.find((x) => x.prompt_id === promptId);
  if (!p) return q;
  return {
    items: [p, ...q.items.filter((x) => x.prompt_id !== promptId)],
    setAside: q.setAside.filter((id) => id !== promptId),
  };
}

/** Shows every set-aside prompt again. */
export function restoreAll(q: PromptQueue): PromptQueue {
  return q.setAside.length ? { ...q, setAside: [] } : q;
}

/** The prompt to show, if any. */
export function currentPrompt(q: PromptQueue): AccessPrompt | null {
  return q.items.find((p) => !q.setAside.includes(p.prompt_id)) ?? null;
}

/** How many prompts wait behind the shown one. */
export function waitingBehind(q: PromptQueue): number {
  const shown = currentPrompt(q);
  return shown ? q.items.filter((p) => !q.setAside.includes(p.prompt_id)).length - 1 : 0;
}

export function setAsidePrompts(q: PromptQueue): AccessPrompt[] {
  return q.items.filter((p) => q.setAside.includes(p.prompt_id));
}
