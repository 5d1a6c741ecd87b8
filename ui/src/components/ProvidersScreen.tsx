// The Providers screen: each provider's card (edit, refresh metadata, remove) and the form that
// adds one (built-in preset, issuer URL or endpoints typed in).
import { Fragment } from "preact";
import { useId, useState } from "preact/hooks";

import type { Endpoints } from "../bindings/Endpoints";
import type { NewProviderForm } from "../bindings/NewProviderForm";
import type { PresetInfo } from "../bindings/PresetInfo";
import type { ProviderSource } from "../bindings/ProviderSource";
import type { ProviderSummary } from "../bindings/ProviderSummary";
import { useActions, useAppState } from "../context";
import { errorText } from "../errors";
import { parseScopes, providerKindLabel } from "../format";
import {
  type EditDraft,
  type EndpointKey,
  NO_ENDPOINTS,
  REDIRECT_HOSTS,
  canForget,
  editForm,
  initialDraft,
  isDiscovered,
  providerBase,
} from "../providerEdit";
import { Banner, CopyField, ErrorMessage, Loading, Spinner, useAction } from "./Common";
import { ConfirmDialog, Modal } from "./Dialog";
import { Field } from "./Field";
import { ProviderIcon } from "./Icons";

const ENDPOINT_LABELS: Array<[keyof Endpoints, string]> = [
  ["authorization", "Authorization"],
  ["token", "Token"],
  ["revocation", "Revocation"],
  ["device_authorization", "Device authorization"],
  ["userinfo", "User info"],
  ["introspection", "Introspection"],
];

const SOURCE_LABELS: Record<string, string> = {
  preset: "built in",
  discovered: "discovered",
  given: "typed in",
};

function ProviderCard(props: { provider: ProviderSummary; onEdit: () => void; onRemove: () => void }) {
  const p = props.provider;
  const actions = useActions();
  const { busy, error, run } = useAction();
  const [changes, setChanges] = useState<string[] | null>(null);

  async function refresh() {
    setChanges(null);
    await run("refresh", async () => {
      const r = await actions.refreshProvider(p.name);
      setChanges(r.changes);
    });
  }

  return (
    <li class="card provider-card" data-testid="provider" data-provider={p.name}>
      <div class="card-head">
        <ProviderIcon kind={p.kind} />
        <div class="card-heading">
          <h3 class="card-title">{p.name}</h3>
          <p class="card-sub muted">
            {providerKindLabel(p.kind)} · {p.has_client_secret ? "client secret in the keyring" : "no client secret"}
          </p>
        </div>
        <button
          type="button"
          class="btn btn-small btn-danger-outline"
          data-testid="provider-remove"
          aria-label={`Remove the provider ${p.name}`}
          onClick={props.onRemove}
        >
          Remove…
        </button>
      </div>
      <dl class="facts">
        <dt>Client id</dt>
        <dd>
          <code class="mono-text">{p.client_id}</code>
        </dd>
        <dt>Redirect URI</dt>
        <dd>
          <CopyField value={p.redirect_uri} label="redirect URI" testid="redirect-uri" />
          <span class="hint">Register it with the provider as it is, without a port.</span>
          {p.shared_redirect_uri && (
            <span class="hint" data-testid="shared-redirect-uri">
              This provider uses the path every provider shared before each got its own. Register{" "}
              <code class="mono-text">/callback/{p.name}</code> with the provider, then change the path with Edit… (or run{" "}
              <code class="mono-text">keyport provider edit {p.name} --redirect-path /callback/{p.name}</code>).
            </span>
          )}
        </dd>
        <dt>Scopes</dt>
        <dd>{p.scopes.length ? p.scopes.join(" ") : <span class="muted">none by default</span>}</dd>
      </dl>
      <details class="endpoints">
        <summary>Endpoints</summary>
        <dl class="facts">
          {ENDPOINT_LABELS.map(([key, label]) =>
            p.endpoints[key] ? (
              <Fragment key={key}>
                <dt>{label}</dt>
                <dd>
                  <code class="mono-text small">{p.endpoints[key]}</code>{" "}
                  {p.endpoint_sources[key] && (
                    <span class="muted small" data-testid={`endpoint-source-${key}`}>
                      ({SOURCE_LABELS[p.endpoint_sources[key]] ?? p.endpoint_sources[key]})
                    </span>
                  )}
                </dd>
              </Fragment>
            ) : null,
          )}
        </dl>
      </details>
      {changes !== null && changes.length > 0 && (
        <Banner
          kind="info"
          testid="provider-refresh-changes"
          onDismiss={() => setChanges(null)}
          dismissLabel="Dismiss the list of changes"
        >
          <p>The metadata changed:</p>
          <ul class="change-list">
            {changes.map((line) => (
              <li key={line}>
                <code class="mono-text small">{line}</code>
              </li>
            ))}
          </ul>
        </Banner>
      )}
      {changes !== null && changes.length === 0 && (
        <p class="muted small" data-testid="provider-refresh-nothing" role="status">
          The metadata says the same as before: nothing changed.
        </p>
      )}
      {error && <ErrorMessage>{error}</ErrorMessage>}
      <div class="button-row card-foot">
        <button
          type="button"
          class="btn btn-small"
          data-testid="provider-edit"
          aria-label={`Edit the provider ${p.name}`}
          onClick={props.onEdit}
        >
          Edit…
        </button>
        {isDiscovered(p) && (
          <button
            type="button"
            class="btn btn-small"
            data-testid="provider-refresh"
            aria-label={`Read the metadata of ${p.name} again`}
            title="Read the issuer's metadata again; endpoints you typed in stay"
            disabled={busy !== null}
            onClick={refresh}
          >
            {busy ? (
              <>
                <Spinner /> Reading…
              </>
            ) : (
              "Refresh metadata"
            )}
          </button>
        )}
      </div>
    </li>
  );
}

