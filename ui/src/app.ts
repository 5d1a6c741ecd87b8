// The application state and everything that changes it: loading data, reacting to backend
// events, and the actions the screens call. Components read the store and call `actions`.
import * as backendModule from "./backend";
import type { NavigateTarget } from "./backend";
import type { AccessPrompt } from "./bindings/AccessPrompt";
import type { AccountDetails } from "./bindings/AccountDetails";
import type { AccountSummary } from "./bindings/AccountSummary";
import type { AppError } from "./bindings/AppError";
import type { AppStatus } from "./bindings/AppStatus";
import type { DeviceStart } from "./bindings/DeviceStart";
import type { Event as AccountEvent } from "./bindings/Event";
import type { NewProviderForm } from "./bindings/NewProviderForm";
import type { ProviderEditForm } from "./bindings/ProviderEditForm";
import type { ProviderRefreshed } from "./bindings/ProviderRefreshed";
import type { PresetInfo } from "./bindings/PresetInfo";
import type { PromptChoice } from "./bindings/PromptChoice";
import type { ProviderSummary } from "./bindings/ProviderSummary";
import type { RevokeResult } from "./bindings/RevokeResult";
import type { ServiceAccountForm } from "./bindings/ServiceAccountForm";
import type { SignInForm } from "./bindings/SignInForm";
import { BackendError, errorText, normalizeError } from "./errors";
import {
  addPrompts,
  bringForward,
  dropExpired,
  emptyQueue,
  removePrompt,
  restoreAll,
  setAside,
  type PromptQueue,
} from "./promptQueue";
import { parseHash, sameScreen, screenHash, type Screen } from "./route";
import { createStore, type Store } from "./store";

export type Api = Omit<typeof backendModule, "BackendError" | "normalizeError">;

const TOAST_MS = 7000;
const ERROR_TOAST_MS = 12000;

export type Toast = { id: number; kind: "info" | "error"; text: string };
/** A lasting message on the accounts screen, e.g. how to finish a revocation by hand. */
export type Notice = { id: number; text: string; page: string | null };

export type SigninOrigin = { kind: "add" } | { kind: "reauth"; account: string };
export type SigninMode = "browser" | "device";
export type Signin =
  | { phase: "starting"; mode: SigninMode; origin: SigninOrigin }
  | {
      phase: "browser";
      mode: "browser";
      origin: SigninOrigin;
      id: string;
      url: string;
      browserOpened: boolean;
      /** When the backend stops waiting (ms since the epoch). */
      expiresAt: number;
    }
  | { phase: "device"; mode: "device"; origin: SigninOrigin; id: string; device: DeviceStart }
  | { phase: "failed"; mode: SigninMode; origin: SigninOrigin; message: string };

export type DetailsState = {
  account: string;
  data: AccountDetails | null;
  error: AppError | null;
  loading: boolean;
};

export type AddForm = { provider: string; account: string; scopes: string };

export type AppState = {
  screen: Screen;
  accounts: AccountSummary[] | null;
  accountsError: string | null;
  accountsLoading: boolean;
  details: DetailsState | null;
  providers: ProviderSummary[] | null;
  providersError: string | null;
  presets: PresetInfo[] | null;
  presetsError: string | null;
  status: AppStatus | null;
  socketNoteDismissed: boolean;
  signin: Signin | null;
  prompts: PromptQueue;
  toasts: Toast[];
  notices: Notice[];
  addForm: AddForm;
  /** Bumped when focus should move to the new screen's heading. */
  focusSeq: number;
  /** Events could not be subscribed to: the view may go stale. */
  eventsError: string | null;
};

export function initialState(screen: Screen = { name: "accounts" }): AppState {
  return {
    screen,
    accounts: null,
    accountsError: null,
    accountsLoading: false,
    details: null,
    providers: null,
    providersError: null,
    presets: null,
    presetsError: null,
    status: null,
    socketNoteDismissed: false,
    signin: null,
    prompts: emptyQueue,
    toasts: [],
    notices: [],
    addForm: { provider: "", account: "", scopes: "" },
    focusSeq: 0,
    eventsError: null,
  };
}

