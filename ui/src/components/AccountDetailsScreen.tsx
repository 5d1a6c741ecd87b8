// The account details screen: token, identity, scopes, history, last error, programs and
// activity, with refresh, sign in again, copy token, revoke and remove.
import { useEffect, useId, useRef, useState } from "preact/hooks";

import type { AccountDetails } from "../bindings/AccountDetails";
import type { AccountSummary } from "../bindings/AccountSummary";
import type { ActivityRecord } from "../bindings/ActivityRecord";
import type { ProgramAccess } from "../bindings/ProgramAccess";
import { isNotFound } from "../app";
import { useActions, useAppState } from "../context";
import { errorText, sentence } from "../errors";
import { useNow } from "../clock";
import { baseName, identityText, parseScopes, providerKindLabel, refreshTokenText } from "../format";
import { providerKinds, RefreshTokenNote } from "./AccountsScreen";
import {
  Banner,
  ErrorMessage,
  Expiry,
  Loading,
  LocalTime,
  ScopeChips,
  Spinner,
  StatusBadge,
  useAction,
} from "./Common";
import { ConfirmDialog, Modal } from "./Dialog";
import { Field } from "./Field";
import { ProviderIcon } from "./Icons";
import { SigninView } from "./SigninViews";

type Pending = "revoke" | "remove" | "reauth" | null;

/** When the refresh token ends, live. */
function RefreshTokenExpiry(props: { account: AccountSummary }) {
  const now = useNow();
  return (
    <span class="small block" data-testid="refresh-token-expiry">
      Refresh token: {refreshTokenText(props.account, now)}
    </span>
  );
}

function BusyLabel(props: { busy: boolean; idle: string; working: string }) {
  return props.busy ? (
    <>
      <Spinner /> {props.working}
    </>
  ) : (
    <>{props.idle}</>
  );
}

function ProgramsList(props: { account: string; programs: ProgramAccess[] }) {
  const actions = useActions();
  const { busy, error, run } = useAction();
  if (!props.programs.length) {
    return (
      <p class="muted">
        No program has asked for this account yet. When one does, Keyport asks you whether to allow it, once or
        always.
      </p>
    );
  }
  return (
    <>
      {error && <ErrorMessage>{error}</ErrorMessage>}
      <ul class="program-list">
        {props.programs.map((p) => (
          <li key={p.program} class="program" data-testid="program" data-program={p.program}>
            <div class="program-main">
              <span class={`badge ${p.decision === "allow" ? "badge-valid" : "badge-expired"}`}>
                {p.decision === "allow" ? "Allowed" : "Denied"}
              </span>
              <div class="program-text">
                <strong>{p.program_name}</strong>
                <code class="mono-text small">{p.program}</code>
                <span class="muted small">
                  decided <LocalTime iso={p.decided_at} />
                  {" · "}
                  <span data-testid="program-last-read">
                    last read <LocalTime iso={p.last_read} />
                  </span>
                </span>
              </div>
            </div>
            <button
              type="button"
              class="btn btn-small"
              data-testid="program-forget"
              aria-label={`Forget the rule for ${p.program}`}
              disabled={busy !== null}
              onClick={() => run(p.program, () => actions.forgetProgram(p.program, props.account))}
            >
              <BusyLabel busy={busy === p.program} idle="Forget" working="Forgetting…" />
            </button>
          </li>
        ))}
      </ul>
      <p class="muted small">Forget a rule and the program asks again the next time it wants a token.</p>
    </>
  );
}

/** Who asked, in an activity record. */
export function activityWho(r: ActivityRecord): string {
  switch (r.asker) {
    case "program":
      return r.program ?? "a program";
    case "person":
      return `you at ${r.terminal ?? "a terminal"}`;
    case "window":
      return "you, in this window";
    default:
      return r.why === "flood" || r.why === "dropped" ? "several programs" : "an unidentified process";
  }
}

/** What was asked, as the end of "Allowed to ..." or "Refused: ...". */
const actionPhrases: Record<string, string> = {
  "token.get": "read the token",
  "token.copy": "copy the token",
  "token.refresh": "renew the token",
  "accounts.reauth": "sign in again",
  "accounts.revoke": "revoke the account",
  "accounts.remove": "remove the account",
  "accounts.status": "see the account",
  "signin.start": "connect the account",
  "access.set": "change a rule",
  "access.forget": "forget a rule",
  "activity.list": "read the activity log",
};

