// Tests: the controller as the components use it, over a fake backend: loading, events,
// sign-in, access prompts and account and provider actions.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { createController, type Api } from "./app";
import type { AccessPrompt } from "./bindings/AccessPrompt";
import type { AccountSummary } from "./bindings/AccountSummary";
import type { Event as AccountEvent } from "./bindings/Event";
import type { ProviderEditForm } from "./bindings/ProviderEditForm";
import type { ProviderSummary } from "./bindings/ProviderSummary";
import { answeredText } from "./controller/prompts";
import { BackendError } from "./errors";

vi.mock("@tauri-apps/api/core", () => ({ invoke: vi.fn() }));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn() }));

function account(name: string, over: Partial<AccountSummary> = {}): AccountSummary {
  return {
    name,
    provider: "google",
    kind: "user",
    identity: { sub: "1", email: `${name}@example.com`, name: null },
    scopes: ["openid", "email"],
    expires_at: "2030-01-01T00:00:00Z",
    expires_in_secs: 3600,
    status: "valid",
    has_refresh_token: true,
    token_type: "Bearer",
    needs_sign_in_reason: null,
    last_refreshed_at: null,
    created_at: "2025-01-01T00:00:00Z",
    updated_at: "2025-01-01T00:00:00Z",
    refresh_token_expires_at: null,
    refresh_token_expires_in_secs: null,
    refresh_token_expiry: null,
    ...over,
  };
}

function provider(name: string): ProviderSummary {
  return {
    name,
    kind: "issuer https://id.example",
    client_id: "cid",
    has_client_secret: false,
    endpoints: { authorization: "https://id.example/auth", token: "https://id.example/token" },
    endpoint_sources: { authorization: "discovered", token: "discovered" },
    scopes: ["openid"],
    redirect_uri: `http://127.0.0.1/callback/${name}`,
    shared_redirect_uri: false,
  };
}

function prompt(id: string): AccessPrompt {
  return {
    prompt_id: id,
    program: `/usr/bin/${id}`,
    program_name: id,
    action: "read_token",
    account: "work",
    asked_at: new Date().toISOString(),
    expires_at: new Date(Date.now() + 60_000).toISOString(),
  };
}

type Handlers = {
  event?: (e: AccountEvent) => void;
  prompt?: (p: AccessPrompt) => void;
  closed?: (c: { prompt_id: string }) => void;
  navigate?: (t: unknown) => void;
};