/** The account named is not (any more) in Keyport. */
export function isNotFound(e: AppError): boolean {
  return e.code === "account_not_found" || e.code === "no_such_account";
}

/** Runs `fn`; calls made while it runs make it run once more afterwards (never in parallel). */
function coalesce(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await fn();
        } while (again);
      } finally {
        running = null;
      }
    })();
    return running;
  };
}

export type Controller = ReturnType<typeof createController>;

export function createController(api: Api, opts: { window?: Window | null } = {}) {
  const win = opts.window === undefined ? (typeof window !== "undefined" ? window : null) : opts.window;
  const store: Store<AppState> = createStore(initialState(win ? parseHash(win.location.hash) : undefined));
  const set = store.set;
  const get = store.get;

  let nextId = 1;
  /** Accounts this window is revoking or removing: their events need no extra message. */
  const removing = new Set<string>();
  /** Sign-in outcomes that arrived before we knew their signin_id. */
  const early = new Map<string, AccountEvent>();
  let promptTimer: ReturnType<typeof setInterval> | null = null;

  // ---- toasts and notices ----
  function toast(text: string, kind: Toast["kind"] = "info") {
    const id = nextId++;
    // At most four at once: the oldest go first.
    set((s) => ({ toasts: [...s.toasts, { id, kind, text }].slice(-4) }));
    setTimeout(() => dismissToast(id), kind === "error" ? ERROR_TOAST_MS : TOAST_MS);
  }
  function dismissToast(id: number) {
    if (get().toasts.some((t) => t.id === id)) set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
  }
  function notice(text: string, page: string | null) {
    const id = nextId++;
    set((s) => ({ notices: [...s.notices, { id, text, page }] }));
  }
  function dismissNotice(id: number) {
    set((s) => ({ notices: s.notices.filter((n) => n.id !== id) }));
  }

  // ---- navigation ----
  function showScreen(screen: Screen, focus: boolean) {
    const prev = get().screen;
    const changed = !sameScreen(prev, screen);
    set((s) => ({
      screen,
      focusSeq: focus && changed ? s.focusSeq + 1 : s.focusSeq,
      details:
        screen.name === "account"
          ? s.details && s.details.account === screen.account
            ? s.details
            : { account: screen.account, data: null, error: null, loading: true }
          : s.details,
    }));
    if (screen.name === "account") void reloadDetails();
    if (screen.name === "providers" && changed) {
      void reloadProviders();
      if (!get().presets) void reloadPresets();
    }
    if (screen.name === "add" && changed) void reloadProviders();
  }

  function navigate(screen: Screen) {
    if (win) {
      const hash = screenHash(screen);
      if (win.location.hash !== hash) {
        win.location.hash = hash; // hashchange calls showScreen
        showScreen(screen, true);
        return;
      }
    }
    showScreen(screen, true);
  }

  function onHashChange() {
    if (!win) return;
    const screen = parseHash(win.location.hash);
    if (!sameScreen(screen, get().screen)) showScreen(screen, true);
  }

  // ---- loading ----
  const reloadAccounts = coalesce(async () => {
    set({ accountsLoading: true });
    try {
      // "robot2" before "robot10", as people count.
      const accounts = (await api.accountsList()).sort((a, b) =>
        a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: "base" }),
      );
      set({ accounts, accountsError: null, accountsLoading: false });
    } catch (e) {
      set({ accountsError: errorText(e), accountsLoading: false, accounts: get().accounts ?? null });
    }
  });

  const reloadDetails = coalesce(async () => {
    const screen = get().screen;
    if (screen.name !== "account") return;
    const account = screen.account;
    set((s) => ({
      details:
        s.details && s.details.account === account
          ? { ...s.details, loading: true }
          : { account, data: null, error: null, loading: true },
    }));
    let data: AccountDetails | null = null;
    let error: AppError | null = null;
    try {
      data = await api.accountDetails(account);
    } catch (e) {
      error = normalizeError(e);
    }
    const cur = get().details;
    if (!cur || cur.account !== account) return; // moved on meanwhile
    set({ details: { account, data: data ?? (error && isNotFound(error) ? null : cur.data), error, loading: false } });
  });

  const reloadProviders = coalesce(async () => {
    try {
      const providers = await api.providersList();
      set({ providers, providersError: null });
    } catch (e) {
      set({ providersError: errorText(e) });
    }
  });

  const reloadPresets = coalesce(async () => {
    try {
      const presets = await api.presetsList();
      set({ presets, presetsError: null });
    } catch (e) {
      set({ presetsError: errorText(e) });
    }
  });

  async function loadStatus() {
    try {
      set({ status: await api.appStatus() });
    } catch {
      // the status is extra information; the screens work without it
    }
  }

  async function loadPrompts() {
    try {
      const pending = await api.promptsPending();
      setPrompts(addPrompts(get().prompts, pending));
    } catch (e) {
      toast(`Keyport could not load the waiting access requests. ${errorText(e)}`, "error");
    }
  }

  function reloadCurrentDetails(account: string) {
    const d = get().details;
    const screen = get().screen;
    if (screen.name === "account" && screen.account === account && d) void reloadDetails();
  }

  /** Changes one account in the list and the details at once, without waiting for a reload. */
  function patchAccount(name: string, patch: Partial<AccountSummary>) {
    set((s) => {
      const accounts = s.accounts?.map((a) => (a.name === name ? { ...a, ...patch } : a)) ?? s.accounts;
      const details =
        s.details?.data && s.details.account === name
          ? { ...s.details, data: { ...s.details.data, account: { ...s.details.data.account, ...patch } } }
          : s.details;
      return { accounts, details };
    });
  }

  // ---- prompts ----
  function setPrompts(q: PromptQueue) {
    set({ prompts: q });
    if (q.items.length && promptTimer === null) {
      promptTimer = setInterval(() => {
        const cur = get().prompts;
        const next = dropExpired(cur, Date.now());
        if (next !== cur) set({ prompts: next });
        if (!next.items.length && promptTimer !== null) {
          clearInterval(promptTimer);
          promptTimer = null;
        }
      }, 1000);
    }
  }

  async function answerPrompt(promptId: string, choice: PromptChoice) {
    // Before the call: its `prompt-closed` event may remove the prompt first.
    const p = get().prompts.items.find((x) => x.prompt_id === promptId);
    try {
      await api.promptAnswer(promptId, choice);
    } catch (e) {
      // Answered or expired meanwhile? Then it is no longer pending: drop it quietly.
      let pending: AccessPrompt[] | null = null;
      try {
        pending = await api.promptsPending();
      } catch {
        // keep the error below
      }
      if (pending && !pending.some((p) => p.prompt_id === promptId)) {
        setPrompts(removePrompt(get().prompts, promptId));
        toast("That request was already answered or has expired.");
        return;
      }
      throw e;
    }
    setPrompts(removePrompt(get().prompts, promptId));
    if (p && choice !== "allow_once") {
      reloadCurrentDetails(p.account);
      if (choice === "allow_always") toast(`${p.program_name} may now read ${p.account}.`);
      else toast(`${p.program_name} was refused ${p.account}.`);
    }
  }

  function setPromptAside(promptId: string) {
    setPrompts(setAside(get().prompts, promptId));
  }
  function showPrompt(promptId: string) {
    setPrompts(bringForward(get().prompts, promptId));
  }
  function showAllPrompts() {
    setPrompts(restoreAll(get().prompts));
  }

  async function onNavigateTarget(t: NavigateTarget) {
    switch (t.screen) {
      case "accounts":
        navigate({ name: "accounts" });
        break;
      case "account":
        navigate({ name: "account", account: t.account });
        break;
      case "prompt":
        if (!get().prompts.items.some((p) => p.prompt_id === t.prompt_id)) await loadPrompts();
        showPrompt(t.prompt_id);
        break;
    }
  }

  // ---- sign-in ----
  function currentSigninId(): string | null {
    const s = get().signin;
    return s && (s.phase === "browser" || s.phase === "device") ? s.id : null;
  }

  function signinFinished(account: string) {
    const s = get().signin;
    const origin = s?.origin ?? { kind: "add" };
    set((st) => ({
      signin: null,
      addForm: origin.kind === "add" ? { ...st.addForm, account: "", scopes: "" } : st.addForm,
    }));
    toast(origin.kind === "reauth" ? `Signed in again to ${account}.` : `Connected ${account}.`);
    void reloadAccounts();
    navigate({ name: "account", account });
    reloadCurrentDetails(account);
  }

  function signinFailed(message: string) {
    const s = get().signin;
    if (!s) return;
    set({ signin: { phase: "failed", mode: s.mode, origin: s.origin, message } });
  }

  function applyEarlyOutcome(signinId: string) {
    const ev = early.get(signinId);
    if (!ev) return;
    early.delete(signinId);
    handleEvent(ev);
  }

  async function startSignin(mode: SigninMode, form: SignInForm, origin: SigninOrigin) {
    const prev = currentSigninId();
    if (prev) api.signinCancel(prev).catch(() => undefined);
    const starting: Signin = { phase: "starting", mode, origin };
    set({ signin: starting });
    try {
      if (mode === "browser") {
        const r =
          origin.kind === "reauth" ? await api.reauthStart(origin.account, form.scopes) : await api.signinStart(form);
        if (get().signin !== starting) {
          // cancelled (or replaced) while starting
          api.signinCancel(r.signin_id).catch(() => undefined);
          return;
        }
        set({
          signin: {
            phase: "browser",
            mode: "browser",
            origin,
            id: r.signin_id,
            url: r.url,
            browserOpened: r.browser_opened,
            expiresAt: Date.parse(r.expires_at),
          },
        });
        applyEarlyOutcome(r.signin_id);
      } else {
        const d = await api.deviceStart(form);
        if (get().signin !== starting) {
          api.signinCancel(d.signin_id).catch(() => undefined);
          return;
        }
        set({ signin: { phase: "device", mode: "device", origin, id: d.signin_id, device: d } });
        applyEarlyOutcome(d.signin_id);
      }
    } catch (e) {
      if (get().signin === starting) set({ signin: { phase: "failed", mode, origin, message: errorText(e) } });
    }
  }

  async function cancelSignin() {
    const id = currentSigninId();
    if (!id) {
      set({ signin: null });
      return;
    }
    try {
      await api.signinCancel(id);
    } catch (e) {
      toast(`The sign-in could not be cancelled cleanly. ${errorText(e)}`, "error");
    } finally {
      if (currentSigninId() === id) set({ signin: null });
    }
  }

  function clearSignin() {
    const s = get().signin;
    if (s && (s.phase === "failed" || s.phase === "starting")) set({ signin: null });
  }

  // ---- events ----
  function handleEvent(ev: AccountEvent) {
    switch (ev.event) {
      case "added":
        void reloadAccounts();
        break;
      case "refreshed": {
        const cur = get().accounts?.find((a) => a.name === ev.account);
        const patch: Partial<AccountSummary> = { expires_at: ev.expires_at };
        if (cur && (cur.status === "expired" || cur.status === "needs_sign_in")) {
          patch.status = "valid";
          patch.needs_sign_in_reason = null;
        }
        patchAccount(ev.account, patch);
        void reloadAccounts();
        reloadCurrentDetails(ev.account);
        break;
      }
      case "refresh_token_expiring":
        toast(`${ev.account} needs a new sign-in within a day: its refresh token ends ${new Date(ev.expires_at).toLocaleString()}.`);
        void reloadAccounts();
        reloadCurrentDetails(ev.account);
        break;
      case "needs_sign_in":
        patchAccount(ev.account, { status: "needs_sign_in", needs_sign_in_reason: ev.reason });
        toast(`${ev.account} needs you to sign in again.`);
        void reloadAccounts();
        reloadCurrentDetails(ev.account);
        break;
      case "revoked":
      case "removed": {
        void reloadAccounts();
        const screen = get().screen;
        if (!removing.has(ev.account) && screen.name === "account" && screen.account === ev.account) {
          navigate({ name: "accounts" });
          toast(`${ev.account} was ${ev.event === "revoked" ? "revoked" : "removed"} elsewhere.`);
        }
        break;
      }
      case "error":
        toast(`${ev.account}: ${errorText(ev.message)}`, "error");
        reloadCurrentDetails(ev.account);
        break;
      case "signin_finished":
        if (currentSigninId() === ev.signin_id) signinFinished(ev.account);
        else {
          rememberEarly(ev);
          void reloadAccounts();
        }
        break;
      case "signin_failed":
        if (currentSigninId() === ev.signin_id) signinFailed(errorText(ev.message));
        else rememberEarly(ev);
        break;
      case "missed":
        void reloadAccounts();
        void reloadProviders();
        void loadPrompts();
        if (get().details) void reloadDetails();
        break;
    }
  }

  function rememberEarly(ev: AccountEvent & { signin_id: string }) {
    if (get().signin?.phase !== "starting") return;
    early.set(ev.signin_id, ev);
    if (early.size > 20) early.delete(early.keys().next().value as string);
  }

  // ---- account actions ----
  async function refreshAccount(name: string) {
    const summary = await api.accountRefresh(name);
    patchAccount(name, summary);
    toast(`Refreshed ${name}.`);
    void reloadAccounts();
    reloadCurrentDetails(name);
  }

  async function copyToken(name: string) {
    const r = await api.accountCopyToken(name);
    toast(`Access token copied; the clipboard is cleared in ${r.clears_in_secs} s.`);
  }

  async function revokeAccount(name: string): Promise<RevokeResult> {
    removing.add(name);
    try {
      let r: RevokeResult;
      try {
        r = await api.accountRevoke(name);
      } catch (e) {
        // Nothing was revoked and nothing removed: say so in words for the window (the
        // backend's message names CLI commands).
        if (normalizeError(e).code === "cannot_revoke") {
          throw new BackendError(
            "cannot_revoke",
            `Keyport knows no way to have this provider revoke tokens, so nothing was revoked and ${name} was kept. Revoke Keyport's access on the provider's site, then use Remove; or give the provider's revocation endpoint on the Providers screen.`,
          );
        }
        throw e;
      }
      const provider = r.account.provider;
      const reason = r.reason ? ` ${errorText(r.reason)}` : "";
      switch (r.outcome) {
        case "revoked":
          toast(
            r.verified
              ? `${provider} revoked the tokens of ${name} (checked: they are no longer active), and Keyport removed the account.`
              : `${provider} revoked the tokens of ${name}, and Keyport removed the account.`,
          );
          break;
        case "revoke_at_page":
          notice(
            `${name} was removed from Keyport, but ${provider} does not let Keyport revoke its tokens.${reason} Revoke Keyport's access on the provider's page to finish.`,
            r.page,
          );
          break;
        case "removed_locally":
          notice(`${name} was removed from Keyport, but ${provider} did not revoke its tokens.${reason}`, r.page);
          break;
      }
      navigate({ name: "accounts" });
      await reloadAccounts();
      return r;
    } finally {
      removing.delete(name);
    }
  }

  async function removeAccount(name: string) {
    removing.add(name);
    try {
      const a = await api.accountRemove(name);
      toast(`Removed ${name} from Keyport. The grant stays at ${a.provider}.`);
      navigate({ name: "accounts" });
      await reloadAccounts();
    } finally {
      removing.delete(name);
    }
  }

  async function forgetProgram(program: string, account: string) {
    await api.programForget(program, account);
    toast(`Forgot the rule for ${program}. It will ask again next time.`);
    reloadCurrentDetails(account);
  }

  async function addServiceAccount(form: ServiceAccountForm) {
    const a = await api.serviceAccountAdd(form);
    toast(`Added the service account ${a.name}.`);
    set((s) => ({ addForm: { ...s.addForm, account: "", scopes: "" } }));
    await reloadAccounts();
    navigate({ name: "account", account: a.name });
  }

  // ---- providers ----
  async function addProvider(form: NewProviderForm): Promise<ProviderSummary> {
    const p = await api.providerAdd(form);
    toast(`Added the provider ${p.name}.`);
    await reloadProviders();
    return p;
  }

  async function editProvider(form: ProviderEditForm): Promise<ProviderSummary> {
    const p = await api.providerEdit(form);
    const secret =
      form.client_secret.action === "replace"
        ? " The new client secret is in the keyring."
        : form.client_secret.action === "delete"
          ? " Its client secret was deleted from the keyring."
          : "";
    toast(`Saved the provider ${p.name}; its accounts are unchanged.${secret}`);
    await reloadProviders();
    return p;
  }

  /** Reads a discovered provider's metadata again; says what changed, or that nothing did. */
  async function refreshProvider(name: string): Promise<ProviderRefreshed> {
    const r = await api.providerRefresh(name);
    toast(
      r.changes.length
        ? `Read the metadata of ${name} again: ${r.changes.length === 1 ? "1 endpoint" : `${r.changes.length} endpoints`} changed.`
        : `Read the metadata of ${name} again: nothing changed.`,
    );
    await reloadProviders();
    return r;
  }

  async function removeProvider(name: string) {
    const hadSecret = get().providers?.find((p) => p.name === name)?.has_client_secret ?? false;
    await api.providerRemove(name);
    toast(hadSecret ? `Removed the provider ${name} and its client secret.` : `Removed the provider ${name}.`);
    await reloadProviders();
  }

  async function openUrl(url: string) {
    try {
      await api.openUrl(url);
    } catch (e) {
      toast(`The page could not be opened. ${errorText(e)}`, "error");
    }
  }

  // ---- start ----
  async function start() {
    if (win) win.addEventListener("hashchange", onHashChange);
    const subs = await Promise.allSettled([
      api.onAccountEvent(handleEvent),
      api.onPrompt((p: AccessPrompt) => setPrompts(addPrompts(get().prompts, [p]))),
      api.onPromptClosed((c) => setPrompts(removePrompt(get().prompts, c.prompt_id))),
      api.onNavigate((t) => void onNavigateTarget(t)),
    ]);
    const failed = subs.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) set({ eventsError: errorText(failed.reason) });
    const screen = get().screen;
    await Promise.all([
      reloadAccounts(),
      reloadProviders(),
      loadStatus(),
      loadPrompts(),
      screen.name === "account" ? reloadDetails() : Promise.resolve(),
      screen.name === "providers" ? reloadPresets() : Promise.resolve(),
    ]);
  }

  const actions = {
    start,
    navigate,
    toast,
    dismissToast,
    dismissNotice,
    dismissSocketNote: () => set({ socketNoteDismissed: true }),
    setAddForm: (patch: Partial<AddForm>) => set((s) => ({ addForm: { ...s.addForm, ...patch } })),
    reloadAccounts,
    reloadDetails,
    reloadProviders,
    reloadPresets,
    handleEvent,
    startSignin,
    cancelSignin,
    clearSignin,
    refreshAccount,
    copyToken,
    revokeAccount,
    removeAccount,
    forgetProgram,
    addServiceAccount,
    addProvider,
    editProvider,
    refreshProvider,
    removeProvider,
    openUrl,
    answerPrompt,
    setPromptAside,
    showPrompt,
    showAllPrompts,
  };
  return { store, actions };
}

export type Actions = Controller["actions"];
