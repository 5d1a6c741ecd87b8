// Tests: the edit-provider form's fields and the changes it sends.
import { describe, expect, it } from "vitest";

import type { ProviderSummary } from "./bindings/ProviderSummary";
import { canForget, editForm, initialDraft, isDiscovered, providerBase, splitRedirectUri } from "./providerEdit";

function provider(over: Partial<ProviderSummary> = {}): ProviderSummary {
  return {
    name: "work",
    kind: "issuer https://id.example",
    client_id: "cid",
    has_client_secret: true,
    endpoints: {
      authorization: "https://id.example/auth",
      token: "https://id.example/token",
      revocation: "https://id.example/revoke",
    },
    endpoint_sources: { authorization: "discovered", token: "discovered", revocation: "given" },
    scopes: ["openid", "email"],
    redirect_uri: "http://127.0.0.1/callback/work",
    shared_redirect_uri: false,
    ...over,
  };
}

const nothing = {
  authorization: null,
  token: null,
  revocation: null,
  device_authorization: null,
  userinfo: null,
  introspection: null,
};

describe("the edit-provider form", () => {
  it("knows where a provider's endpoints come from", () => {
    expect(providerBase(provider())).toBe("discovered");
    expect(isDiscovered(provider())).toBe(true);
    expect(providerBase(provider({ kind: "microsoft (common)" }))).toBe("preset");
    expect(isDiscovered(provider({ kind: "google" }))).toBe(false);
    expect(providerBase(provider({ kind: "manual" }))).toBe("manual");
  });

  it("offers to forget typed-in endpoints, or a manual provider's optional ones", () => {
    const p = provider();
    expect(canForget(p, "revocation")).toBe(true);
    expect(canForget(p, "token")).toBe(false);
    expect(canForget(p, "userinfo")).toBe(false);
    const manual = provider({ kind: "manual", endpoint_sources: { authorization: "given", token: "given", revocation: "given" } });
    expect(canForget(manual, "revocation")).toBe(true);
    expect(canForget(manual, "authorization")).toBe(false);
  });

  it("splits the redirect URI into host and path", () => {
    expect(splitRedirectUri("http://[::1]/cb")).toEqual({ host: "[::1]", path: "/cb" });
    expect(splitRedirectUri("http://localhost/callback/work")).toEqual({ host: "localhost", path: "/callback/work" });
  });

  it("starts from the provider as it is, and an untouched draft changes nothing", () => {
    const p = provider();
    const d = initialDraft(p);
    expect(d.scopes).toBe("openid email");
    expect(d.redirectHost).toBe("127.0.0.1");
    expect(d.redirectPath).toBe("/callback/work");
    expect(editForm(p, d)).toBeNull();
    expect(editForm(p, { ...d, scopes: " openid,email " })).toBeNull();
    // The same typed-in endpoint again is no change either.
    expect(editForm(p, { ...d, endpoints: { ...d.endpoints, revocation: "https://id.example/revoke" } })).toBeNull();
  });

  it("sends only what changed", () => {
    const p = provider();
    const d = initialDraft(p);
    expect(
      editForm(p, {
        ...d,
        endpoints: { ...d.endpoints, introspection: " https://id.example/introspect " },
        forget: ["revocation"],
        scopes: "openid profile",
        redirectHost: "localhost",
        secret: "replace",
        newSecret: "s3cret",
      }),
    ).toEqual({
      name: "work",
      endpoints: { ...nothing, introspection: "https://id.example/introspect" },
      forget_endpoints: ["revocation"],
      scopes: ["openid", "profile"],
      redirect_host: "localhost",
      redirect_path: null,
      client_secret: { action: "replace", secret: "s3cret" },
    });
    // Empty scopes: back to the defaults; a deleted secret.
    expect(editForm(p, { ...d, scopes: "", secret: "delete" })).toMatchObject({
      scopes: [],
      client_secret: { action: "delete" },
      redirect_host: null,
    });
  });

  it("says what is wrong in a sentence", () => {
    const p = provider();
    const d = initialDraft(p);
    expect(editForm(p, { ...d, endpoints: { ...d.endpoints, userinfo: "me" } })).toMatch(/user info endpoint/);
    expect(editForm(p, { ...d, redirectPath: "callback" })).toMatch(/redirect path/);
    expect(editForm(p, { ...d, secret: "replace", newSecret: "" })).toMatch(/new client secret/);
  });
});