function fakeApi(over: Partial<Record<keyof Api, unknown>> = {}) {
  const h: Handlers = {};
  let accounts = [account("work")];
  const base = {
    appStatus: vi.fn(async () => ({ socket: "/run/keyport.sock", socket_note: null, needs_attention: [] })),
    accountsList: vi.fn(async () => accounts),
    accountDetails: vi.fn(async (name: string) => ({
      account: accounts.find((a) => a.name === name) ?? account(name),
      last_error: null,
      programs: [],
      activity: [],
    })),
    accountRefresh: vi.fn(async (name: string) => account(name)),
    accountRevoke: vi.fn(),
    accountRemove: vi.fn(async (name: string) => account(name)),
    accountCopyToken: vi.fn(async () => ({ clears_in_secs: 30 })),
    programForget: vi.fn(async () => null),
    signinStart: vi.fn(async () => ({ signin_id: "s1", url: "https://idp/auth", browser_opened: true, expires_at: "2030-01-01T00:00:00Z" })),
    reauthStart: vi.fn(async () => ({ signin_id: "r1", url: "https://idp/auth", browser_opened: false, expires_at: "2030-01-01T00:00:00Z" })),
    signinCancel: vi.fn(async () => null),
    deviceStart: vi.fn(),
    serviceAccountAdd: vi.fn(),
    providersList: vi.fn(async () => []),
    presetsList: vi.fn(async () => []),
    providerAdd: vi.fn(),
    providerEdit: vi.fn(async (form: { name: string }) => provider(form.name)),
    providerRefresh: vi.fn(async (name: string) => ({ provider: provider(name), changes: [] as string[] })),
    providerRemove: vi.fn(async () => null),
    promptsPending: vi.fn(async () => [] as AccessPrompt[]),
    promptAnswer: vi.fn(async () => null),
    openUrl: vi.fn(async () => null),
    autostartGet: vi.fn(async () => ({ enabled: false, entry: null as string | null })),
    autostartSet: vi.fn(async (enabled: boolean) => ({ enabled, entry: "/home/u/.config/autostart/keyport.desktop" })),
    onAccountEvent: vi.fn(async (f: Handlers["event"]) => ((h.event = f), () => undefined)),
    onPrompt: vi.fn(async (f: Handlers["prompt"]) => ((h.prompt = f), () => undefined)),
    onPromptClosed: vi.fn(async (f: Handlers["closed"]) => ((h.closed = f), () => undefined)),
    onNavigate: vi.fn(async (f: Handlers["navigate"]) => ((h.navigate = f), () => undefined)),
  };
  const api = { ...base, ...over } as typeof base;
  return {
    api: api as unknown as Api,
    raw: api,
    h,
    setAccounts: (a: AccountSummary[]) => (accounts = a),
  };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

beforeEach(() => {
  vi.useRealTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("controller", () => {
  it("subscribes to events, then loads everything", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    expect(f.raw.onAccountEvent).toHaveBeenCalled();
    expect(f.raw.onNavigate).toHaveBeenCalled();
    expect(c.store.get().accounts?.map((a) => a.name)).toEqual(["work"]);
    expect(c.store.get().status?.socket).toBe("/run/keyport.sock");
    expect(c.store.get().eventsError).toBeNull();
  });

  it("paints the first screen the window's process handed over, then loads as usual, once per window", async () => {
    const storage = new Map<string, string>();
    const win = (first: unknown) =>
      ({
        location: { hash: "" },
        addEventListener: vi.fn(),
        sessionStorage: {
          getItem: (k: string) => storage.get(k) ?? null,
          setItem: (k: string, v: string) => void storage.set(k, v),
        },
        __KEYPORT_FIRST_SCREEN__: first,
      }) as unknown as Window;
    const first = {
      accounts: [account("robot10"), account("robot2")],
      providers: [provider("google")],
      status: null,
      autostart: { enabled: true, entry: "/home/u/.config/autostart/keyport.desktop" },
      prompts: [prompt("p1")],
    };
    const f = fakeApi();
    const w = win(first);
    const c = createController(f.api, { window: w });
    // Before anything is asked of the backend: the list, in people's order.
    expect(f.raw.accountsList).not.toHaveBeenCalled();
    expect(c.store.get().accounts?.map((a) => a.name)).toEqual(["robot2", "robot10"]);
    expect(c.store.get().providers?.map((p) => p.name)).toEqual(["google"]);
    expect(c.store.get().autostart?.enabled).toBe(true);
    expect(c.store.get().prompts.items.map((p) => p.prompt_id)).toEqual(["p1"]);
    expect(c.store.get().status).toBeNull();
    expect("__KEYPORT_FIRST_SCREEN__" in w).toBe(false);
    // Then loaded again as usual, which corrects what changed meanwhile.
    await c.actions.start();
    expect(f.raw.accountsList).toHaveBeenCalled();
    expect(c.store.get().accounts?.map((a) => a.name)).toEqual(["work"]);
    expect(c.store.get().status?.socket).toBe("/run/keyport.sock");
    // A reload of the page carries the same, older data: it is not shown again.
    const again = createController(fakeApi().api, { window: win(first) });
    expect(again.store.get().accounts).toBeNull();
  });

  it("says so when events cannot be subscribed to", async () => {
    const f = fakeApi({ onPrompt: vi.fn(async () => Promise.reject(new BackendError("internal", "no IPC"))) });
    const c = createController(f.api, { window: null });
    await c.actions.start();
    expect(c.store.get().eventsError).toBe("No IPC.");
  });

  it("a refreshed event updates the expiry at once and reloads", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    c.actions.navigate({ name: "account", account: "work" });
    await flush();
    const calls = f.raw.accountsList.mock.calls.length;
    f.setAccounts([account("work", { expires_at: "2031-01-01T00:00:00Z" })]);
    f.h.event!({ event: "refreshed", account: "work", expires_at: "2031-01-01T00:00:00Z" });
    expect(c.store.get().accounts![0].expires_at).toBe("2031-01-01T00:00:00Z");
    expect(c.store.get().details?.data?.account.expires_at).toBe("2031-01-01T00:00:00Z");
    await flush();
    expect(f.raw.accountsList.mock.calls.length).toBeGreaterThan(calls);
    expect(f.raw.accountDetails).toHaveBeenLastCalledWith("work");
  });

  it("needs_sign_in marks the account and says so", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    f.h.event!({ event: "needs_sign_in", account: "work", reason: "the refresh token was revoked" });
    expect(c.store.get().accounts![0].status).toBe("needs_sign_in");
    expect(c.store.get().toasts.map((t) => t.text)).toContain("work needs you to sign in again.");
  });

  it("a finished browser sign-in shows the new account", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    c.actions.navigate({ name: "add" });
    await c.actions.startSignin("browser", { provider: "google", account: null, scopes: [] }, { kind: "add" });
    const s = c.store.get().signin;
    expect(s?.phase).toBe("browser");
    // another sign-in's outcome is not ours
    f.h.event!({ event: "signin_finished", signin_id: "other", account: "x" });
    expect(c.store.get().screen).toEqual({ name: "add" });
    f.h.event!({ event: "signin_finished", signin_id: "s1", account: "alice@example.com" });
    expect(c.store.get().signin).toBeNull();
    expect(c.store.get().screen).toEqual({ name: "account", account: "alice@example.com" });
    expect(c.store.get().toasts.some((t) => t.text === "Connected alice@example.com.")).toBe(true);
  });

  it("a failed sign-in shows the backend's message", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    await c.actions.startSignin("browser", { provider: "google", account: null, scopes: [] }, { kind: "add" });
    f.h.event!({ event: "signin_failed", signin_id: "s1", account: null, code: 1, message: "the sign-in timed out" });
    expect(c.store.get().signin).toMatchObject({ phase: "failed", message: "The sign-in timed out." });
  });

  it("an outcome that arrives before signin_start returns is not lost", async () => {
    let resolve!: (v: unknown) => void;
    const f = fakeApi({ signinStart: vi.fn(() => new Promise((r) => (resolve = r))) });
    const c = createController(f.api, { window: null });
    await c.actions.start();
    const p = c.actions.startSignin("browser", { provider: "g", account: null, scopes: [] }, { kind: "add" });
    f.h.event!({ event: "signin_failed", signin_id: "s9", account: null, code: 1, message: "denied" });
    resolve({ signin_id: "s9", url: "u", browser_opened: true });
    await p;
    expect(c.store.get().signin).toMatchObject({ phase: "failed", message: "Denied." });
  });

  it("a start error becomes a failed sign-in", async () => {
    const f = fakeApi({
      signinStart: vi.fn(async () => Promise.reject({ code: "provider_unreachable", message: "Google did not answer." })),
    });
    const c = createController(f.api, { window: null });
    await c.actions.startSignin("browser", { provider: "g", account: null, scopes: [] }, { kind: "add" });
    expect(c.store.get().signin).toMatchObject({ phase: "failed", message: "Google did not answer." });
  });

  it("cancelling calls signin_cancel with the id", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.startSignin("browser", { provider: "g", account: null, scopes: [] }, { kind: "add" });
    await c.actions.cancelSignin();
    expect(f.raw.signinCancel).toHaveBeenCalledWith("s1");
    expect(c.store.get().signin).toBeNull();
  });

  it("reauth uses reauth_start and returns to the details", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    c.actions.navigate({ name: "account", account: "work" });
    await c.actions.startSignin(
      "browser",
      { provider: "google", account: "work", scopes: ["mail"] },
      { kind: "reauth", account: "work" },
    );
    expect(f.raw.reauthStart).toHaveBeenCalledWith("work", ["mail"]);
    f.h.event!({ event: "signin_finished", signin_id: "r1", account: "work" });
    expect(c.store.get().signin).toBeNull();
    expect(c.store.get().toasts.some((t) => t.text === "Signed in again to work.")).toBe(true);
  });

  it("navigate events switch screens", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    f.h.navigate!({ screen: "account", account: "work" });
    await flush();
    expect(c.store.get().screen).toEqual({ name: "account", account: "work" });
    f.h.navigate!({ screen: "accounts" });
    await flush();
    expect(c.store.get().screen).toEqual({ name: "accounts" });
  });

  it("removed elsewhere while on its page goes back to the list", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    c.actions.navigate({ name: "account", account: "work" });
    f.h.event!({ event: "removed", account: "work" });
    expect(c.store.get().screen).toEqual({ name: "accounts" });
  });
});

