// Banners above every screen: live updates lost, the socket note, sign-ins needed, set-aside requests.
import { useActions, useAppState } from "../context";
import { setAsidePrompts } from "../promptQueue";
import { Banner } from "./Common";

/** Messages above every screen: live updates off, the socket note, sign-in needed, set-aside requests. */
export function GlobalBanners() {
  const actions = useActions();
  const eventsError = useAppState((s) => s.eventsError);
  const status = useAppState((s) => s.status);
  const noteDismissed = useAppState((s) => s.socketNoteDismissed);
  const accounts = useAppState((s) => s.accounts);
  const prompts = useAppState((s) => s.prompts);
  const screen = useAppState((s) => s.screen);

  // Accounts that need a new sign-in: from the list once loaded, else from the app status.
  const attention = accounts
    ? accounts.filter((a) => a.status === "needs_sign_in").map((a) => a.name)
    : (status?.needs_attention ?? []);
  // On an account's own page the page itself says it.
  const shownAttention = attention.filter((n) => !(screen.name === "account" && screen.account === n));
  const aside = setAsidePrompts(prompts);

  return (
    <div class="banners">
      {eventsError && (
        <Banner kind="warning">
          Keyport cannot receive live updates, so what you see may be out of date. {eventsError}
        </Banner>
      )}
      {status?.socket_note && !noteDismissed && (
        <Banner kind="info" testid="socket-note" onDismiss={actions.dismissSocketNote} dismissLabel="Dismiss this note">
          {status.socket_note}
        </Banner>
      )}
      {shownAttention.length > 0 && (
        <Banner kind="warning" testid="needs-sign-in-banner">
          <p>
            {shownAttention.length === 1
              ? `${shownAttention[0]} needs you to sign in again before programs can use it.`
              : `${shownAttention.length} accounts need you to sign in again before programs can use them.`}
          </p>
          <ul class="inline-links">
            {shownAttention.map((name) => (
              <li key={name}>
                <a href={`#/account/${encodeURIComponent(name)}`}>
                  {shownAttention.length === 1 ? "Open the account" : `Open ${name}`}
                </a>
              </li>
            ))}
          </ul>
        </Banner>
      )}
      {aside.length > 0 && (
        <Banner kind="warning" testid="prompts-waiting">
          <p>
            {aside.length === 1
              ? `${aside[0].program_name} is waiting for your answer: may it read ${aside[0].account}?`
              : `${aside.length} programs are waiting for your answer.`}
          </p>
          <button type="button" class="btn btn-small" onClick={() => actions.showPrompt(aside[0].prompt_id)}>
            Answer
          </button>
        </Banner>
      )}
    </div>
  );
}
