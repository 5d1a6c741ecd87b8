// Short messages after an action, in a strip below the page (never over it): at most three,
// newest first. Infos go by themselves (not while the pointer or the keyboard is on them);
// errors stay until dismissed. Each has a close button; Escape on a message closes it too.
import { useEffect, useRef } from "preact/hooks";

import type { Toast } from "../app";
import { useActions, useAppState } from "../context";
import { visibleToasts } from "../controller/toasts";
import { CloseIcon } from "./Icons";

/**
 * The messages sit in a polite live region ([role=status]) that is always present, so new ones
 * are read out; an error is its own [role=alert], read out at once.
 */
export function Toasts() {
  const toasts = useAppState((s) => s.toasts);
  const actions = useActions();
  const ref = useRef<HTMLDivElement>(null);
  /** Where the keyboard focus was before it came to the messages, to go back to. */
  const returnFocus = useRef<HTMLElement | null>(null);
  const { shown, waiting } = visibleToasts(toasts);

  /** Holds the messages while the pointer is over them or the focus is in them. */
  function checkHold() {
    const el = ref.current;
    if (!el) return;
    const active = document.activeElement;
    actions.holdToasts(el.matches(":hover") || (active !== null && el.contains(active)));
  }
  // A message removed under the pointer or the focus sends no leave or blur event: look again.
  useEffect(checkHold, [toasts]);

  /** Focus in a message about to go moves to `next`, else back to where it came from. */
  function moveFocus(next: HTMLElement | null) {
    const el = ref.current;
    const active = document.activeElement;
    if (!el || !active || !el.contains(active)) return;
    const target = next ?? (returnFocus.current?.isConnected ? returnFocus.current : null);
    target?.focus();
  }
  function dismiss(id: number, next: HTMLElement | null) {
    moveFocus(next);
    actions.dismissToast(id);
  }

  /** The close button of the message shown after (else before) message `i`. */
  function neighbour(i: number): HTMLElement | null {
    const buttons = ref.current?.querySelectorAll<HTMLElement>(".toast .icon-btn");
    if (!buttons) return null;
    return buttons[i + 1] ?? buttons[i - 1] ?? null;
  }

  return (
    <div
      ref={ref}
      class={`toasts ${shown.length ? "has-toasts" : ""}`}
      onPointerEnter={() => actions.holdToasts(true)}
      onPointerLeave={() => actions.holdToasts(ref.current?.contains(document.activeElement) ?? false)}
      onFocusIn={(e) => {
        const from = e.relatedTarget;
        if (from instanceof HTMLElement && !ref.current?.contains(from)) returnFocus.current = from;
        actions.holdToasts(true);
      }}
      onFocusOut={(e) => {
        const to = e.relatedTarget;
        if (to instanceof Node && ref.current?.contains(to)) return;
        actions.holdToasts(ref.current?.matches(":hover") ?? false);
      }}
    >
      <div role="status" aria-live="polite" class="toast-stack">
        {shown.map((t: Toast, i) => (
          <div
            key={t.id}
            class={`toast toast-${t.kind}`}
            role={t.kind === "error" ? "alert" : undefined}
            data-testid="toast"
            data-kind={t.kind}
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                e.preventDefault();
                dismiss(t.id, neighbour(i));
              }
            }}
          >
            <span class="toast-text" id={`toast-${t.id}`}>
              {t.text}
            </span>
            <button
              type="button"
              class="icon-btn"
              aria-label={t.kind === "error" ? "Dismiss this error" : "Dismiss this message"}
              aria-describedby={`toast-${t.id}`}
              title="Dismiss"
              data-testid="toast-dismiss"
              onClick={() => dismiss(t.id, neighbour(i))}
            >
              <CloseIcon />
            </button>
          </div>
        ))}
      </div>
      {waiting > 0 && (
        <p class="toast-more" data-testid="toast-more">
          <span>{waiting === 1 ? "1 earlier error waits behind these." : `${waiting} earlier errors wait behind these.`}</span>
          <button
            type="button"
            class="btn btn-small"
            onClick={() => {
              moveFocus(null);
              actions.dismissAllToasts();
            }}
          >
            Dismiss all
          </button>
        </p>
      )}
    </div>
  );
}
