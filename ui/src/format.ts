// Times, durations, statuses, identities and provider kinds put in words for the screens.
import type { AccountStatus } from "./bindings/AccountStatus";
import type { Action } from "./bindings/Action";
import type { AccountSummary } from "./bindings/AccountSummary";
import type { Identity } from "./bindings/Identity";

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Milliseconds since the epoch of an RFC 3339 time, or null when absent or unreadable. */
export function parseTime(iso: string | null | undefined): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/** Whole seconds from `now` (ms) until `iso`; negative once it has passed; null without a time. */
export function secondsUntil(iso: string | null | undefined, now: number): number | null {
  const t = parseTime(iso);
  if (t === null) return null;
  return Math.floor((t - now) / 1000);
}

/**
 * A precise duration for live countdowns: "42 s", "4 min 12 s", "2 h 5 min", "3 d 4 h".
 * Negative input is treated as zero.
 */
export function formatDuration(totalSecs: number): string {
  const s = Math.max(0, Math.floor(totalSecs));
  if (s < MINUTE) return `${s} s`;
  if (s < HOUR) {
    const m = Math.floor(s / MINUTE);
    const rest = s % MINUTE;
    return rest ? `${m} min ${rest} s` : `${m} min`;
  }
  if (s < DAY) {
    const h = Math.floor(s / HOUR);
    const m = Math.floor((s % HOUR) / MINUTE);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(s / DAY);
  const h = Math.floor((s % DAY) / HOUR);
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** A coarse duration for things in the past: "12 s", "3 min", "2 h", "5 d". */
export function formatAgo(totalSecs: number): string {
  const s = Math.max(0, Math.floor(totalSecs));
  if (s < MINUTE) return `${s} s`;
  if (s < HOUR) return `${Math.floor(s / MINUTE)} min`;
  if (s < DAY) return `${Math.floor(s / HOUR)} h`;
  return `${Math.floor(s / DAY)} d`;
}

/** "expires in 4 min 12 s", "expired 3 min ago", "no expiry". */
export function expiryText(expiresAt: string | null, now: number): string {
  const left = secondsUntil(expiresAt, now);
  if (left === null) return "no expiry";
  if (left > 0) return `expires in ${formatDuration(left)}`;
  if (left === 0) return "expires now";
  return `expired ${formatAgo(-left)} ago`;
}

/**
 * The refresh token's health in words: "expires in 6 d 2 h (the provider says)", "expires in
 * 89 d unless used (Keyport renews it before)", "no known expiry", or "" without one.
 */
export function refreshTokenText(
  account: Pick<AccountSummary, "kind" | "has_refresh_token" | "refresh_token_expires_at" | "refresh_token_expiry">,
  now: number,
): string {
  if (account.kind === "service" || !account.has_refresh_token) return "";
  if (!account.refresh_token_expires_at) return "no known expiry";
  const text = expiryText(account.refresh_token_expires_at, now);
  return account.refresh_token_expiry === "unused"
    ? `${text} unless used (Keyport renews it before)`
    : `${text} (the provider says)`;
}

const STATUS_WORDS: Record<AccountStatus, string> = {
  valid: "Valid",
  expiring: "Expiring soon",
  expired: "Expired",
  needs_sign_in: "Needs sign-in",
};

export function statusWords(status: AccountStatus): string {
  return STATUS_WORDS[status] ?? status;
}

/**
 * The status to show right now. The backend's status is taken as is, except that an access
 * token whose expiry has passed since the list was loaded reads "expired".
 */
export function liveStatus(account: Pick<AccountSummary, "status" | "expires_at">, now: number): AccountStatus {
  if (account.status === "needs_sign_in") return account.status;
  const left = secondsUntil(account.expires_at, now);
  if (left !== null && left <= 0) return "expired";
  return account.status;
}

/** Scopes typed by people: separated by spaces and/or commas; duplicates dropped, order kept. */
export function parseScopes(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(/[\s,]+/)) {
    if (part && !out.includes(part)) out.push(part);
  }
  return out;
}

/** A time in the local zone, e.g. "12 Mar 2025, 14:03:22"; "never" when absent. */
export function formatLocalTime(iso: string | null | undefined, locale?: string): string {
  const t = parseTime(iso);
  if (t === null) return "never";
  return new Date(t).toLocaleString(locale, { dateStyle: "medium", timeStyle: "medium" });
}

/** "Alice Example <alice@example.com>", the email, the name, the subject, or "". */
export function identityText(identity: Identity): string {
  const { name, email, sub } = identity;
  if (name && email && name !== email) return `${name} <${email}>`;
  return email || name || (sub ? `subject ${sub}` : "");
}

/**
 * The family of a provider kind, for icons: "google", "microsoft", "github", "gitlab", "oidc"
 * or "manual". Accepts the bare contract values and the backend's longer forms
 * ("microsoft (TENANT)", "gitlab (HOST)", "issuer URL").
 */
export function providerKindKey(kind: string | null | undefined): string {
  const first = (kind ?? "").trim().split(/[\s(]/)[0].toLowerCase();
  return first === "issuer" ? "oidc" : first;
}

const KIND_LABELS: Record<string, string> = {
  google: "Google",
  microsoft: "Microsoft",
  github: "GitHub",
  gitlab: "GitLab",
  oidc: "OpenID Connect",
  manual: "Custom endpoints",
};

/** Just the family's name: "Google", "OpenID Connect", … */
export function providerKindShort(kind: string): string {
  return KIND_LABELS[providerKindKey(kind)] ?? kind;
}

/** A label for a provider kind: "Google", "Microsoft, tenant organizations", "OpenID Connect, issuer https://…". */
export function providerKindLabel(kind: string): string {
  const key = providerKindKey(kind);
  const base = KIND_LABELS[key];
  if (!base) return kind;
  const rest = kind.trim().slice(kind.trim().split(/[\s(]/)[0].length).trim();
  const detail = rest.replace(/^\((.*)\)$/, "$1").trim();
  if (!detail) return base;
  if (key === "microsoft") return `${base}, tenant ${detail}`;
  if (key === "gitlab") return `${base} at ${detail}`;
  if (key === "oidc") return `${base}, issuer ${detail}`;
  return `${base} (${detail})`;
}

/** UTF-8 safe base64, for data: URLs of SVG text. */
export function base64Utf8(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

export function svgDataUrl(svg: string): string {
  return `data:image/svg+xml;base64,${base64Utf8(svg)}`;
}

/** The last path component of a program path, for labels. */
export function baseName(path: string): string {
  const parts = path.split(/[\\/]/).filter(Boolean);
  return parts.length ? parts[parts.length - 1] : path;
}

/** What a program asks to do with an account, as the end of "PROGRAM wants to ...". */
export function actionPhrase(action: Action): { verb: string; after: string } {
  switch (action) {
    case "read_token":
      return { verb: "read", after: "" };
    case "refresh":
      return { verb: "renew the token of", after: "" };
    case "sign_in_again":
      return { verb: "sign in to", after: " again" };
    case "revoke":
      return { verb: "revoke and remove", after: "" };
    case "remove":
      return { verb: "remove", after: "" };
    case "connect":
      return { verb: "connect a new account as", after: "" };
  }
}