const BASE_WORDS = { preset: "built-in", discovered: "discovered", manual: "typed-in" } as const;

/** Changes a provider's endpoints, scopes, redirect URI or client secret; its accounts stay. */
function EditProviderDialog(props: { provider: ProviderSummary; onClose: () => void }) {
  const p = props.provider;
  const id = useId();
  const actions = useActions();
  const [draft, setDraft] = useState<EditDraft>(() => initialDraft(p));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const base = providerBase(p);
  const set = (patch: Partial<EditDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const setEndpoint = (key: EndpointKey, value: string) =>
    setDraft((d) => ({ ...d, endpoints: { ...d.endpoints, [key]: value } }));
  const toggleForget = (key: EndpointKey, on: boolean) =>
    setDraft((d) => ({ ...d, forget: on ? [...d.forget, key] : d.forget.filter((k) => k !== key) }));

  async function save(e: Event) {
    e.preventDefault();
    setError(null);
    const form = editForm(p, draft);
    if (form === null) {
      setError("Nothing was changed. Change a field, or cancel.");
      return;
    }
    if (typeof form === "string") {
      setError(form);
      return;
    }
    setBusy(true);
    try {
      await actions.editProvider(form);
      props.onClose();
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  }

  const redirectPreview = `http://${draft.redirectHost}${draft.redirectPath.trim()}`;
  return (
    <Modal
      labelledBy={`${id}-t`}
      describedBy={`${id}-d`}
      onClose={props.onClose}
      busy={busy}
      class="modal-wide"
      data-testid="provider-edit-dialog"
      data-provider={p.name}
    >
      <h2 id={`${id}-t`} class="modal-title">
        Edit the provider {p.name}
      </h2>
      <form class="edit-provider" noValidate onSubmit={save}>
        <div class="modal-body">
          <p id={`${id}-d`}>
            Its accounts stay as they are. Fields left as they are do not change.
          </p>

          <fieldset class="edit-section">
            <legend>Endpoints</legend>
            <p class="hint">
              {base === "manual"
                ? "Type a new address to replace an endpoint. Optional endpoints can be removed."
                : `Type an address to use instead of the ${BASE_WORDS[base]} one, or to add one the provider's ${
                    base === "discovered" ? "metadata" : "preset"
                  } lacks (a revocation endpoint, say).`}
            </p>
            {ENDPOINT_LABELS.map(([key, label]) => {
              const now = p.endpoints[key];
              const source = p.endpoint_sources[key];
              const forgetting = draft.forget.includes(key);
              const testKey = key === "device_authorization" ? "device" : key;
              return (
                <Field
                  key={key}
                  kind="url"
                  class="endpoint-edit"
                  boxTestid={`edit-endpoint-${testKey}`}
                  id={`${id}-${key}`}
                  label={`${label} endpoint`}
                  before={
                    <p class="hint endpoint-now" id={`${id}-${key}-now`}>
                      {now ? (
                        <>
                          Now <code class="mono-text small">{now}</code>{" "}
                          {source && <span>({SOURCE_LABELS[source] ?? source})</span>}
                        </>
                      ) : (
                        "None now."
                      )}
                    </p>
                  }
                  describedBy={`${id}-${key}-now`}
                  testid={`edit-endpoint-${testKey}-input`}
                  value={draft.endpoints[key]}
                  placeholder={now ? "Keep as it is" : "https://"}
                  disabled={forgetting || busy}
                  onValue={(v) => setEndpoint(key, v)}
                  after={
                    canForget(p, key) && (
                      <Field
                        kind="checkbox"
                        id={`${id}-${key}-forget`}
                        label={
                          base === "manual"
                            ? "Remove this endpoint"
                            : `Forget the typed-in one: back to the ${BASE_WORDS[base]} one, if there is one`
                        }
                        testid={`edit-endpoint-${testKey}-forget`}
                        checked={forgetting}
                        disabled={busy}
                        onChecked={(on) => toggleForget(key, on)}
                      />
                    )
                  }
                />
              );
            })}
          </fieldset>

          <Field
            id={`${id}-scopes`}
            label="Default scopes"
            testid="edit-scopes"
            value={draft.scopes}
            disabled={busy}
            onValue={(scopes) => set({ scopes })}
            hint={
              <>
                Separated by spaces or commas; asked for when a sign-in names none. Left empty: back to the{" "}
                {base === "manual" ? "provider's defaults (none)" : `${BASE_WORDS[base]} defaults`}.
              </>
            }
          />

          <fieldset class="edit-section">
            <legend>Redirect URI</legend>
            <div class="field-grid redirect-fields">
              <Field
                kind="select"
                id={`${id}-host`}
                label="Host"
                testid="edit-redirect-host"
                value={draft.redirectHost}
                disabled={busy}
                onValue={(redirectHost) => set({ redirectHost })}
                describedBy={`${id}-redirect-hint`}
              >
                {REDIRECT_HOSTS.map((h) => (
                  <option key={h} value={h}>
                    {h}
                  </option>
                ))}
              </Field>
              <Field
                id={`${id}-path`}
                label="Path"
                testid="edit-redirect-path"
                value={draft.redirectPath}
                disabled={busy}
                onValue={(redirectPath) => set({ redirectPath })}
                describedBy={`${id}-redirect-hint`}
              />
            </div>
            <p class="hint" id={`${id}-redirect-hint`} data-testid="edit-redirect-hint">
              The provider's client registration must list <code class="mono-text small">{redirectPreview}</code>{" "}
              exactly (any port is used); change it there too, or sign-ins fail.
            </p>
          </fieldset>

          <fieldset class="edit-section">
            <legend>Client secret</legend>
            <p class="hint">
              {p.has_client_secret ? "A client secret is in the keyring." : "No client secret is stored (a public client)."}
            </p>
            <div class="secret-choice" role="radiogroup" aria-label="Client secret">
              {(
                [
                  ["keep", "Keep"],
                  ["replace", p.has_client_secret ? "Replace" : "Add one"],
                  ...(p.has_client_secret ? [["delete", "Delete"]] : []),
                ] as Array<[EditDraft["secret"], string]>
              ).map(([choice, label]) => (
                <label key={choice} class={`radio-card ${draft.secret === choice ? "selected" : ""}`}>
                  <input
                    type="radio"
                    name={`${id}-secret`}
                    value={choice}
                    data-testid={`edit-secret-${choice}`}
                    checked={draft.secret === choice}
                    disabled={busy}
                    onChange={() => set({ secret: choice })}
                  />
                  <span>{label}</span>
                </label>
              ))}
            </div>
            {draft.secret === "replace" && (
              <Field
                kind="secret"
                id={`${id}-secret`}
                label="New client secret"
                testid="edit-secret-input"
                value={draft.newSecret}
                disabled={busy}
                onValue={(newSecret) => set({ newSecret })}
                hint="It goes to your system keyring, not to a file."
              />
            )}
            {draft.secret === "delete" && (
              <p class="hint">
                The secret is deleted from the keyring; sign-ins go on as a public client (with PKCE). Providers that
                require a secret refuse this.
              </p>
            )}
          </fieldset>
        </div>
        {error && <ErrorMessage>{error}</ErrorMessage>}
        <div class="modal-actions">
          <button type="button" class="btn" data-testid="cancel" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" data-testid="provider-edit-save" disabled={busy}>
            {busy ? (
              <>
                <Spinner /> Saving…
              </>
            ) : (
              "Save changes"
            )}
          </button>
        </div>
      </form>
    </Modal>
  );
}

type SourceKind = ProviderSource["kind"];
type EndpointFields = Record<keyof Endpoints, string>;
const emptyEndpoints: EndpointFields = {
  authorization: "",
  token: "",
  revocation: "",
  device_authorization: "",
  userinfo: "",
  introspection: "",
};

/** Whether the preset's clients have a secret: "required", "optional" or "not_needed". */
function secretNeed(p: PresetInfo): "required" | "optional" | "not_needed" {
  const v = (p as PresetInfo & { client_secret?: string }).client_secret;
  return v === "required" || v === "not_needed" ? v : "optional";
}

function isWebUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}

/**
 * The redirect URI for a provider named `name`: each provider has its own path, and the
 * preset's `redirect_uri` is the one for a provider named like the preset.
 */
export function redirectUriFor(preset: PresetInfo, name: string): string {
  const suffix = `/${preset.id}`;
  return preset.redirect_uri.endsWith(suffix) ? preset.redirect_uri.slice(0, -suffix.length) + `/${name}` : preset.redirect_uri;
}

function PresetGuide(props: { preset: PresetInfo; name: string }) {
  const p = props.preset;
  const redirectUri = redirectUriFor(p, props.name);
  const actions = useActions();
  return (
    <div class="preset-guide" data-testid="preset-guide">
      {p.guidance
        .split(/\n\s*\n/)
        .filter((x) => x.trim())
        .map((para, i) => (
          <p key={i}>{para}</p>
        ))}
      <div class="guide-row">
        <span class="label">Register a client at</span>
        <code class="mono-text small">{p.register_url}</code>
        <button type="button" class="btn btn-small" data-testid="open-register" onClick={() => actions.openUrl(p.register_url)}>
          Open registration page
        </button>
      </div>
      <div class="guide-row">
        <span class="label">Redirect URI to register</span>
        <CopyField value={redirectUri} label="redirect URI" testid="preset-redirect-uri" />
      </div>
      <p class="muted small">
        {p.device_flow
          ? "Sign-in with a code on another device works with this provider (it may need enabling for the client)."
          : "This provider has no sign-in with a code on another device."}
      </p>
    </div>
  );
}

function ProviderForm() {
  const actions = useActions();
  const presets = useAppState((s) => s.presets);
  const presetsError = useAppState((s) => s.presetsError);
  const [source, setSource] = useState<SourceKind>("preset");
  const [presetId, setPresetId] = useState("");
  const [tenant, setTenant] = useState("");
  const [baseUrl, setBaseUrl] = useState("");
  const [issuer, setIssuer] = useState("");
  const [endpoints, setEndpoints] = useState<EndpointFields>(emptyEndpoints);
  const [name, setName] = useState("");
  const [clientId, setClientId] = useState("");
  const [clientSecret, setClientSecret] = useState("");
  const [scopes, setScopes] = useState("");
  const [invalid, setInvalid] = useState<string | null>(null);
  const { busy, error, run } = useAction();

  const preset = presets?.find((p) => p.id === presetId) ?? presets?.[0] ?? null;

  function validate(): NewProviderForm | string {
    let src: ProviderSource;
    if (source === "preset") {
      if (!preset) return "Choose a built-in provider.";
      if (preset.needs === "tenant" && !tenant.trim())
        return `${preset.label} needs a tenant: common, organizations, consumers or your tenant id.`;
      if (preset.needs === "base_url" && baseUrl.trim() && !isWebUrl(baseUrl.trim()))
        return "The base URL must be a web address, such as https://gitlab.example.com.";
      src = {
        kind: "preset",
        preset: preset.id,
        tenant: preset.needs === "tenant" ? tenant.trim() || null : null,
        base_url: preset.needs === "base_url" ? baseUrl.trim() || null : null,
      };
    } else if (source === "issuer") {
      if (!isWebUrl(issuer.trim())) return "Give the issuer URL, such as https://accounts.example.com.";
      src = { kind: "issuer", issuer: issuer.trim() };
    } else {
      const e = Object.fromEntries(Object.entries(endpoints).map(([k, v]) => [k, v.trim()])) as EndpointFields;
      if (!isWebUrl(e.authorization) || !isWebUrl(e.token))
        return "The authorization and token endpoints are needed, as web addresses (https://…).";
      for (const [key, label] of ENDPOINT_LABELS) {
        if (e[key] && !isWebUrl(e[key])) return `The ${label.toLowerCase()} endpoint must be a web address (https://…).`;
      }
      const ep: Endpoints = { authorization: e.authorization, token: e.token };
      if (e.revocation) ep.revocation = e.revocation;
      if (e.device_authorization) ep.device_authorization = e.device_authorization;
      if (e.userinfo) ep.userinfo = e.userinfo;
      if (e.introspection) ep.introspection = e.introspection;
      src = { kind: "endpoints", endpoints: ep };
    }
    if (source === "preset" && preset && secretNeed(preset) === "required" && !clientSecret)
      return `${preset.label} needs the client secret it gave you with the client id.`;
    const n = name.trim() || (source === "preset" && preset ? preset.id : "");
    if (!n) return "Give the provider a name: you use it when adding accounts.";
    if (!clientId.trim()) return "Give the client id that the provider gave you when you registered Keyport.";
    return {
      name: n,
      source: src,
      client_id: clientId.trim(),
      client_secret: clientSecret ? clientSecret : null,
      scopes: parseScopes(scopes),
      // Endpoints over a preset's or an issuer's, and the redirect URI, are changed after
      // adding (Edit), as `keyport provider add` takes them at once.
      endpoints: NO_ENDPOINTS,
      redirect_host: null,
      redirect_path: null,
    };
  }

  async function submit(e: Event) {
    e.preventDefault();
    setInvalid(null);
    const form = validate();
    if (typeof form === "string") {
      setInvalid(form);
      return;
    }
    const ok = await run("add", () => actions.addProvider(form));
    if (ok) {
      setName("");
      setClientId("");
      setClientSecret("");
      setScopes("");
      setTenant("");
      setBaseUrl("");
      setIssuer("");
      setEndpoints(emptyEndpoints);
    }
  }

  const sourceOption = (kind: SourceKind, label: string, hint: string) => (
    <label class={`radio-card ${source === kind ? "selected" : ""}`}>
      <input
        type="radio"
        name="provider-source"
        value={kind}
        data-testid={`source-${kind}`}
        checked={source === kind}
        onChange={() => setSource(kind)}
      />
      <span>
        <strong>{label}</strong>
        <span class="hint block">{hint}</span>
      </span>
    </label>
  );

  return (
    <form class="panel form" data-testid="provider-form" noValidate onSubmit={submit} aria-labelledby="provider-form-title">
      <h2 id="provider-form-title">Add a provider</h2>
      <fieldset class="source-choice">
        <legend>How does Keyport find the provider?</legend>
        {sourceOption("preset", "Built-in", "Google, Microsoft, GitHub or GitLab")}
        {sourceOption("issuer", "Issuer URL", "any OpenID Connect server; endpoints are discovered")}
        {sourceOption("endpoints", "Endpoints", "typed in by hand")}
      </fieldset>

      {source === "preset" && (
        <div class="source-fields">
          {presets === null && !presetsError && <Loading>Loading the built-in providers…</Loading>}
          {presetsError && (
            <ErrorMessage>
              <p>Keyport could not load the built-in providers. {presetsError}</p>
              <button type="button" class="btn btn-small" onClick={() => actions.reloadPresets()}>
                Try again
              </button>
            </ErrorMessage>
          )}
          {presets && preset && (
            <>
              <Field
                kind="select"
                id="pf-preset"
                label="Provider"
                testid="preset-select"
                icon={<ProviderIcon kind={preset.id} />}
                value={preset.id}
                onValue={setPresetId}
              >
                {presets.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.label}
                  </option>
                ))}
              </Field>
              <PresetGuide preset={preset} name={name.trim() || preset.id} />
              {preset.needs === "tenant" && (
                <Field
                  id="pf-tenant"
                  label="Tenant"
                  testid="preset-tenant"
                  value={tenant}
                  placeholder="common"
                  onValue={setTenant}
                  hint="common (any account), organizations (work or school), consumers (personal) or your tenant id."
                />
              )}
              {preset.needs === "base_url" && (
                <Field
                  kind="url"
                  id="pf-base"
                  label="Base URL"
                  optional
                  testid="preset-base-url"
                  value={baseUrl}
                  placeholder="https://gitlab.example.com"
                  onValue={setBaseUrl}
                  hint="For a self-hosted server. Left empty, Keyport uses the public service."
                />
              )}
            </>
          )}
        </div>
      )}

      {source === "issuer" && (
        <div class="source-fields">
          <Field
            kind="url"
            id="pf-issuer"
            label="Issuer URL"
            testid="issuer"
            value={issuer}
            placeholder="https://accounts.example.com"
            onValue={setIssuer}
            hint="Keyport reads the server's discovery document (OpenID Connect or RFC 8414) to find its endpoints."
          />
        </div>
      )}

      {source === "endpoints" && (
        <div class="source-fields endpoint-fields">
          {ENDPOINT_LABELS.map(([key, label]) => {
            const required = key === "authorization" || key === "token";
            const testid = `endpoint-${key === "device_authorization" ? "device" : key}`;
            return (
              <Field
                key={key}
                kind="url"
                id={`pf-${key}`}
                label={`${label} endpoint`}
                optional={!required}
                testid={testid}
                value={endpoints[key]}
                placeholder="https://"
                onValue={(v) => setEndpoints({ ...endpoints, [key]: v })}
              />
            );
          })}
        </div>
      )}

      <div class="field-grid">
        <Field
          id="pf-name"
          label="Name"
          testid="provider-name"
          value={name}
          placeholder={source === "preset" && preset ? preset.id : "work"}
          onValue={setName}
          hint="Your name for it, used when adding accounts."
        />
        <Field id="pf-client-id" label="Client id" testid="client-id" value={clientId} onValue={setClientId} />
        <Field
          kind="secret"
          id="pf-client-secret"
          label="Client secret"
          optional={
            source === "preset" && preset
              ? { required: "(required)", optional: "(optional)", not_needed: "(not needed)" }[secretNeed(preset)]
              : true
          }
          testid="client-secret"
          value={clientSecret}
          onValue={setClientSecret}
          hint={
            <>
              {source === "preset" && preset && secretNeed(preset) === "not_needed"
                ? `${preset.label} clients sign in without one (public client with PKCE).`
                : "Only if the provider gave you one."}{" "}
              It goes to your system keyring, not to a file.
            </>
          }
        />
        <Field
          id="pf-scopes"
          label="Scopes"
          optional
          testid="provider-scopes"
          value={scopes}
          placeholder={source === "preset" && preset ? preset.default_scopes.join(" ") : "openid email profile"}
          onValue={setScopes}
          hint={
            <>
              Separated by spaces or commas; asked for at every sign-in.
              {source === "preset" && preset ? ` Left empty: ${preset.default_scopes.join(" ") || "none"}.` : ""}
            </>
          }
        />
      </div>

      {(invalid || error) && <ErrorMessage>{invalid ?? error}</ErrorMessage>}
      <div class="button-row">
        <button type="submit" class="btn btn-primary" data-testid="provider-submit" disabled={busy !== null}>
          {busy ? (
            <>
              <Spinner /> {source === "issuer" ? "Discovering…" : "Adding…"}
            </>
          ) : (
            "Add provider"
          )}
        </button>
      </div>
      {source !== "preset" && (
        <p class="muted small">Once added, the list above shows the redirect URI to register with the provider.</p>
      )}
    </form>
  );
}

