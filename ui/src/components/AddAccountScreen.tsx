// The Add account screen: pick a provider, then sign in with the browser or with a code, or add a
// service account.
import { useState } from "preact/hooks";

import type { ProviderSummary } from "../bindings/ProviderSummary";
import { useActions, useAppState } from "../context";
import { parseScopes, providerKindShort } from "../format";
import { ErrorMessage, Loading, Spinner, useAction } from "./Common";
import { Field } from "./Field";
import { KeyIcon, ProviderIcon } from "./Icons";
import { SigninView } from "./SigninViews";

function NoProviders() {
  const actions = useActions();
  return (
    <div class="empty" data-testid="add-no-providers">
      <KeyIcon class="empty-icon" />
      <h2>Add a provider first</h2>
      <p>
        An account lives at a provider: Google, Microsoft, GitHub, GitLab or any OpenID Connect server. Tell Keyport
        about the provider and the OAuth client you registered there; then come back to sign in.
      </p>
      <button type="button" class="btn btn-primary" onClick={() => actions.navigate({ name: "providers" })}>
        Go to Providers
      </button>
    </div>
  );
}

function KeyringNote() {
  return (
    <p class="note">
      <KeyIcon class="meta-icon" /> Tokens and client secrets go to your system keyring (Secret Service, Keychain or
      Credential Manager), never into Keyport's files.
    </p>
  );
}

