// Tests: durations, expiries, statuses, scopes, provider kinds and other words and numbers.
import { describe, expect, it } from "vitest";

import {
  baseName,
  actionPhrase,
  base64Utf8,
  expiryText,
  formatAgo,
  formatDuration,
  identityText,
  liveStatus,
  parseScopes,
  providerKindKey,
  providerKindLabel,
  refreshTokenText,
  secondsUntil,
  statusWords,
} from "./format";

const NOW = Date.parse("2025-03-01T12:00:00Z");
const at = (secs: number) => new Date(NOW + secs * 1000).toISOString();

describe("formatDuration", () => {
  it("counts seconds, minutes, hours and days", () => {
    expect(formatDuration(0)).toBe("0 s");
    expect(formatDuration(42)).toBe("42 s");
    expect(formatDuration(60)).toBe("1 min");
    expect(formatDuration(252)).toBe("4 min 12 s");
    expect(formatDuration(3600)).toBe("1 h");
    expect(formatDuration(3600 + 5 * 60 + 9)).toBe("1 h 5 min");
    expect(formatDuration(86400 * 3 + 3600 * 4)).toBe("3 d 4 h");
    expect(formatDuration(86400)).toBe("1 d");
  });
  it("treats negative and fractional input sanely", () => {
    expect(formatDuration(-5)).toBe("0 s");
    expect(formatDuration(59.9)).toBe("59 s");
  });
});

describe("formatAgo", () => {
  it("is coarse", () => {
    expect(formatAgo(12)).toBe("12 s");
    expect(formatAgo(3 * 60 + 59)).toBe("3 min");
    expect(formatAgo(2 * 3600 + 10)).toBe("2 h");
    expect(formatAgo(5 * 86400)).toBe("5 d");
  });
});

describe("expiryText", () => {
  it("says when the token expires or expired", () => {
    expect(expiryText(at(252), NOW)).toBe("expires in 4 min 12 s");
    expect(expiryText(at(-180), NOW)).toBe("expired 3 min ago");
    expect(expiryText(at(0), NOW)).toBe("expires now");
    expect(expiryText(null, NOW)).toBe("no expiry");
    expect(expiryText("not a time", NOW)).toBe("no expiry");
  });
  it("counts down as time passes", () => {
    const exp = at(10);
    expect(expiryText(exp, NOW + 1000)).toBe("expires in 9 s");
    expect(expiryText(exp, NOW + 11_000)).toBe("expired 1 s ago");
  });
  it("rounds partial seconds down", () => {
    expect(secondsUntil(at(10), NOW + 500)).toBe(9);
  });
});

describe("statusWords and liveStatus", () => {
  it("has words for every status", () => {
    expect(statusWords("valid")).toBe("Valid");
    expect(statusWords("expiring")).toBe("Expiring soon");
    expect(statusWords("expired")).toBe("Expired");
    expect(statusWords("needs_sign_in")).toBe("Needs sign-in");
  });
  it("turns a passed expiry into expired, but keeps needs_sign_in", () => {
    expect(liveStatus({ status: "valid", expires_at: at(-1) }, NOW)).toBe("expired");
    expect(liveStatus({ status: "expiring", expires_at: at(30) }, NOW)).toBe("expiring");
    expect(liveStatus({ status: "valid", expires_at: null }, NOW)).toBe("valid");
    expect(liveStatus({ status: "needs_sign_in", expires_at: at(-100) }, NOW)).toBe("needs_sign_in");
  });
});

describe("parseScopes", () => {
  it("splits on spaces and commas, drops empties and duplicates", () => {
    expect(parseScopes("")).toEqual([]);
    expect(parseScopes("   ")).toEqual([]);
    expect(parseScopes("openid email profile")).toEqual(["openid", "email", "profile"]);
    expect(parseScopes("openid,email, profile")).toEqual(["openid", "email", "profile"]);
    expect(parseScopes(" a\tb\nc ,, a ")).toEqual(["a", "b", "c"]);
    expect(parseScopes("https://mail.google.com/ read:user")).toEqual(["https://mail.google.com/", "read:user"]);
  });
});

describe("small helpers", () => {
  it("identityText", () => {
    expect(identityText({ name: "Alice", email: "a@x.org", sub: "1" })).toBe("Alice <a@x.org>");
    expect(identityText({ name: null, email: "a@x.org", sub: "1" })).toBe("a@x.org");
    expect(identityText({ name: "a@x.org", email: "a@x.org", sub: null })).toBe("a@x.org");
    expect(identityText({ name: null, email: null, sub: "42" })).toBe("subject 42");
    expect(identityText({ name: null, email: null, sub: null })).toBe("");
  });
  it("baseName", () => {
    expect(baseName("/usr/bin/git")).toBe("git");
    expect(baseName("C:\\Tools\\curl.exe")).toBe("curl.exe");
  });
  it("base64Utf8 handles non-ASCII", () => {
    expect(base64Utf8("<svg/>")).toBe(btoa("<svg/>"));
    expect(base64Utf8("é")).toBe("w6k=");
  });
});

describe("provider kinds", () => {
  it("accepts the contract's and the backend's forms", () => {
    expect(providerKindKey("google")).toBe("google");
    expect(providerKindKey("microsoft (organizations)")).toBe("microsoft");
    expect(providerKindKey("gitlab (gitlab.example.com)")).toBe("gitlab");
    expect(providerKindKey("issuer http://127.0.0.1:8080")).toBe("oidc");
    expect(providerKindKey("oidc")).toBe("oidc");
    expect(providerKindKey(undefined)).toBe("");
    expect(providerKindLabel("google")).toBe("Google");
    expect(providerKindLabel("microsoft (organizations)")).toBe("Microsoft, tenant organizations");
    expect(providerKindLabel("gitlab (gitlab.example.com)")).toBe("GitLab at gitlab.example.com");
    expect(providerKindLabel("issuer https://sso.example.org")).toBe("OpenID Connect, issuer https://sso.example.org");
    expect(providerKindLabel("manual")).toBe("Custom endpoints");
    expect(providerKindLabel("something")).toBe("something");
  });
});

describe("actionPhrase", () => {
  it("names every action a program can ask for", () => {
    expect(actionPhrase("read_token")).toEqual({ verb: "read", after: "" });
    expect(actionPhrase("sign_in_again")).toEqual({ verb: "sign in to", after: " again" });
    expect(actionPhrase("remove").verb).toBe("remove");
    expect(actionPhrase("revoke").verb).toBe("revoke and remove");
    expect(actionPhrase("refresh").verb).toBe("renew the token of");
    expect(actionPhrase("connect").verb).toBe("connect a new account as");
  });
});

describe("refreshTokenText", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  const base = { kind: "user" as const, has_refresh_token: true, refresh_token_expires_at: null, refresh_token_expiry: null };

  it("says what limits the refresh token, or that nothing is known", () => {
    expect(refreshTokenText(base, now)).toBe("no known expiry");
    expect(
      refreshTokenText({ ...base, refresh_token_expires_at: "2026-01-07T14:00:00Z", refresh_token_expiry: "provider" }, now),
    ).toBe("expires in 6 d 2 h (the provider says)");
    expect(
      refreshTokenText({ ...base, refresh_token_expires_at: "2026-03-31T12:00:00Z", refresh_token_expiry: "unused" }, now),
    ).toBe("expires in 89 d unless used (Keyport renews it before)");
  });

  it("is empty without a refresh token and for service accounts", () => {
    expect(refreshTokenText({ ...base, has_refresh_token: false }, now)).toBe("");
    expect(refreshTokenText({ ...base, kind: "service" }, now)).toBe("");
  });
});
