// Modal dialogs: a native <dialog> keeping focus inside, and the confirmation dialog.
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";

import { errorText } from "../errors";
import { Spinner } from "./Common";

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

function focusables(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
    (el) => !el.closest("[hidden]") && el.getClientRects().length > 0,
  );
}

export type ModalProps = {
  /** id of the element that names the dialog */
  labelledBy: string;
  describedBy?: string;
  /** Escape; not called while `busy` */
  onClose: () => void;
  busy?: boolean;
  class?: string;
  /** where focus goes first: a selector inside the dialog; default the first field or button */
  initialFocus?: string;
  alert?: boolean;
  children: ComponentChildren;
  [data: `data-${string}`]: string | undefined;
};

/**
 * A modal dialog: a native <dialog> shown with showModal() (the rest of the window is inert),
 * focus kept inside, Escape closes, and focus returns where it was when it closes.
 */
export function Modal(props: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const busyRef = useRef(props.busy);
  busyRef.current = props.busy;
  const closeRef = useRef(props.onClose);
  closeRef.current = props.onClose;

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!d.open) {
      try {
        if (typeof d.showModal === "function") d.showModal();
        else d.setAttribute("open", "");
      } catch {
        d.setAttribute("open", "");
      }
    }
    const first =
      (props.initialFocus ? d.querySelector<HTMLElement>(props.initialFocus) : null) ??
      d.querySelector<HTMLElement>("[data-autofocus]") ??
      focusables(d)[0] ??
      d;
    first.focus();
    // The dialog closed by the browser itself (not through us): tell the owner.
    const onNativeClose = () => {
      if (ref.current) closeRef.current();
    };
    d.addEventListener("close", onNativeClose);
    return () => {
      d.removeEventListener("close", onNativeClose);
      if (d.open) {
        try {
          d.close();
        } catch {
          d.removeAttribute("open");
        }
      }
      if (opener && opener.isConnected) opener.focus();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  function onKeyDown(e: KeyboardEvent) {
    const d = ref.current;
    if (!d) return;
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      if (!busyRef.current) closeRef.current();
      return;
    }
    if (e.key !== "Tab") return;
    const items = focusables(d);
    if (!items.length) {
      e.preventDefault();
      return;
    }
    const first = items[0];
    const last = items[items.length - 1];
    const active = document.activeElement;
    if (e.shiftKey && (active === first || active === d)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && active === last) {
      e.preventDefault();
      first.focus();
    }
  }

  const { labelledBy, describedBy, onClose: _c, busy, class: cls, initialFocus: _i, alert, children, ...data } =
    props;
  return (
    <dialog
      ref={ref}
      role={alert ? "alertdialog" : "dialog"}
      aria-modal="true"
      aria-labelledby={labelledBy}
      aria-describedby={describedBy}
      aria-busy={busy ? "true" : undefined}
      class={`modal ${cls ?? ""}`}
      tabIndex={-1}
      onKeyDown={onKeyDown}
      onCancel={(e) => e.preventDefault()}
      {...data}
    >
      {children}
    </dialog>
  );
}

export type ConfirmProps = {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  busyLabel: string;
  danger?: boolean;
  onConfirm: () => Promise<unknown>;
  onCancel: () => void;
};

/** "Are you sure?" with a Cancel button (focused first) and a confirm button. */
export function ConfirmDialog(props: ConfirmProps) {
  const id = useId();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function confirm() {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
    } catch (e) {
      setError(errorText(e));
      setBusy(false);
    }
  }

  return (
    <Modal
      labelledBy={`${id}-title`}
      describedBy={`${id}-body`}
      onClose={props.onCancel}
      busy={busy}
      initialFocus='[data-testid="cancel"]'
    >
      <h2 id={`${id}-title`} class="modal-title">
        {props.title}
      </h2>
      <div id={`${id}-body`} class="modal-body">
        {props.children}
      </div>
      {error && (
        <p role="alert" class="error-text">
          {error}
        </p>
      )}
      <div class="modal-actions">
        <button type="button" class="btn" data-testid="cancel" onClick={props.onCancel} disabled={busy}>
          Cancel
        </button>
        <button
          type="button"
          class={`btn ${props.danger ? "btn-danger" : "btn-primary"}`}
          data-testid="confirm"
          onClick={confirm}
          disabled={busy}
        >
          {busy ? (
            <>
              <Spinner /> {props.busyLabel}
            </>
          ) : (
            props.confirmLabel
          )}
        </button>
      </div>
    </Modal>
  );
}