/** What came of it, in a few words. */
export function activityWhat(r: ActivityRecord): string {
  const phrase = actionPhrases[r.action] ?? r.action;
  let what: string;
  if (r.outcome === "handed_out") what = r.action === "token.copy" ? "Copied the token" : "Read the token";
  else if (r.outcome === "allowed") what = `Allowed to ${phrase}`;
  else what = r.action === "*" ? "Refused" : `Refused: ${phrase}`;
  return r.count ? `${what} ×${r.count}` : what;
}

/** Why, in a few words. */
export function activityWhy(r: ActivityRecord): string {
  const rule = r.rule === "*" ? "your rule for every account" : "your rule for this account";
  switch (r.why) {
    case "rule":
      return `allowed by ${rule}`;
    case "answer":
      if (r.answer === "session") return "you chose Allow for this session";
      return r.answer === "always" ? "you chose Always allow" : "you chose Allow once";
    case "person":
      return "you, at your terminal";
    case "window":
      return "you, in this window";
    case "no_rule":
      return "no rule allows it";
    case "denied_by_rule":
      return `denied by ${rule}`;
    case "denied_in_window":
      return "you chose Deny";
    case "no_one_to_ask":
      return "no rule, and nobody answered";
    case "unidentified":
      return "the process could not be identified";
    case "output_elsewhere":
      return "its output went elsewhere";
    case "only_you":
      return "only you may do that";
    case "flood":
      return "too many kinds of requests at once: counted";
    case "dropped":
      return "lost: the log was behind";
  }
}

function ActivityList(props: { records: ActivityRecord[] }) {
  if (!props.records.length) {
    return <p class="muted">Nothing yet. Every token handed out, and every request refused, is listed here.</p>;
  }
  // Newest first on the page.
  const records = [...props.records].reverse();
  return (
    <>
      <ul class="activity-list">
        {records.map((r, i) => (
          <li
            key={`${r.time}-${i}`}
            class="activity"
            data-testid="activity-record"
            data-outcome={r.outcome}
            data-why={r.why}
            data-program={r.program ?? ""}
          >
            <span class={`badge ${r.outcome === "refused" ? "badge-expired" : "badge-valid"}`}>
              {r.outcome === "refused" ? "Refused" : r.outcome === "handed_out" ? "Read" : "Allowed"}
            </span>
            <div class="program-text">
              <strong>
                {r.asker === "program" && r.program ? baseName(r.program) : activityWho(r)}: {activityWhat(r)}
              </strong>
              {r.asker === "program" && r.program && <code class="mono-text small">{r.program}</code>}
              <span class="muted small">
                <LocalTime iso={r.time} />
                {r.last && (
                  <>
                    {" "}
                    to <LocalTime iso={r.last} />
                  </>
                )}
                {r.why !== "window" && r.why !== "person" && <> · {activityWhy(r)}</>}
              </span>
            </div>
          </li>
        ))}
      </ul>
      <p class="muted small">
        The latest {props.records.length} records, newest first; <code>keyport log</code> at a terminal shows them
        all.
      </p>
    </>
  );
}

/** "Sign in again": optional extra scopes, then the browser waiting view inside the dialog. */
function ReauthDialog(props: { account: AccountSummary; onClose: () => void }) {
  const a = props.account;
  const id = useId();
  const actions = useActions();
  const signin = useAppState((s) => s.signin);
  const mine = signin && signin.origin.kind === "reauth" && signin.origin.account === a.name ? signin : null;
  const [scopes, setScopes] = useState("");
  const started = useRef(false);
  const [closing, setClosing] = useState(false);

  // Finished (the store clears it and shows the details) or cancelled: close.
  useEffect(() => {
    if (mine) started.current = true;
    else if (started.current) props.onClose();
  }, [mine]);

  function start() {
    started.current = true;
    void actions.startSignin("browser", { provider: a.provider, account: a.name, scopes: parseScopes(scopes) }, {
      kind: "reauth",
      account: a.name,
    });
  }

  async function close() {
    if (mine && (mine.phase === "browser" || mine.phase === "starting")) {
      setClosing(true);
      await actions.cancelSignin();
      setClosing(false);
    } else if (mine) {
      actions.clearSignin();
    }
    props.onClose();
  }

  const who = identityText(a.identity);
  return (
    <Modal labelledBy={`${id}-t`} onClose={close} busy={closing} class="modal-wide" data-testid="reauth-dialog">
      <h2 id={`${id}-t`} class="modal-title">
        Sign in again to {a.name}
      </h2>
      {!mine ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            start();
          }}
        >
          <div class="modal-body">
            <p>
              Your browser opens on the sign-in page of {a.provider}.{" "}
              {who ? `Sign in as ${who} to renew this account's tokens.` : "Sign in to renew this account's tokens."}
            </p>
            <Field
              id={`${id}-scopes`}
              label="Extra scopes (optional)"
              testid="reauth-scopes"
              value={scopes}
              onValue={setScopes}
              hint={`Separate scopes with spaces or commas. The account keeps the scopes it has: ${a.scopes.join(" ") || "none"}.`}
            />
          </div>
          <div class="modal-actions">
            <button type="button" class="btn" data-testid="cancel" onClick={props.onClose}>
              Cancel
            </button>
            <button type="submit" class="btn btn-primary" data-testid="confirm">
              Sign in
            </button>
          </div>
        </form>
      ) : (
        <SigninView
          signin={mine}
          onRetry={start}
          onBack={() => {
            started.current = false;
            actions.clearSignin();
          }}
          backLabel="Back"
        />
      )}
    </Modal>
  );
}

