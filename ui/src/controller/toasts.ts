// Short messages after an action (toasts) and lasting notices on the accounts screen. Info
// messages go away by themselves; errors stay until the user dismisses them. At most
// MAX_VISIBLE show at once, newest first; errors pushed out of sight wait behind them.
import type { Core } from "./core";
import type { Toast } from "./state";

/** How long an info message stays, unless the pointer or the keyboard is on the messages. */
export const TOAST_MS = 7000;
/** How many messages show at once. */
export const MAX_VISIBLE = 3;
/** How many are kept at most, waiting errors included: past that the oldest go. */
export const MAX_KEPT = 20;

/**
 * `list` (oldest first) with `t` added as the newest. The same message again replaces the
 * earlier one. Info messages pushed out of sight are gone (they were passing news); errors
 * wait behind the ones shown until those are dismissed.
 */
export function withToast(list: Toast[], t: Toast): Toast[] {
  const next = [...list.filter((x) => x.kind !== t.kind || x.text !== t.text), t];
  const shown = next.slice(-MAX_VISIBLE);
  const waiting = next.slice(0, -MAX_VISIBLE).filter((x) => x.kind === "error");
  return [...waiting, ...shown].slice(-MAX_KEPT);
}

/** The messages on screen, newest first, and how many more wait behind them. */
export function visibleToasts(list: Toast[]): { shown: Toast[]; waiting: number } {
  return { shown: list.slice(-MAX_VISIBLE).reverse(), waiting: Math.max(0, list.length - MAX_VISIBLE) };
}

export type Toasts = ReturnType<typeof createToasts>;

export function createToasts(core: Core) {
  const { get, set } = core;
  let nextId = 1;
  /** The info messages' timers, by id. */
  const timers = new Map<number, ReturnType<typeof setTimeout>>();
  let held = false;

  function startTimer(id: number) {
    timers.set(
      id,
      setTimeout(() => {
        timers.delete(id);
        dismissToast(id);
      }, TOAST_MS),
    );
  }
  function stopTimer(id: number) {
    const timer = timers.get(id);
    if (timer !== undefined) clearTimeout(timer);
    timers.delete(id);
  }

  function toast(text: string, kind: Toast["kind"] = "info") {
    const id = nextId++;
    const toasts = withToast(get().toasts, { id, kind, text });
    set({ toasts });
    // Timers of messages replaced or pushed out.
    for (const old of [...timers.keys()]) if (!toasts.some((t) => t.id === old)) stopTimer(old);
    if (kind === "info" && !held) startTimer(id);
  }

  function dismissToast(id: number) {
    stopTimer(id);
    if (get().toasts.some((t) => t.id === id)) set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
  }

  function dismissAllToasts() {
    for (const id of [...timers.keys()]) stopTimer(id);
    if (get().toasts.length) set({ toasts: [] });
  }

  /**
   * While the pointer or the keyboard focus is on the messages none goes away by itself;
   * once they leave, each info message has TOAST_MS again.
   */
  function holdToasts(hold: boolean) {
    if (hold === held) return;
    held = hold;
    if (hold) for (const id of [...timers.keys()]) stopTimer(id);
    else for (const t of get().toasts) if (t.kind === "info") startTimer(t.id);
  }

  function notice(text: string, page: string | null) {
    const id = nextId++;
    set((s) => ({ notices: [...s.notices, { id, text, page }] }));
  }
  function dismissNotice(id: number) {
    set((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));
  }

  return { toast, dismissToast, dismissAllToasts, holdToasts, notice, dismissNotice };
}
