// The access request dialog: a program wants to use an account; Allow once, Always allow or Deny.
// A program on a machine reached with `keyport ssh` also offers Allow for this session, and
// Always allow is for its whole host (its name is only the remote side's claim).
import { useId, useState } from "preact/hooks";

import type { AccessPrompt } from "../bindings/AccessPrompt";
import type { PromptChoice } from "../bindings/PromptChoice";
import { useNow } from "../clock";
import { useActions, useAppState } from "../context";
import { errorText } from "../errors";
import { actionPhrase, formatDuration, secondsUntil } from "../format";
import { currentPrompt, waitingBehind } from "../promptQueue";
import { ErrorMessage, LocalTime, Spinner } from "./Common";
import { Modal } from "./Dialog";

const LABELS: Record<PromptChoice, [string, string]> = {
  allow_once: ["Allow once", "Allowing…"],
  allow_session: ["Allow for this session", "Allowing…"],
  allow_always: ["Always allow", "Allowing…"],
  deny: ["Deny", "Denying…"],
};

function PromptDialog(props: { prompt: AccessPrompt; behind: number }) {
  const p = props.prompt;
  const id = useId();
  const actions = useActions();
  const now = useNow();
  const [busy, setBusy] = useState<PromptChoice | null>(null);
  const [error, setError] = useState<string | null>(null);
  const left = secondsUntil(p.expires_at, now);
  const phrase = actionPhrase(p.action);

  async function answer(choice: PromptChoice) {
    setBusy(choice);
    setError(null);
    try {
      await actions.answerPrompt(p.prompt_id, choice);
    } catch (e) {
      setError(errorText(e));
      setBusy(null);
    }
  }

  const host = p.host ?? null;
  const button = (choice: PromptChoice, cls: string) => (
    <button
      type="button"
      class={`btn ${cls}`}
      data-testid={`prompt-${choice.replace("_", "-")}`}
      disabled={busy !== null}
      onClick={() => answer(choice)}
    >
      {busy === choice ? (
        <>
          <Spinner /> {LABELS[choice][1]}
        </>
      ) : choice === "allow_always" && host !== null ? (
        "Always allow for this host"
      ) : (
        LABELS[choice][0]
      )}
    </button>
  );

  return (
    <Modal
      labelledBy={`${id}-t`}
      describedBy={`${id}-d`}
      onClose={() => actions.setPromptAside(p.prompt_id)}
      busy={busy !== null}
      alert
      class="prompt-dialog"
      initialFocus={`#${CSS.escape(`${id}-t`)}`}
      data-testid="access-prompt"
      data-prompt-id={p.prompt_id}
    >
      <p class="eyebrow">Access request</p>
      <h2 id={`${id}-t`} class="modal-title" tabIndex={-1}>
        <span class="prompt-program">{p.program_name}</span>
        {host !== null && (
          <>
            {" "}
            on <span class="prompt-host">{host}</span>
          </>
        )}{" "}
        wants to {phrase.verb}{" "}
        <span class="prompt-account">{p.account}</span>
        {phrase.after}
      </h2>
      <div id={`${id}-d`} class="modal-body">
        {p.action === "read_token" ? (
          <p>
            The program gets the access token of <strong>{p.account}</strong>: with it, it can act as you at the
            provider, within the account's scopes.
          </p>
        ) : (
          <p>
            Allow once lets it do this now. Always allow lets it use <strong>{p.account}</strong> from now on: read
            its access token, renew it, sign in again, revoke or remove it.
          </p>
        )}
        {host !== null && (
          <p data-testid="prompt-remote">
            It asks from <strong>{host}</strong>, through a <code>keyport ssh</code> session. Its name is what the
            remote machine says; anyone who is you or root there can ask while the session lasts.
          </p>
        )}
        <dl class="facts">
          <dt>Program</dt>
          <dd>
            <code class="mono-text" data-testid="prompt-program">
              {p.program}
            </code>
          </dd>
          <dt>Asked</dt>
          <dd>
            <LocalTime iso={p.asked_at} />
          </dd>
        </dl>
        <p class={`countdown ${left !== null && left <= 10 ? "urgent" : ""}`} data-testid="prompt-countdown">
          {left !== null && left > 0
            ? `Without an answer it is refused, this once, in ${formatDuration(left)}.`
            : "Time is up: it was refused this once."}
        </p>
        {host === null ? (
          <p class="muted small">
            Always allow and Deny are remembered for this program and account; they show on the
            account's page, where you can forget them. Allow once remembers nothing.
          </p>
        ) : (
          <p class="muted small">
            Allow for this session lasts until the ssh session ends. Always allow is remembered for every program
            on {host}, Deny for this one; they show on the account's page. Allow once remembers nothing.
          </p>
        )}
      </div>
      {error && <ErrorMessage>{error}</ErrorMessage>}
      <div class="modal-actions prompt-actions">
        {button("deny", "btn-danger-outline")}
        <span class="actions-spacer" />
        {button("allow_once", "")}
        {host !== null && button("allow_session", "")}
        {button("allow_always", "btn-primary")}
      </div>
      {props.behind > 0 && (
        <p class="muted small queue-note">
          {props.behind === 1 ? "1 more request is waiting." : `${props.behind} more requests are waiting.`}
        </p>
      )}
    </Modal>
  );
}

/** Shows the first waiting access request as a modal dialog over any screen. */
export function AccessPromptHost() {
  const queue = useAppState((s) => s.prompts);
  const shown = currentPrompt(queue);
  if (!shown) return null;
  return <PromptDialog key={shown.prompt_id} prompt={shown} behind={waitingBehind(queue)} />;
}
