// Toasts: info messages go by themselves, errors wait for the user, at most three show.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { createController, type Api } from "../app";
import { BackendError } from "../errors";
import { createCore } from "./core";
import type { Toast } from "./state";
import { createToasts, MAX_KEPT, MAX_VISIBLE, TOAST_MS, visibleToasts, withToast } from "./toasts";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));

function setup() {
  const core = createCore({} as Api, null);
  const toasts = createToasts(core);
  const texts = () => core.get().toasts.map((t) => t.text);
  const shown = () => visibleToasts(core.get().toasts).shown.map((t) => t.text);
  return { core, toasts, texts, shown };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("toasts", () => {
  it("an info message goes away by itself after TOAST_MS", () => {
    const { toasts, texts } = setup();
    toasts.toast("Refreshed work.");
    expect(texts()).toEqual(["Refreshed work."]);
    vi.advanceTimersByTime(TOAST_MS - 1);
    expect(texts()).toEqual(["Refreshed work."]);
    vi.advanceTimersByTime(1);
    expect(texts()).toEqual([]);
  });

  it("an error stays past the info timeout, and goes when dismissed", () => {
    const { core, toasts, texts } = setup();
    toasts.toast("work: the provider did not answer.", "error");
    toasts.toast("Refreshed home.");
    vi.advanceTimersByTime(TOAST_MS);
    expect(texts()).toEqual(["work: the provider did not answer."]);
    vi.advanceTimersByTime(60 * 60 * 1000);
    expect(texts()).toEqual(["work: the provider did not answer."]);
    toasts.dismissToast(core.get().toasts[0].id);
    expect(texts()).toEqual([]);
  });

  it("an error from an action through the controller stays until dismissed", async () => {
    const api = { openUrl: vi.fn(async () => Promise.reject(new BackendError("internal", "no browser"))) };
    const c = createController(api as unknown as Api, { window: null });
    await c.actions.openUrl("https://example.com");
    vi.advanceTimersByTime(10 * TOAST_MS);
    const [t] = c.store.get().toasts;
    expect(t).toMatchObject({ kind: "error", text: "The page could not be opened. No browser." });
    c.actions.dismissToast(t.id);
    expect(c.store.get().toasts).toEqual([]);
  });

  it("shows at most three, newest first; info pushed out is gone, errors wait their turn", () => {
    const { core, toasts, texts, shown } = setup();
    toasts.toast("error 1", "error");
    toasts.toast("info 1");
    toasts.toast("info 2");
    expect(shown()).toEqual(["info 2", "info 1", "error 1"]);
    toasts.toast("info 3");
    toasts.toast("info 4");
    expect(shown()).toHaveLength(MAX_VISIBLE);
    expect(shown()).toEqual(["info 4", "info 3", "info 2"]);
    // info 1 was pushed out and dropped; error 1 waits behind the three shown.
    expect(texts()).toEqual(["error 1", "info 2", "info 3", "info 4"]);
    expect(visibleToasts(core.get().toasts).waiting).toBe(1);
    // The infos go by themselves; the waiting error shows again.
    vi.advanceTimersByTime(TOAST_MS);
    expect(shown()).toEqual(["error 1"]);
    expect(visibleToasts(core.get().toasts).waiting).toBe(0);
  });

  it("the same message again replaces the earlier one, newest first, with a new time", () => {
    const { toasts, shown } = setup();
    toasts.toast("Refreshed work.");
    toasts.toast("Refreshed home.");
    vi.advanceTimersByTime(TOAST_MS - 1000);
    toasts.toast("Refreshed work.");
    expect(shown()).toEqual(["Refreshed work.", "Refreshed home."]);
    vi.advanceTimersByTime(1000);
    expect(shown()).toEqual(["Refreshed work."]);
    vi.advanceTimersByTime(TOAST_MS - 1000);
    expect(shown()).toEqual([]);
  });

  it("no info message goes while the messages are held (pointer or focus on them)", () => {
    const { toasts, texts } = setup();
    toasts.toast("Refreshed work.");
    vi.advanceTimersByTime(TOAST_MS - 100);
    toasts.holdToasts(true);
    toasts.toast("Refreshed home.");
    vi.advanceTimersByTime(10 * TOAST_MS);
    expect(texts()).toEqual(["Refreshed work.", "Refreshed home."]);
    toasts.holdToasts(false);
    vi.advanceTimersByTime(TOAST_MS - 1);
    expect(texts()).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(texts()).toEqual([]);
  });

  it("dismiss all clears errors and infos", () => {
    const { toasts, texts } = setup();
    for (let i = 0; i < 5; i++) toasts.toast(`error ${i}`, "error");
    toasts.toast("info");
    toasts.dismissAllToasts();
    expect(texts()).toEqual([]);
    vi.advanceTimersByTime(TOAST_MS);
    expect(texts()).toEqual([]);
  });
});

describe("withToast", () => {
  const t = (id: number, kind: Toast["kind"] = "error"): Toast => ({ id, kind, text: `t${id}` });

  it("keeps at most MAX_KEPT, dropping the oldest", () => {
    let list: Toast[] = [];
    for (let i = 1; i <= MAX_KEPT + 5; i++) list = withToast(list, t(i));
    expect(list).toHaveLength(MAX_KEPT);
    expect(list[0].id).toBe(6);
    expect(visibleToasts(list).shown.map((x) => x.id)).toEqual([MAX_KEPT + 5, MAX_KEPT + 4, MAX_KEPT + 3]);
    expect(visibleToasts(list).waiting).toBe(MAX_KEPT - MAX_VISIBLE);
  });

  it("does not change the list it is given", () => {
    const list = [t(1), t(2, "info"), t(3, "info")];
    const copy = [...list];
    withToast(list, t(4, "info"));
    expect(list).toEqual(copy);
  });
});