export function ProvidersScreen() {
  const actions = useActions();
  const providers = useAppState((s) => s.providers);
  const error = useAppState((s) => s.providersError);
  const [removing, setRemoving] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const editingProvider = editing ? providers?.find((p) => p.name === editing) ?? null : null;

  return (
    <section class="screen" data-testid="providers" aria-labelledby="providers-title">
      <div class="screen-head">
        <h1 id="providers-title" tabIndex={-1}>
          Providers
        </h1>
      </div>
      <p class="lead">
        A provider is a service you sign in to, with the OAuth client you registered there for Keyport. Accounts are
        added at a provider.
      </p>

      {error && (
        <ErrorMessage>
          <p>Keyport could not load the providers. {error}</p>
          <button type="button" class="btn btn-small" onClick={() => actions.reloadProviders()}>
            Try again
          </button>
        </ErrorMessage>
      )}
      {providers === null && !error && <Loading>Loading providers…</Loading>}
      {providers !== null && providers.length === 0 && (
        <p class="empty-line" data-testid="providers-empty">
          No provider yet. Add the first one below.
        </p>
      )}
      {providers !== null && providers.length > 0 && (
        <ul class="card-grid provider-grid" aria-label="Configured providers">
          {providers.map((p) => (
            <ProviderCard
              key={p.name}
              provider={p}
              onEdit={() => setEditing(p.name)}
              onRemove={() => setRemoving(p.name)}
            />
          ))}
        </ul>
      )}

      <ProviderForm />

      {editingProvider && <EditProviderDialog provider={editingProvider} onClose={() => setEditing(null)} />}

      {removing && (
        <ConfirmDialog
          title={`Remove the provider ${removing}?`}
          confirmLabel="Remove provider"
          busyLabel="Removing…"
          danger
          onCancel={() => setRemoving(null)}
          onConfirm={async () => {
            await actions.removeProvider(removing);
            setRemoving(null);
          }}
        >
          <p>
            Keyport forgets this provider and deletes its client secret from the keyring. Accounts that use it have to
            be removed first; Keyport refuses otherwise.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
