// The one module that talks to the Rust shell. Every other module calls the typed functions
// below; command names and snake_case arguments follow the UI <-> backend contract.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";

import type { AccessPrompt } from "./bindings/AccessPrompt";
import type { AccountDetails } from "./bindings/AccountDetails";
import type { AccountSummary } from "./bindings/AccountSummary";
import type { AppStatus } from "./bindings/AppStatus";
import type { AutostartStatus } from "./bindings/AutostartStatus";
import type { CopyResult } from "./bindings/CopyResult";
import type { DeviceStart } from "./bindings/DeviceStart";
import type { Event as AccountEvent } from "./bindings/Event";
import type { Navigate } from "./bindings/Navigate";
import type { NewProviderForm } from "./bindings/NewProviderForm";
import type { PresetInfo } from "./bindings/PresetInfo";
import type { PromptChoice } from "./bindings/PromptChoice";
import type { ProviderEditForm } from "./bindings/ProviderEditForm";
import type { ProviderRefreshed } from "./bindings/ProviderRefreshed";
import type { ProviderSummary } from "./bindings/ProviderSummary";
import type { RevokeResult } from "./bindings/RevokeResult";
import type { ServiceAccountForm } from "./bindings/ServiceAccountForm";
import type { SignInForm } from "./bindings/SignInForm";
import type { BrowserSignIn } from "./bindings/BrowserSignIn";
import { BackendError, toBackendError } from "./errors";

export { BackendError, normalizeError } from "./errors";

/** Outside the Keyport window (a plain browser) there is no backend to talk to. */
function notConnected(e: unknown): BackendError | null {
  const w = typeof window !== "undefined" ? (window as unknown as Record<string, unknown>) : null;
  if (w && !w.__TAURI_INTERNALS__ && e instanceof TypeError) {
    return new BackendError("internal", "This page is not running inside the Keyport app, so it cannot reach Keyport.");
  }
  return null;
}

/** Calls a command; rejects with a BackendError (an Error with the AppError shape). */
async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw notConnected(e) ?? toBackendError(e);
  }
}

export const appStatus = () => call<AppStatus>("app_status");
export const accountsList = () => call<AccountSummary[]>("accounts_list");
export const accountDetails = (account: string) => call<AccountDetails>("account_details", { account });
export const accountRefresh = (account: string) => call<AccountSummary>("account_refresh", { account });
export const accountRevoke = (account: string) => call<RevokeResult>("account_revoke", { account });
export const accountRemove = (account: string) => call<AccountSummary>("account_remove", { account });
export const accountCopyToken = (account: string) => call<CopyResult>("account_copy_token", { account });
export const programForget = (program: string, account: string) =>
  call<null>("program_forget", { program, account });
export const signinStart = (form: SignInForm) => call<BrowserSignIn>("signin_start", { form });
export const reauthStart = (account: string, scopes: string[]) =>
  call<BrowserSignIn>("reauth_start", { account, scopes });
export const signinCancel = (signinId: string) => call<null>("signin_cancel", { signin_id: signinId });
export const deviceStart = (form: SignInForm) => call<DeviceStart>("device_start", { form });
export const serviceAccountAdd = (form: ServiceAccountForm) =>
  call<AccountSummary>("service_account_add", { form });
export const providersList = () => call<ProviderSummary[]>("providers_list");
export const presetsList = () => call<PresetInfo[]>("presets_list");
export const providerAdd = (form: NewProviderForm) => call<ProviderSummary>("provider_add", { form });
export const providerEdit = (form: ProviderEditForm) => call<ProviderSummary>("provider_edit", { form });
export const providerRefresh = (name: string) => call<ProviderRefreshed>("provider_refresh", { name });
export const providerRemove = (name: string) => call<null>("provider_remove", { name });
export const promptsPending = () => call<AccessPrompt[]>("prompts_pending");
export const promptAnswer = (promptId: string, choice: PromptChoice) =>
  call<null>("prompt_answer", { prompt_id: promptId, choice });
export const openUrl = (url: string) => call<null>("open_url", { url });
export const autostartGet = () => call<AutostartStatus>("autostart_get");
export const autostartSet = (enabled: boolean) => call<AutostartStatus>("autostart_set", { enabled });

export type PromptClosed = { prompt_id: string };
export type NavigateTarget = Navigate;

export type Unlisten = () => void;

export const EVENT_ACCOUNT = "keyport://event";
export const EVENT_PROMPT = "keyport://prompt";
export const EVENT_PROMPT_CLOSED = "keyport://prompt-closed";
export const EVENT_NAVIGATE = "keyport://navigate";

async function on<T>(name: string, handler: (payload: T) => void): Promise<Unlisten> {
  try {
    return await listen<T>(name, (e) => handler(e.payload));
  } catch (e) {
    throw notConnected(e) ?? toBackendError(e);
  }
}

export const onAccountEvent = (h: (e: AccountEvent) => void) => on<AccountEvent>(EVENT_ACCOUNT, h);
export const onPrompt = (h: (p: AccessPrompt) => void) => on<AccessPrompt>(EVENT_PROMPT, h);
export const onPromptClosed = (h: (p: PromptClosed) => void) => on<PromptClosed>(EVENT_PROMPT_CLOSED, h);
export const onNavigate = (h: (t: NavigateTarget) => void) => on<NavigateTarget>(EVENT_NAVIGATE, h);