describe("access prompts", () => {
  it("loads pending prompts, queues new ones, drops closed ones", async () => {
    const f = fakeApi({ promptsPending: vi.fn(async () => [prompt("a")]) });
    const c = createController(f.api, { window: null });
    await c.actions.start();
    expect(c.store.get().prompts.items.map((p) => p.prompt_id)).toEqual(["a"]);
    f.h.prompt!(prompt("b"));
    f.h.prompt!(prompt("b"));
    expect(c.store.get().prompts.items.map((p) => p.prompt_id)).toEqual(["a", "b"]);
    f.h.closed!({ prompt_id: "a" });
    expect(c.store.get().prompts.items.map((p) => p.prompt_id)).toEqual(["b"]);
  });

  it("answers with prompt_answer and moves to the next", async () => {
    const f = fakeApi({ promptsPending: vi.fn(async () => [prompt("a"), prompt("b")]) });
    const c = createController(f.api, { window: null });
    await c.actions.start();
    await c.actions.answerPrompt("a", "allow_always");
    expect(f.raw.promptAnswer).toHaveBeenCalledWith("a", "allow_always");
    expect(c.store.get().prompts.items.map((p) => p.prompt_id)).toEqual(["b"]);
  });

  it("says what each answer did, for a local and a remote program", () => {
    const local = prompt("a");
    const remote = { ...prompt("b"), program: "remote:build-01:mbsync", program_name: "mbsync", host: "build-01" };
    expect(answeredText(local, "allow_always")).toBe(`${local.program_name} may now read ${local.account}.`);
    expect(answeredText(local, "deny")).toBe(`${local.program_name} was refused ${local.account}.`);
    expect(answeredText(remote, "allow_always")).toBe(`Every program on build-01 may now read ${remote.account}.`);
    expect(answeredText(remote, "allow_session")).toBe(`mbsync on build-01 may read ${remote.account} until its ssh session ends.`);
    expect(answeredText(remote, "deny")).toBe(`mbsync on build-01 was refused ${remote.account}.`);
  });

  it("a navigate to a prompt brings it forward", async () => {
    const f = fakeApi({ promptsPending: vi.fn(async () => [prompt("a"), prompt("b")]) });
    const c = createController(f.api, { window: null });
    await c.actions.start();
    c.actions.setPromptAside("a");
    c.actions.setPromptAside("b");
    f.h.navigate!({ screen: "prompt", prompt_id: "b" });
    await flush();
    expect(c.store.get().prompts.items[0].prompt_id).toBe("b");
    expect(c.store.get().prompts.setAside).toEqual(["a"]);
  });
});

