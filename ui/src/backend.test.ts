// Tests: each backend call's command name and arguments, and the events listened to.
import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
const listen = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...a: unknown[]) => invoke(...a) }));
vi.mock("@tauri-apps/api/event", () => ({ listen: (...a: unknown[]) => listen(...a) }));

import * as backend from "./backend";
import { BackendError } from "./errors";
import { NO_ENDPOINTS } from "./providerEdit";

beforeEach(() => {
  invoke.mockReset();
  listen.mockReset();
  invoke.mockResolvedValue(null);
});

describe("commands", () => {
  const form = { provider: "google", account: null, scopes: ["openid"] };
  const editForm = {
    name: "g",
    endpoints: {
      authorization: null,
      token: null,
      revocation: "https://id.example/revoke",
      device_authorization: null,
      userinfo: null,
      introspection: null,
    },
    forget_endpoints: ["userinfo"],
    scopes: null,
    redirect_host: null,
    redirect_path: null,
    client_secret: { action: "replace" as const, secret: "s" },
  };
  const cases: Array<[string, () => Promise<unknown>, string, Record<string, unknown> | undefined]> = [
    ["app_status", () => backend.appStatus(), "app_status", undefined],
    ["accounts_list", () => backend.accountsList(), "accounts_list", undefined],
    ["account_details", () => backend.accountDetails("work"), "account_details", { account: "work" }],
    ["account_refresh", () => backend.accountRefresh("work"), "account_refresh", { account: "work" }],
    ["account_revoke", () => backend.accountRevoke("work"), "account_revoke", { account: "work" }],
    ["account_remove", () => backend.accountRemove("work"), "account_remove", { account: "work" }],
    ["account_copy_token", () => backend.accountCopyToken("work"), "account_copy_token", { account: "work" }],
    [
      "program_forget",
      () => backend.programForget("/usr/bin/git", "work"),
      "program_forget",
      { program: "/usr/bin/git", account: "work" },
    ],
    ["signin_start", () => backend.signinStart(form), "signin_start", { form }],
    [
      "reauth_start",
      () => backend.reauthStart("work", ["mail"]),
      "reauth_start",
      { account: "work", scopes: ["mail"] },
    ],
    ["signin_cancel", () => backend.signinCancel("s1"), "signin_cancel", { signin_id: "s1" }],
    ["device_start", () => backend.deviceStart(form), "device_start", { form }],
    [
      "service_account_add",
      () =>
        backend.serviceAccountAdd({ provider: "p", name: "bot", scopes: [], client_id: null, client_secret: "s" }),
      "service_account_add",
      { form: { provider: "p", name: "bot", scopes: [], client_id: null, client_secret: "s" } },
    ],
    ["providers_list", () => backend.providersList(), "providers_list", undefined],
    ["presets_list", () => backend.presetsList(), "presets_list", undefined],
    [
      "provider_add",
      () =>
        backend.providerAdd({
          name: "g",
          source: { kind: "preset", preset: "google", tenant: null, base_url: null },
          client_id: "id",
          client_secret: null,
          scopes: [],
          endpoints: NO_ENDPOINTS,
          redirect_host: null,
          redirect_path: null,
        }),
      "provider_add",
      {
        form: {
          name: "g",
          source: { kind: "preset", preset: "google", tenant: null, base_url: null },
          client_id: "id",
          client_secret: null,
          scopes: [],
          endpoints: NO_ENDPOINTS,
          redirect_host: null,
          redirect_path: null,
        },
      },
    ],
    [
      "provider_edit",
      () => backend.providerEdit(editForm),
      "provider_edit",
      { form: editForm },
    ],
    ["provider_refresh", () => backend.providerRefresh("g"), "provider_refresh", { name: "g" }],
    ["provider_remove", () => backend.providerRemove("g"), "provider_remove", { name: "g" }],
    ["prompts_pending", () => backend.promptsPending(), "prompts_pending", undefined],
    [
      "prompt_answer",
      () => backend.promptAnswer("p1", "allow_once"),
      "prompt_answer",
      { prompt_id: "p1", choice: "allow_once" },
    ],
    ["open_url", () => backend.openUrl("https://example.com/"), "open_url", { url: "https://example.com/" }],
  ];

  it.each(cases)("%s uses the contract's name and snake_case arguments", async (_n, run, command, args) => {
    await run();
    expect(invoke).toHaveBeenCalledTimes(1);
    expect(invoke).toHaveBeenCalledWith(command, args);
  });

  it("returns the command's result", async () => {
    invoke.mockResolvedValueOnce([{ name: "work" }]);
    await expect(backend.accountsList()).resolves.toEqual([{ name: "work" }]);
  });

  it("rejects with a BackendError carrying the AppError", async () => {
    invoke.mockRejectedValueOnce({ code: "account_not_found", message: "No account named work." });
    const e = await backend.accountDetails("work").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BackendError);
    expect(e).toMatchObject({ code: "account_not_found", message: "No account named work." });
  });

  it("normalizes string rejections", async () => {
    invoke.mockRejectedValueOnce("command not found");
    await expect(backend.appStatus()).rejects.toMatchObject({ code: "internal", message: "command not found" });
  });
});

describe("events", () => {
  it("listens to the contract's events and hands over the payload", async () => {
    const unlisten = vi.fn();
    const handlers = new Map<string, (e: { payload: unknown }) => void>();
    listen.mockImplementation(async (name: string, h: (e: { payload: unknown }) => void) => {
      handlers.set(name, h);
      return unlisten;
    });
    const seen: unknown[] = [];
    const un = await backend.onAccountEvent((e) => seen.push(e));
    await backend.onPrompt((p) => seen.push(p));
    await backend.onPromptClosed((p) => seen.push(p));
    await backend.onNavigate((t) => seen.push(t));
    expect([...handlers.keys()]).toEqual([
      "keyport://event",
      "keyport://prompt",
      "keyport://prompt-closed",
      "keyport://navigate",
    ]);
    handlers.get("keyport://event")!({ payload: { event: "added", account: "work" } });
    handlers.get("keyport://navigate")!({ payload: { screen: "accounts" } });
    expect(seen).toEqual([{ event: "added", account: "work" }, { screen: "accounts" }]);
    un();
    expect(unlisten).toHaveBeenCalled();
  });

  it("rejects with a BackendError when listening fails", async () => {
    listen.mockRejectedValueOnce(new Error("no IPC"));
    await expect(backend.onPrompt(() => undefined)).rejects.toBeInstanceOf(BackendError);
  });
});