function DetailsBody(props: { details: AccountDetails; kind: string | undefined }) {
  const { account: a, last_error, programs, activity } = props.details;
  const actions = useActions();
  const { busy, error, run } = useAction();
  const [pending, setPending] = useState<Pending>(null);
  const who = identityText(a.identity);

  return (
    <>
      {a.status === "needs_sign_in" && (
        <Banner kind="warning" testid="needs-sign-in">
          <p>
            <strong>Keyport cannot renew this account's tokens.</strong>{" "}
            {a.needs_sign_in_reason ? sentence(a.needs_sign_in_reason) : ""} Sign in again so programs can use it.
          </p>
          <button type="button" class="btn btn-small btn-primary" onClick={() => setPending("reauth")}>
            Sign in again
          </button>
        </Banner>
      )}

      <div class="actions-bar" role="group" aria-label="Account actions">
        <button
          type="button"
          class="btn btn-primary"
          data-testid="action-refresh"
          disabled={busy !== null}
          onClick={() => run("refresh", () => actions.refreshAccount(a.name))}
        >
          <BusyLabel busy={busy === "refresh"} idle="Refresh now" working="Refreshing…" />
        </button>
        <button type="button" class="btn" data-testid="action-reauth" disabled={busy !== null} onClick={() => setPending("reauth")}>
          Sign in again…
        </button>
        <button
          type="button"
          class="btn"
          data-testid="action-copy-token"
          disabled={busy !== null}
          onClick={() => run("copy", () => actions.copyToken(a.name))}
        >
          <BusyLabel busy={busy === "copy"} idle="Copy access token" working="Copying…" />
        </button>
        <span class="actions-spacer" />
        <button type="button" class="btn btn-danger-outline" data-testid="action-revoke" disabled={busy !== null} onClick={() => setPending("revoke")}>
          Revoke…
        </button>
        <button type="button" class="btn btn-danger-outline" data-testid="action-remove" disabled={busy !== null} onClick={() => setPending("remove")}>
          Remove…
        </button>
      </div>
      {error && <ErrorMessage>{error}</ErrorMessage>}

      <div class="panel-grid">
        <section class="panel" aria-labelledby="d-token">
          <h2 id="d-token">Access token</h2>
          <dl class="facts">
            <dt>Expiry</dt>
            <dd>
              <Expiry expiresAt={a.expires_at} />
              {a.expires_at && (
                <span class="muted small block">
                  at <LocalTime iso={a.expires_at} />
                </span>
              )}
            </dd>
            <dt>Type</dt>
            <dd>{a.token_type || "—"}</dd>
            <dt>Renewal</dt>
            <dd>
              <RefreshTokenNote account={a} />
              <span class="muted small block">
                {a.kind === "service"
                  ? "Keyport asks for a new token with the client's credentials."
                  : a.has_refresh_token
                    ? "Kept in the system keyring; Keyport renews the access token before it expires."
                    : "Without one, you sign in again when the access token expires."}
              </span>
              {a.kind !== "service" && a.has_refresh_token && <RefreshTokenExpiry account={a} />}
            </dd>
          </dl>
        </section>

        <section class="panel" aria-labelledby="d-who">
          <h2 id="d-who">Identity</h2>
          <dl class="facts">
            <dt>Signed in as</dt>
            <dd>{who || <span class="muted">the provider did not say</span>}</dd>
            <dt>Provider</dt>
            <dd>
              {a.provider}
              {props.kind && <span class="muted"> ({providerKindLabel(props.kind)})</span>}
            </dd>
            <dt>Kind</dt>
            <dd>{a.kind === "service" ? "Service account (client credentials)" : "User account"}</dd>
            {a.identity.sub && (
              <>
                <dt>Subject</dt>
                <dd>
                  <code class="mono-text small">{a.identity.sub}</code>
                </dd>
              </>
            )}
          </dl>
        </section>

        <section class="panel" aria-labelledby="d-scopes">
          <h2 id="d-scopes">Scopes</h2>
          <ScopeChips scopes={a.scopes} label="Granted scopes" />
        </section>

        <section class="panel" aria-labelledby="d-history">
          <h2 id="d-history">History</h2>
          <dl class="facts">
            <dt>Connected</dt>
            <dd>
              <LocalTime iso={a.created_at} />
            </dd>
            <dt>Last change</dt>
            <dd>
              <LocalTime iso={a.updated_at} />
            </dd>
            <dt>Last refresh</dt>
            <dd>
              <LocalTime iso={a.last_refreshed_at} />
            </dd>
          </dl>
        </section>

        <section class="panel" aria-labelledby="d-error">
          <h2 id="d-error">Last error</h2>
          {last_error ? (
            <div class="last-error" data-testid="last-error">
              <p>{errorText(last_error.message)}</p>
              <p class="muted small">
                <LocalTime iso={last_error.at} />
              </p>
            </div>
          ) : (
            <p class="muted">None. Everything went fine so far.</p>
          )}
        </section>

        <section class="panel panel-wide" aria-labelledby="d-programs">
          <h2 id="d-programs">Programs</h2>
          <ProgramsList account={a.name} programs={programs} />
        </section>

        <section class="panel panel-wide" aria-labelledby="d-activity" data-testid="activity">
          <h2 id="d-activity">Activity</h2>
          <ActivityList records={activity} />
        </section>
      </div>

      {pending === "revoke" && (
        <ConfirmDialog
          title={`Revoke ${a.name}?`}
          confirmLabel="Revoke and remove"
          busyLabel="Revoking…"
          danger
          onCancel={() => setPending(null)}
          onConfirm={() => actions.revokeAccount(a.name)}
        >
          <p>
            Keyport asks {a.provider} to revoke this account's tokens, then removes the account from Keyport. Programs
            that use it stop getting tokens.
          </p>
          <p class="muted">To use the account again you have to add it and sign in anew.</p>
        </ConfirmDialog>
      )}
      {pending === "remove" && (
        <ConfirmDialog
          title={`Remove ${a.name} from Keyport?`}
          confirmLabel="Remove"
          busyLabel="Removing…"
          danger
          onCancel={() => setPending(null)}
          onConfirm={() => actions.removeAccount(a.name)}
        >
          <p>
            Keyport deletes the account and its tokens from this computer only. {a.provider} is not asked anything: the
            access you granted stays there until you revoke it on the provider's site.
          </p>
          <p class="muted">Use Revoke instead to have the provider cancel the tokens too.</p>
        </ConfirmDialog>
      )}
      {pending === "reauth" && <ReauthDialog account={a} onClose={() => setPending(null)} />}
    </>
  );
}

