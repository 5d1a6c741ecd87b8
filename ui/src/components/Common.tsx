// Small shared pieces: spinner, loading line, expiry, status badge, scopes, times, error box,
// banner, copy-to-clipboard, and the busy/error state of an action.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

import type { AccountSummary } from "../bindings/AccountSummary";
import { useNow } from "../clock";
import { errorText } from "../errors";
import { expiryText, formatLocalTime, liveStatus, parseTime, statusWords } from "../format";
import { CloseIcon, InfoIcon, WarningIcon } from "./Icons";

export function Spinner(props: { large?: boolean }) {
  return <span class={`spinner ${props.large ? "spinner-large" : ""}`} aria-hidden="true" />;
}

/** "Loading accounts…" with a spinner; announced politely. */
export function Loading(props: { children: ComponentChildren }) {
  return (
    <p class="loading" aria-live="polite">
      <Spinner /> {props.children}
    </p>
  );
}

/** Live "expires in 4 min 12 s" / "expired 3 min ago" / "no expiry". */
export function Expiry(props: { expiresAt: string | null; prefix?: string }) {
  const now = useNow();
  const t = parseTime(props.expiresAt);
  return (
    <span
      class="expiry"
      data-testid="expiry"
      data-expires-at={props.expiresAt ?? ""}
      title={t === null ? undefined : `Access token expiry: ${formatLocalTime(props.expiresAt)}`}
    >
      {props.prefix}
      {expiryText(props.expiresAt, now)}
    </span>
  );
}

export function StatusBadge(props: { account: Pick<AccountSummary, "status" | "expires_at"> }) {
  const now = useNow();
  const status = liveStatus(props.account, now);
  return (
    <span class={`badge badge-${status}`} data-testid="status" data-status={status}>
      <span class="badge-dot" aria-hidden="true" />
      {statusWords(status)}
    </span>
  );
}

export function ScopeChips(props: { scopes: string[]; label?: string }) {
  if (!props.scopes.length) return <p class="muted small">No scopes recorded.</p>;
  return (
    <ul class="chips" aria-label={props.label ?? "Scopes"}>
      {props.scopes.map((s) => (
        <li key={s} class="chip" data-testid="scope">
          {s}
        </li>
      ))}
    </ul>
  );
}

export function LocalTime(props: { iso: string | null | undefined }) {
  if (!props.iso) return <span class="muted">never</span>;
  return <time dateTime={props.iso}>{formatLocalTime(props.iso)}</time>;
}

/** An error in a sentence, announced at once. */
export function ErrorMessage(props: { children: ComponentChildren; class?: string; id?: string }) {
  return (
    <div role="alert" id={props.id} class={`error-box ${props.class ?? ""}`}>
      <WarningIcon class="error-icon" />
      <div>{props.children}</div>
    </div>
  );
}

export function Banner(props: {
  kind: "info" | "warning";
  children: ComponentChildren;
  onDismiss?: () => void;
  dismissLabel?: string;
  testid?: string;
}) {
  return (
    <div class={`banner banner-${props.kind}`} data-testid={props.testid}>
      {props.kind === "info" ? <InfoIcon class="banner-icon" /> : <WarningIcon class="banner-icon" />}
      <div class="banner-text">{props.children}</div>
      {props.onDismiss && (
        <button
          type="button"
          class="icon-btn"
          aria-label={props.dismissLabel ?? "Dismiss"}
          title={props.dismissLabel ?? "Dismiss"}
          onClick={props.onDismiss}
        >
          <CloseIcon />
        </button>
      )}
    </div>
  );
}

/** Busy and error state for buttons that call the backend. */
export function useAction() {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (key: string, fn: () => Promise<unknown>) => {
    setBusy(key);
    setError(null);
    try {
      await fn();
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    } finally {
      setBusy(null);
    }
  }, []);
  return { busy, error, run, setError };
}

/**
 * Copies text to the clipboard. The web view may refuse (no permission, no secure context);
 * then the text in `el` is selected so that Ctrl+C / Cmd+C copies it, and "selected" is returned.
 */
export async function copyText(text: string, el: HTMLElement | null): Promise<"copied" | "selected"> {
  try {
    if (!navigator.clipboard?.writeText) throw new Error("no clipboard");
    await navigator.clipboard.writeText(text);
    return "copied";
  } catch {
    if (el) {
      if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
        el.focus();
        el.select();
      } else {
        const range = document.createRange();
        range.selectNodeContents(el);
        const sel = window.getSelection();
        sel?.removeAllRanges();
        sel?.addRange(range);
      }
    }
    return "selected";
  }
}

/** The copy shortcut on this machine. */
export function copyShortcut(): string {
  return /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent) ? "⌘C" : "Ctrl+C";
}

/** A value shown in monospace with a copy button next to it; says inline what happened. */
export function CopyField(props: { value: string; label: string; testid?: string }) {
  const ref = useRef<HTMLElement>(null);
  const [note, setNote] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  return (
    <div class="copy-field">
      <code ref={ref} class="mono-text" data-testid={props.testid}>
        {props.value}
      </code>
      <button
        type="button"
        class="btn btn-small"
        aria-label={`Copy the ${props.label}`}
        onClick={async () => {
          const r = await copyText(props.value, ref.current);
          setNote(
            r === "copied"
              ? "Copied."
              : `Keyport could not reach the clipboard, so the ${props.label} is selected: press ${copyShortcut()} to copy it.`,
          );
          if (timer.current) clearTimeout(timer.current);
          timer.current = setTimeout(() => setNote(null), r === "copied" ? 3000 : 10000);
        }}
      >
        Copy
      </button>
      <span class="copy-note small muted" aria-live="polite">
        {note}
      </span>
    </div>
  );
}
