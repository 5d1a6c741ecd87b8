// The edit-provider dialog's logic without the DOM: its fields as they start from a provider,
// and the form sent to `provider_edit` with only what the user changed.
import type { EndpointUrls } from "./bindings/EndpointUrls";
import type { Endpoints } from "./bindings/Endpoints";
import type { ProviderEditForm } from "./bindings/ProviderEditForm";
import type { ProviderSummary } from "./bindings/ProviderSummary";
import { parseScopes } from "./format";

export type EndpointKey = keyof Endpoints;

export const ENDPOINT_KEYS: EndpointKey[] = [
  "authorization",
  "token",
  "revocation",
  "device_authorization",
  "userinfo",
  "introspection",
];

/** No endpoint given: what a new provider's form sends beside its source. */
export const NO_ENDPOINTS: EndpointUrls = {
  authorization: null,
  token: null,
  revocation: null,
  device_authorization: null,
  userinfo: null,
  introspection: null,
};

export const REDIRECT_HOSTS = ["127.0.0.1", "[::1]", "localhost"] as const;

/** Where a provider's endpoints come from when nothing is typed in. */
export type Base = "preset" | "discovered" | "manual";

export type SecretChoice = "keep" | "replace" | "delete";

/** What the dialog's fields hold. */
export type EditDraft = {
  /** A new URL per endpoint; empty keeps it. */
  endpoints: Record<EndpointKey, string>;
  /** Endpoints to forget (a typed-in one goes, the preset's or the discovered one comes back). */
  forget: EndpointKey[];
  /** Default scopes as typed (spaces or commas); empty goes back to the defaults. */
  scopes: string;
  redirectHost: string;
  redirectPath: string;
  secret: SecretChoice;
  newSecret: string;
};

export function providerBase(p: Pick<ProviderSummary, "kind">): Base {
  const first = p.kind.trim().split(/[\s(]/)[0].toLowerCase();
  if (first === "issuer") return "discovered";
  if (first === "manual") return "manual";
  return "preset";
}

/** Whether a provider's metadata can be read again: one added by its issuer URL. */
export function isDiscovered(p: Pick<ProviderSummary, "kind">): boolean {
  return providerBase(p) === "discovered";
}

/**
 * Whether the dialog offers to forget `key`: one typed in over a preset or discovery, or an
 * optional endpoint of a provider added by its endpoints (the authorization and token
 * endpoints of those cannot go).
 */
export function canForget(p: ProviderSummary, key: EndpointKey): boolean {
  if (!p.endpoints[key]) return false;
  if (providerBase(p) === "manual") return key !== "authorization" && key !== "token";
  return p.endpoint_sources[key] === "given";
}

/** `http://HOST/PATH` split into its host and path. */
export function splitRedirectUri(uri: string): { host: string; path: string } {
  const m = /^https?:\/\/(\[[^\]]*\]|[^/]*)(\/.*)?$/.exec(uri.trim());
  if (!m) return { host: "127.0.0.1", path: "/callback" };
  return { host: m[1], path: m[2] ?? "/" };
}

export function initialDraft(p: ProviderSummary): EditDraft {
  const { host, path } = splitRedirectUri(p.redirect_uri);
  return {
    endpoints: { authorization: "", token: "", revocation: "", device_authorization: "", userinfo: "", introspection: "" },
    forget: [],
    scopes: p.scopes.join(" "),
    redirectHost: host,
    redirectPath: path,
    secret: "keep",
    newSecret: "",
  };
}

function isWebUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "https:" || u.protocol === "http:";
  } catch {
    return false;
  }
}

const LABELS: Record<EndpointKey, string> = {
  authorization: "authorization",
  token: "token",
  revocation: "revocation",
  device_authorization: "device authorization",
  userinfo: "user info",
  introspection: "introspection",
};

/**
 * The form for `provider_edit` with what differs from `p`; a sentence when a field is wrong;
 * `null` when nothing changed.
 */
export function editForm(p: ProviderSummary, d: EditDraft): ProviderEditForm | string | null {
  const endpoints: ProviderEditForm["endpoints"] = { ...NO_ENDPOINTS };
  let changed = false;
  for (const key of ENDPOINT_KEYS) {
    const typed = d.endpoints[key].trim();
    if (!typed || d.forget.includes(key)) continue;
    if (!isWebUrl(typed)) return `The ${LABELS[key]} endpoint must be a web address (https://…).`;
    if (typed === p.endpoints[key] && p.endpoint_sources[key] === "given") continue;
    endpoints[key] = typed;
    changed = true;
  }
  const forget = d.forget.filter((key) => canForget(p, key));
  if (forget.length) changed = true;

  const typedScopes = parseScopes(d.scopes);
  const scopes = typedScopes.join(" ") === p.scopes.join(" ") ? null : typedScopes;
  if (scopes) changed = true;

  const now = splitRedirectUri(p.redirect_uri);
  const path = d.redirectPath.trim();
  if (!path.startsWith("/") || /[?#\s]/.test(path))
    return "The redirect path must start with / and hold no spaces, ? or #, such as /callback/work.";
  const redirectPath = path === now.path ? null : path;
  const redirectHost = d.redirectHost === now.host ? null : d.redirectHost;
  if (redirectPath || redirectHost) changed = true;

  let clientSecret: ProviderEditForm["client_secret"] = { action: "keep" };
  if (d.secret === "replace") {
    if (!d.newSecret) return "Type the new client secret, or keep the one there is.";
    clientSecret = { action: "replace", secret: d.newSecret };
    changed = true;
  } else if (d.secret === "delete" && p.has_client_secret) {
    clientSecret = { action: "delete" };
    changed = true;
  }

  if (!changed) return null;
  return {
    name: p.name,
    endpoints,
    forget_endpoints: forget,
    scopes,
    redirect_host: redirectHost,
    redirect_path: redirectPath,
    client_secret: clientSecret,
  };
}