export function AccountDetailsScreen(props: { account: string }) {
  const actions = useActions();
  const details = useAppState((s) => s.details);
  const providers = useAppState((s) => s.providers);
  const d = details && details.account === props.account ? details : null;
  const data = d?.data ?? null;
  const kind = providerKinds(providers).get(data?.account.provider ?? "");
  const notFound = !!d?.error && isNotFound(d.error);

  return (
    <section class="screen" data-testid="account-details" data-account={props.account} aria-labelledby="details-title">
      <p class="back-link">
        <a href="#/accounts">← All accounts</a>
      </p>
      <div class="screen-head">
        <div class="title-with-icon">
          <ProviderIcon kind={kind} class="provider-icon-large" />
          <div>
            <h1 id="details-title" tabIndex={-1}>
              {props.account}
            </h1>
            {data && (
              <p class="muted">
                {identityText(data.account.identity) || "no identity"} · {data.account.provider}
              </p>
            )}
          </div>
        </div>
        <div class="screen-tools">
          {d?.loading && data && (
            <span class="muted small" aria-live="polite">
              Updating…
            </span>
          )}
          {data && <StatusBadge account={data.account} />}
        </div>
      </div>

      {!data && d?.loading && <Loading>Loading the account…</Loading>}
      {notFound && (
        <ErrorMessage>
          <p>{props.account} is not in Keyport (any more).</p>
          <a href="#/accounts">Back to the accounts</a>
        </ErrorMessage>
      )}
      {d?.error && !notFound && (
        <ErrorMessage>
          <p>Keyport could not load this account. {sentence(d.error.message)}</p>
          <button type="button" class="btn btn-small" onClick={() => actions.reloadDetails()} disabled={d.loading}>
            {d.loading ? "Trying…" : "Try again"}
          </button>
        </ErrorMessage>
      )}
      {data && <DetailsBody details={data} kind={kind} />}
    </section>
  );
}
