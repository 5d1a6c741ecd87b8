// The accounts screen: a card per account (status, expiry, scopes), notices, the empty state.
import type { AccountSummary } from "../bindings/AccountSummary";
import type { ProviderSummary } from "../bindings/ProviderSummary";
import { useActions, useAppState } from "../context";
import { identityText } from "../format";
import { screenHash } from "../route";
import { Banner, ErrorMessage, Expiry, Loading, ScopeChips, StatusBadge } from "./Common";
import { KeyIcon, ProviderIcon } from "./Icons";

/** The kind of each provider by name ("google", "oidc", …), for icons. */
export function providerKinds(providers: ProviderSummary[] | null): Map<string, string> {
  return new Map((providers ?? []).map((p) => [p.name, p.kind]));
}

export function RefreshTokenNote(props: { account: AccountSummary }) {
  const a = props.account;
  if (a.kind === "service") return <span class="meta-item">Service account</span>;
  return (
    <span class={`meta-item ${a.has_refresh_token ? "" : "muted"}`} data-testid="refresh-token">
      <KeyIcon class="meta-icon" />
      {a.has_refresh_token ? "Refresh token" : "No refresh token"}
    </span>
  );
}

function AccountCard(props: { account: AccountSummary; kind: string | undefined }) {
  const a = props.account;
  const who = identityText(a.identity);
  const titleId = `acct-${a.name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
  return (
    <a
      class="card account-card"
      href={screenHash({ name: "account", account: a.name })}
      data-testid="account-card"
      data-account={a.name}
      aria-labelledby={titleId}
    >
      <div class="card-head">
        <ProviderIcon kind={props.kind} />
        <div class="card-heading">
          <h2 class="card-title" id={titleId}>
            {a.name}
          </h2>
          <p class="card-sub" title={who || undefined}>
            {who ? <span class="identity">{who}</span> : <span class="muted">no identity</span>}
          </p>
        </div>
      </div>
      <p class="card-meta">
        <StatusBadge account={a} />
        <Expiry expiresAt={a.expires_at} />
      </p>
      <p class="card-meta muted-meta">
        <span class="meta-item">
          <span class="muted">at</span>&nbsp;{a.provider}
        </span>
        <RefreshTokenNote account={a} />
      </p>
      <ScopeChips scopes={a.scopes} />
    </a>
  );
}

function EmptyState(props: { hasProviders: boolean }) {
  const actions = useActions();
  return (
    <div class="empty" data-testid="accounts-empty">
      <KeyIcon class="empty-icon" />
      <h2>No accounts yet</h2>
      <p>
        Keyport keeps your OAuth accounts, renews their tokens and hands them to the programs you allow. Two steps get
        you started:
      </p>
      <ol class="steps">
        <li class={props.hasProviders ? "done" : ""}>
          <strong>Add a provider</strong>: the service you sign in to (Google, Microsoft, GitHub, GitLab or any OpenID
          Connect server), with the OAuth client you registered there.
          {props.hasProviders ? (
            <span class="muted"> Done.</span>
          ) : (
            <div class="step-action">
              <button type="button" class="btn btn-primary" onClick={() => actions.navigate({ name: "providers" })}>
                Go to Providers
              </button>
            </div>
          )}
        </li>
        <li>
          <strong>Add an account</strong>: you sign in once in your browser, and Keyport stores the tokens in your
          system keyring.
          <div class="step-action">
            <button
              type="button"
              class={`btn ${props.hasProviders ? "btn-primary" : ""}`}
              onClick={() => actions.navigate({ name: "add" })}
            >
              Add account
            </button>
          </div>
        </li>
      </ol>
    </div>
  );
}

export function AccountsScreen() {
  const actions = useActions();
  const accounts = useAppState((s) => s.accounts);
  const error = useAppState((s) => s.accountsError);
  const loading = useAppState((s) => s.accountsLoading);
  const providers = useAppState((s) => s.providers);
  const notices = useAppState((s) => s.notices);
  const kinds = providerKinds(providers);

  return (
    <section class="screen" data-testid="accounts" aria-labelledby="accounts-title">
      <div class="screen-head">
        <h1 id="accounts-title" tabIndex={-1}>
          Accounts
        </h1>
        <div class="screen-tools">
          {loading && accounts !== null && (
            <span class="muted small shows-late" aria-live="polite">
              Updating…
            </span>
          )}
        </div>
      </div>

      {notices.map((n) => (
        <Banner
          key={n.id}
          kind="warning"
          testid="revoke-notice"
          onDismiss={() => actions.dismissNotice(n.id)}
          dismissLabel="Dismiss this notice"
        >
          <p>{n.text}</p>
          {n.page && (
            <p class="notice-page">
              <code class="mono-text">{n.page}</code>{" "}
              <button type="button" class="btn btn-small" onClick={() => actions.openUrl(n.page!)}>
                Open the page
              </button>
            </p>
          )}
        </Banner>
      ))}

      {error && (
        <ErrorMessage>
          <p>Keyport could not load the accounts. {error}</p>
          <button type="button" class="btn btn-small" onClick={() => actions.reloadAccounts()} disabled={loading}>
            {loading ? "Trying…" : "Try again"}
          </button>
        </ErrorMessage>
      )}

      {accounts === null && !error && <Loading>Loading accounts…</Loading>}

      {accounts !== null && accounts.length === 0 && <EmptyState hasProviders={!!providers?.length} />}

      {accounts !== null && accounts.length > 0 && (
        <ul class="card-grid" aria-label="Connected accounts">
          {accounts.map((a) => (
            <li key={a.name}>
              <AccountCard account={a} kind={kinds.get(a.provider)} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
