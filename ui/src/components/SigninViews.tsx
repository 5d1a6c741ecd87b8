// A sign-in under way: starting, waiting for the browser, the device code, or failed.
import { useEffect, useRef, useState } from "preact/hooks";

import { type Signin } from "../app";
import { useNow } from "../clock";
import { useActions } from "../context";
import { formatDuration, secondsUntil, svgDataUrl } from "../format";
import { copyShortcut, copyText, CopyField, ErrorMessage, Spinner } from "./Common";

/** Moves focus into a view that replaced the control that had it. */
function useFocusOnMount<T extends HTMLElement>() {
  const ref = useRef<T>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const active = document.activeElement;
    // Only when focus was lost: the button that started it is gone.
    if (!active || active === document.body || !active.isConnected) el.focus();
  }, []);
  return ref;
}

type BrowserSignin = Extract<Signin, { phase: "browser" }>;
type DeviceSignin = Extract<Signin, { phase: "device" }>;

function CancelButton() {
  const actions = useActions();
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class="btn"
      data-testid="signin-cancel"
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        try {
          await actions.cancelSignin();
        } finally {
          setBusy(false);
        }
      }}
    >
      {busy ? (
        <>
          <Spinner /> Cancelling…
        </>
      ) : (
        "Cancel"
      )}
    </button>
  );
}

export function SigninStarting(props: { mode: "browser" | "device" }) {
  const ref = useFocusOnMount<HTMLElement>();
  return (
    <section ref={ref} tabIndex={-1} class="waiting" data-testid="signin-waiting" data-mode={props.mode} aria-busy="true">
      <p class="loading" aria-live="polite">
        <Spinner large />
        {props.mode === "browser" ? "Starting the sign-in…" : "Asking the provider for a code…"}
      </p>
      <div class="button-row">
        <CancelButton />
      </div>
    </section>
  );
}

/** Waiting for the browser sign-in: spinner, the address, "Open again", Cancel. */
export function BrowserWaiting(props: { signin: BrowserSignin }) {
  const s = props.signin;
  const actions = useActions();
  const now = useNow();
  const left = Math.floor((s.expiresAt - now) / 1000);
  const ref = useFocusOnMount<HTMLElement>();
  return (
    <section ref={ref} tabIndex={-1} class="waiting" data-testid="signin-waiting" data-mode="browser" aria-labelledby="signin-waiting-title">
      <div class="waiting-head">
        <Spinner large />
        <h2 id="signin-waiting-title">Waiting for you to sign in…</h2>
      </div>
      <p>
        {s.browserOpened
          ? "Keyport opened your browser on the provider's sign-in page. Sign in and approve there; this window moves on by itself."
          : "Keyport could not open a browser. Open this address in a browser on this computer, sign in and approve; this window moves on by itself."}
      </p>
      <CopyField value={s.url} label="sign-in address" testid="signin-url" />
      <p class="muted small">
        {left > 0
          ? `Keyport waits ${formatDuration(left)} more, then gives up.`
          : "The wait is over; Keyport is giving up."}
      </p>
      <div class="button-row">
        <button type="button" class="btn btn-primary" data-testid="signin-open-again" onClick={() => actions.openUrl(s.url)}>
          Open again
        </button>
        <CancelButton />
      </div>
    </section>
  );
}

/** Device sign-in: the code to type elsewhere, a QR code of the link, a countdown, Cancel. */
export function DeviceWaiting(props: { signin: DeviceSignin }) {
  const d = props.signin.device;
  const actions = useActions();
  const now = useNow();
  const codeRef = useRef<HTMLOutputElement>(null);
  const left = secondsUntil(d.expires_at, now);
  const link = d.verification_uri_complete ?? d.verification_uri;
  const ref = useFocusOnMount<HTMLElement>();

  return (
    <section ref={ref} tabIndex={-1} class="waiting device" data-testid="signin-waiting" data-mode="device" aria-labelledby="device-title">
      <div class="waiting-head">
        <Spinner large />
        <h2 id="device-title">Sign in on another device</h2>
      </div>
      <div class="device-grid">
        <div class="device-steps">
          <ol class="steps">
            <li>
              On your phone or another computer, open
              <CopyField
                value={d.verification_uri}
                label="sign-in page address"
              />
              {d.verification_uri_complete && <span class="muted small">or scan the QR code: it opens the page with the code filled in.</span>}
            </li>
            <li>
              Enter this code:
              <div class="user-code-row">
                <output ref={codeRef} class="user-code" data-testid="device-code" aria-label={`Code ${d.user_code}`}>
                  {d.user_code}
                </output>
                <button
                  type="button"
                  class="btn btn-small"
                  data-testid="device-code-copy"
                  onClick={async () => {
                    const r = await copyText(d.user_code, codeRef.current);
                    actions.toast(
                      r === "copied"
                        ? "Code copied."
                        : `Keyport could not reach the clipboard, so the code is selected: press ${copyShortcut()} to copy it.`,
                    );
                  }}
                >
                  Copy code
                </button>
              </div>
            </li>
            <li>Approve the access there. This window moves on by itself.</li>
          </ol>
          <p class={`countdown ${left !== null && left <= 60 ? "urgent" : ""}`} data-testid="device-countdown">
            {left === null
              ? "The code has no stated expiry."
              : left > 0
                ? `The code expires in ${formatDuration(left)}.`
                : "The code has expired."}
          </p>
        </div>
        <figure class="qr-figure">
          <img
            class="qr"
            data-testid="device-qr"
            src={svgDataUrl(d.qr_svg)}
            alt={`QR code of the sign-in link ${link}`}
            width={200}
            height={200}
          />
          <figcaption class="muted small">Scan with your phone's camera</figcaption>
        </figure>
      </div>
      <div class="button-row">
        <button type="button" class="btn" onClick={() => actions.openUrl(link)}>
          Open on this computer
        </button>
        <CancelButton />
      </div>
    </section>
  );
}

/** A sign-in that failed: the backend's message and a way to try again. */
export function SigninFailed(props: { message: string; onRetry: () => void; onBack: () => void; backLabel?: string }) {
  const ref = useFocusOnMount<HTMLElement>();
  return (
    <section ref={ref} tabIndex={-1} class="waiting failed" data-testid="signin-failed">
      <ErrorMessage>
        <p>
          <strong>The sign-in did not finish.</strong> {props.message}
        </p>
      </ErrorMessage>
      <div class="button-row">
        <button type="button" class="btn btn-primary" data-testid="signin-retry" onClick={props.onRetry}>
          Try again
        </button>
        <button type="button" class="btn" data-testid="signin-back" onClick={props.onBack}>
          {props.backLabel ?? "Back"}
        </button>
      </div>
    </section>
  );
}

export function SigninView(props: {
  signin: Signin;
  onRetry: () => void;
  onBack: () => void;
  backLabel?: string;
}) {
  const s = props.signin;
  switch (s.phase) {
    case "starting":
      return <SigninStarting mode={s.mode} />;
    case "browser":
      return <BrowserWaiting signin={s} />;
    case "device":
      return <DeviceWaiting signin={s} />;
    case "failed":
      return <SigninFailed message={s.message} onRetry={props.onRetry} onBack={props.onBack} backLabel={props.backLabel} />;
  }
}