export function AddAccountScreen() {
  const actions = useActions();
  const providers = useAppState((s) => s.providers);
  const providersError = useAppState((s) => s.providersError);
  const form = useAppState((s) => s.addForm);
  const signin = useAppState((s) => s.signin);
  const mine = signin && signin.origin.kind === "add" ? signin : null;

  const [mode, setMode] = useState<"signin" | "service">("signin");
  const [clientId, setClientId] = useState("");
  const [clientSecret, setClientSecret] = useState("");
  const [invalid, setInvalid] = useState<string | null>(null);
  const { busy, error, run } = useAction();

  const list: ProviderSummary[] = providers ?? [];
  const selected = list.find((p) => p.name === form.provider) ?? list[0] ?? null;
  const providerName = selected?.name ?? "";

  function signInForm() {
    return { provider: providerName, account: form.account.trim() || null, scopes: parseScopes(form.scopes) };
  }
  function startBrowser() {
    if (!providerName) return;
    void actions.startSignin("browser", signInForm(), { kind: "add" });
  }
  function startDevice() {
    if (!providerName) return;
    void actions.startSignin("device", signInForm(), { kind: "add" });
  }
  async function addService() {
    setInvalid(null);
    const name = form.account.trim();
    if (!name) {
      setInvalid("Give the service account a name: Keyport cannot derive one without a sign-in.");
      document.getElementById("add-account-name")?.focus();
      return;
    }
    await run("service", () =>
      actions.addServiceAccount({
        provider: providerName,
        name,
        scopes: parseScopes(form.scopes),
        client_id: clientId.trim() || null,
        client_secret: clientSecret ? clientSecret : null,
      }),
    );
    setClientSecret("");
  }

  let body;
  if (providers === null && providersError) {
    body = (
      <ErrorMessage>
        <p>Keyport could not load the providers. {providersError}</p>
        <button type="button" class="btn btn-small" onClick={() => actions.reloadProviders()}>
          Try again
        </button>
      </ErrorMessage>
    );
  } else if (providers === null) {
    body = <Loading>Loading providers…</Loading>;
  } else if (!list.length) {
    body = <NoProviders />;
  } else if (mine) {
    const retry = () => actions.startSignin(mine.mode, signInForm(), { kind: "add" });
    body = <SigninView signin={mine} onRetry={retry} onBack={() => actions.clearSignin()} />;
  } else {
    const device = !!selected?.endpoints.device_authorization;
    body = (
      <form
        class="panel form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (mode === "signin") startBrowser();
          else void addService();
        }}
      >
        <Field
          kind="select"
          id="add-provider"
          label="Provider"
          testid="provider-select"
          icon={<ProviderIcon kind={selected?.kind} />}
          value={providerName}
          onValue={(provider) => actions.setAddForm({ provider })}
        >
          {list.map((p) => (
            <option key={p.name} value={p.name}>
              {p.name} ({providerKindShort(p.kind)})
            </option>
          ))}
        </Field>

        <Field
          id="add-account-name"
          label="Account name"
          optional={mode === "signin"}
          testid="account-name"
          value={form.account}
          onValue={(account) => actions.setAddForm({ account })}
          invalid={!!invalid}
          describedBy={invalid ? "add-form-error" : undefined}
          hint={
            mode === "signin"
              ? "What you call this account in Keyport and in commands. Left empty, Keyport uses the email address the provider reports."
              : "What you call this service account in Keyport and in commands."
          }
        />

        <Field
          id="add-scopes"
          label="Scopes"
          optional
          testid="scopes"
          value={form.scopes}
          onValue={(scopes) => actions.setAddForm({ scopes })}
          hint={
            <>
              Separated by spaces or commas. These replace the provider's default scopes
              {selected?.scopes.length ? ` (${selected.scopes.join(" ")})` : ""}; leave the field empty to
              use those.
            </>
          }
        />

        {mode === "signin" ? (
          <>
            <div class="signin-choices">
              <div class="choice">
                <button type="submit" class="btn btn-primary" data-testid="signin-browser">
                  Sign in with the browser
                </button>
                <p class="hint">Your browser opens here, on this computer, on the provider's sign-in page.</p>
              </div>
              <div class="choice">
                <button type="button" class="btn" data-testid="signin-device" onClick={startDevice}>
                  Sign in with a code
                </button>
                <p class="hint">
                  {device
                    ? "You get a code to enter on your phone or another computer: for when the browser is elsewhere."
                    : `${providerName} has no device sign-in endpoint, so this will likely fail.`}
                </p>
              </div>
            </div>
            <div class="divider" />
            <div class="service-open">
              <p class="hint">
                A service account signs in as the OAuth client itself (Client Credentials), without a person.
              </p>
              <button
                type="button"
                class="btn btn-small"
                data-testid="service-account-open"
                onClick={() => {
                  setMode("service");
                  setInvalid(null);
                }}
              >
                Add a service account…
              </button>
            </div>
          </>
        ) : (
          <fieldset class="service-fields" data-testid="service-account-form">
            <legend>Service account</legend>
            <p class="hint">
              Keyport gets tokens with the client id and secret (Client Credentials). Leave both empty to use the ones
              of {providerName}.
            </p>
            <Field
              id="sa-client-id"
              label="Client id"
              optional
              testid="client-id"
              value={clientId}
              placeholder={selected?.client_id}
              onValue={setClientId}
            />
            <Field
              kind="secret"
              id="sa-client-secret"
              label="Client secret"
              optional
              testid="client-secret"
              value={clientSecret}
              onValue={setClientSecret}
            />
            <div class="button-row">
              <button type="submit" class="btn btn-primary" data-testid="service-account-submit" disabled={busy !== null}>
                {busy ? (
                  <>
                    <Spinner /> Adding…
                  </>
                ) : (
                  "Add service account"
                )}
              </button>
              <button
                type="button"
                class="btn"
                onClick={() => {
                  setMode("signin");
                  setInvalid(null);
                }}
                disabled={busy !== null}
              >
                Back to sign-in
              </button>
            </div>
          </fieldset>
        )}
        {(invalid || error) && <ErrorMessage id="add-form-error">{invalid ?? error}</ErrorMessage>}
        <KeyringNote />
      </form>
    );
  }

  return (
    <section class="screen" data-testid="add-account" aria-labelledby="add-title">
      <div class="screen-head">
        <h1 id="add-title" tabIndex={-1}>
          Add account
        </h1>
      </div>
      {body}
    </section>
  );
}