describe("account actions", () => {
  it("copy token says when the clipboard is cleared", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.copyToken("work");
    expect(f.raw.accountCopyToken).toHaveBeenCalledWith("work");
    expect(c.store.get().toasts[0].text).toBe("Access token copied; the clipboard is cleared in 30 s.");
  });

  it("a revocation to finish at a page leaves a notice with the page", async () => {
    const f = fakeApi({
      accountRevoke: vi.fn(async () => ({
        outcome: "revoke_at_page",
        account: account("work", { provider: "github" }),
        page: "https://github.com/settings/applications",
        reason: null,
      })),
    });
    const c = createController(f.api, { window: null });
    await c.actions.start();
    c.actions.navigate({ name: "account", account: "work" });
    await c.actions.revokeAccount("work");
    expect(c.store.get().screen).toEqual({ name: "accounts" });
    expect(c.store.get().notices[0].page).toBe("https://github.com/settings/applications");
  });

  it("a provider that cannot revoke keeps the account and says so in the window's words", async () => {
    const f = fakeApi({
      accountRevoke: vi.fn(async () =>
        Promise.reject(new BackendError("cannot_revoke", "provider `ms` has no revocation endpoint ... `keyport remove work`")),
      ),
    });
    const c = createController(f.api, { window: null });
    await c.actions.start();
    c.actions.navigate({ name: "account", account: "work" });
    const failure = c.actions.revokeAccount("work");
    await expect(failure).rejects.toMatchObject({ code: "cannot_revoke" });
    const message = await failure.catch((e: Error) => e.message);
    expect(message).toContain("nothing was revoked and work was kept");
    expect(message).not.toContain("keyport remove");
    expect(c.store.get().screen).toEqual({ name: "account", account: "work" });
  });

  it("editing a provider sends the form, says the accounts stay and reloads the providers", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    const before = f.raw.providersList.mock.calls.length;
    const form: ProviderEditForm = {
      name: "work",
      endpoints: {
        authorization: null,
        token: null,
        revocation: "https://id.example/revoke",
        device_authorization: null,
        userinfo: null,
        introspection: null,
      },
      forget_endpoints: [],
      scopes: ["openid", "email"],
      redirect_host: null,
      redirect_path: null,
      client_secret: { action: "delete" },
    };
    const p = await c.actions.editProvider(form);
    expect(p.name).toBe("work");
    expect(f.raw.providerEdit).toHaveBeenCalledWith(form);
    expect(f.raw.providersList.mock.calls.length).toBeGreaterThan(before);
    expect(c.store.get().toasts.map((t) => t.text)).toEqual([
      "Saved the provider work; its accounts are unchanged. Its client secret was deleted from the keyring.",
    ]);
  });

  it("an edit the backend refuses reaches the dialog and changes nothing", async () => {
    const f = fakeApi({
      providerEdit: vi.fn(async () => Promise.reject(new BackendError("invalid_params", "plain http is refused"))),
    });
    const c = createController(f.api, { window: null });
    await c.actions.start();
    const before = f.raw.providersList.mock.calls.length;
    const form = { name: "work" } as ProviderEditForm;
    await expect(c.actions.editProvider({ ...form, client_secret: { action: "keep" } })).rejects.toMatchObject({
      code: "invalid_params",
    });
    expect(f.raw.providersList.mock.calls.length).toBe(before);
    expect(c.store.get().toasts).toEqual([]);
  });

  it("refreshing a provider's metadata says whether anything changed", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    const r = await c.actions.refreshProvider("work");
    expect(r.changes).toEqual([]);
    expect(f.raw.providerRefresh).toHaveBeenCalledWith("work");
    expect(c.store.get().toasts.at(-1)?.text).toBe("Read the metadata of work again: nothing changed.");
    f.raw.providerRefresh.mockResolvedValueOnce({
      provider: provider("work"),
      changes: ["revocation: added https://id.example/revoke", "userinfo: gone (was https://id.example/me)"],
    });
    const changed = await c.actions.refreshProvider("work");
    expect(changed.changes).toHaveLength(2);
    expect(c.store.get().toasts.at(-1)?.text).toBe("Read the metadata of work again: 2 endpoints changed.");
  });

  it("errors reach the caller as BackendError", async () => {
    const f = fakeApi({
      accountRefresh: vi.fn(async () => Promise.reject(new BackendError("needs_sign_in", "Sign in again first."))),
    });
    const c = createController(f.api, { window: null });
    await expect(c.actions.refreshAccount("work")).rejects.toMatchObject({ code: "needs_sign_in" });
  });
});

describe("start at login", () => {
  it("reads the setting at start and changes it, saying so", async () => {
    const f = fakeApi();
    const c = createController(f.api, { window: null });
    await c.actions.start();
    expect(f.raw.autostartGet).toHaveBeenCalledTimes(1);
    expect(c.store.get().autostart).toEqual({ enabled: false, entry: null });
    await c.actions.setAutostart(true);
    expect(f.raw.autostartSet).toHaveBeenCalledWith(true);
    expect(c.store.get().autostart?.enabled).toBe(true);
    expect(c.store.get().autostartBusy).toBe(false);
    expect(c.store.get().toasts.at(-1)?.text).toBe("Keyport will start when you log in.");
  });

  it("keeps the setting and shows the error when it cannot be changed", async () => {
    const f = fakeApi({ autostartSet: vi.fn(async () => Promise.reject(new BackendError("internal", "read-only home"))) });
    const c = createController(f.api, { window: null });
    await c.actions.start();
    await c.actions.setAutostart(true);
    expect(c.store.get().autostart?.enabled).toBe(false);
    const last = c.store.get().toasts.at(-1);
    expect(last?.kind).toBe("error");
    expect(last?.text).toBe("The login setting could not be changed. Read-only home.");
  });
});
