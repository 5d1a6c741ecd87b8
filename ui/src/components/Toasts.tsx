import { useActions, useAppState } from "../context";
import { CloseIcon } from "./Icons";

/**
 * Short messages after an action. Infos sit in a polite live region ([role=status]) that is
 * always present; errors are announced at once ([role=alert]) and stay a little longer.
 */
export function Toasts() {
  const toasts = useAppState((s) => s.toasts);
  const actions = useActions();
  const infos = toasts.filter((t) => t.kind === "info");
  const errors = toasts.filter((t) => t.kind === "error");
  const item = (t: (typeof toasts)[number]) => (
    <div key={t.id} class={`toast toast-${t.kind}`}>
      <span class="toast-text">{t.text}</span>
      <button
        type="button"
        class="icon-btn"
        aria-label="Dismiss message"
        title="Dismiss"
        onClick={() => actions.dismissToast(t.id)}
      >
        <CloseIcon />
      </button>
    </div>
  );
  return (
    <div class="toasts">
      {errors.length > 0 && (
        <div role="alert" class="toast-stack">
          {errors.map(item)}
        </div>
      )}
      <div role="status" aria-live="polite" class="toast-stack">
        {infos.map(item)}
      </div>
    </div>
  );
}
