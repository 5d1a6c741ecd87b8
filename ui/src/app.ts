// The window's controller: the application state and everything that changes it. Each part
// lives in `controller/` (toasts, navigation, accounts, providers, prompts, sign-in, events);
// this module puts them together. Components read the store and call `actions`.
import type { AccessPrompt } from "./bindings/AccessPrompt";
import { createAccountActions, createAccountData } from "./controller/accounts";
import { createCore, type Api } from "./controller/core";
import { createEvents } from "./controller/events";
import { createNavigation } from "./controller/navigation";
import { createPrompts } from "./controller/prompts";
import { createProviders } from "./controller/providers";
import { createSignin } from "./controller/signin";
import type { AddForm } from "./controller/state";
import { createToasts } from "./controller/toasts";
import { errorText } from "./errors";

export type { Api } from "./controller/core";
export {
  initialState,
  isNotFound,
  type AddForm,
  type AppState,
  type DetailsState,
  type Notice,
  type Signin,
  type SigninMode,
  type SigninOrigin,
  type Toast,
} from "./controller/state";

export type Controller = ReturnType<typeof createController>;

export function createController(api: Api, opts: { window?: Window | null } = {}) {
  const win = opts.window === undefined ? (typeof window !== "undefined" ? window : null) : opts.window;
  const core = createCore(api, win);
  const { get, set } = core;

  const toasts = createToasts(core);
  const data = createAccountData(core);
  const providers = createProviders(core, { toast: toasts.toast });
  const navigation = createNavigation(core, {
    reloadDetails: data.reloadDetails,
    reloadProviders: providers.reloadProviders,
    reloadPresets: providers.reloadPresets,
  });
  const accountActions = createAccountActions(core, {
    data,
    toast: toasts.toast,
    notice: toasts.notice,
    navigate: navigation.navigate,
  });
  const prompts = createPrompts(core, { toast: toasts.toast, reloadCurrentDetails: data.reloadCurrentDetails });
  const signin = createSignin(core, {
    toast: toasts.toast,
    reloadAccounts: data.reloadAccounts,
    reloadCurrentDetails: data.reloadCurrentDetails,
    navigate: navigation.navigate,
  });
  const events = createEvents(core, { toasts, data, accountActions, providers, navigation, prompts, signin });

  async function openUrl(url: string) {
    try {
      await api.openUrl(url);
    } catch (e) {
      toasts.toast(`The page could not be opened. ${errorText(e)}`, "error");
    }
  }

  async function loadStatus() {
    try {
      set({ status: await api.appStatus() });
    } catch {
      // the status is extra information; the screens work without it
    }
  }

  async function loadAutostart() {
    try {
      set({ autostart: await api.autostartGet() });
    } catch {
      // the switch stays hidden: this service cannot say
    }
  }

  /** Turns starting the service at login on or off. */
  async function setAutostart(enabled: boolean) {
    set({ autostartBusy: true });
    try {
      const now = await api.autostartSet(enabled);
      set({ autostart: now });
      toasts.toast(now.enabled ? "Keyport will start when you log in." : "Keyport will not start when you log in.");
    } catch (e) {
      toasts.toast(`The login setting could not be changed. ${errorText(e)}`, "error");
    } finally {
      set({ autostartBusy: false });
    }
  }

  /** Subscribes to the backend's events, then loads what the first screen shows. */
  async function start() {
    if (win) win.addEventListener("hashchange", navigation.onHashChange);
    const subs = await Promise.allSettled([
      api.onAccountEvent(events.handleEvent),
      api.onPrompt((p: AccessPrompt) => prompts.promptArrived(p)),
      api.onPromptClosed((c) => prompts.promptClosed(c.prompt_id)),
      api.onNavigate((t) => void events.onNavigateTarget(t)),
    ]);
    const failed = subs.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) set({ eventsError: errorText(failed.reason) });
    const screen = get().screen;
    await Promise.all([
      data.reloadAccounts(),
      providers.reloadProviders(),
      loadStatus(),
      loadAutostart(),
      prompts.loadPrompts(),
      screen.name === "account" ? data.reloadDetails() : Promise.resolve(),
      screen.name === "providers" ? providers.reloadPresets() : Promise.resolve(),
    ]);
  }

  const actions = {
    start,
    navigate: navigation.navigate,
    toast: toasts.toast,
    dismissToast: toasts.dismissToast,
    dismissAllToasts: toasts.dismissAllToasts,
    holdToasts: toasts.holdToasts,
    dismissNotice: toasts.dismissNotice,
    dismissSocketNote: () => set({ socketNoteDismissed: true }),
    setAddForm: (patch: Partial<AddForm>) => set((s) => ({ addForm: { ...s.addForm, ...patch } })),
    reloadAccounts: data.reloadAccounts,
    reloadDetails: data.reloadDetails,
    reloadProviders: providers.reloadProviders,
    reloadPresets: providers.reloadPresets,
    handleEvent: events.handleEvent,
    startSignin: signin.startSignin,
    cancelSignin: signin.cancelSignin,
    clearSignin: signin.clearSignin,
    refreshAccount: accountActions.refreshAccount,
    copyToken: accountActions.copyToken,
    revokeAccount: accountActions.revokeAccount,
    removeAccount: accountActions.removeAccount,
    forgetProgram: accountActions.forgetProgram,
    addServiceAccount: accountActions.addServiceAccount,
    addProvider: providers.addProvider,
    editProvider: providers.editProvider,
    refreshProvider: providers.refreshProvider,
    removeProvider: providers.removeProvider,
    openUrl,
    setAutostart,
    answerPrompt: prompts.answerPrompt,
    setPromptAside: prompts.setPromptAside,
    showPrompt: prompts.showPrompt,
    showAllPrompts: prompts.showAllPrompts,
  };
  return { store: core.store, actions };
}

export type Actions = Controller["actions"];
