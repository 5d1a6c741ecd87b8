// Accounts: the list and the open account's details (loading, patching them from events), and
// the actions on one account (refresh, copy its token, revoke, remove, forget a program's
// rule, add a service account).
import type { AccountDetails } from "../bindings/AccountDetails";
import type { AccountSummary } from "../bindings/AccountSummary";
import type { AppError } from "../bindings/AppError";
import type { RevokeResult } from "../bindings/RevokeResult";
import type { ServiceAccountForm } from "../bindings/ServiceAccountForm";
import { BackendError, errorText, normalizeError } from "../errors";
import { byName } from "../firstScreen";
import type { Screen } from "../route";
import { coalesce, type Core } from "./core";
import { isNotFound } from "./state";

export type AccountData = ReturnType<typeof createAccountData>;

/** Loading the accounts list and the open account's details, and changing them in place. */
export function createAccountData(core: Core) {
  const { api, get, set } = core;

  const reloadAccounts = coalesce(async () => {
    set({ accountsLoading: true });
    try {
      const accounts = byName(await api.accountsList());
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

  /** Reloads the details if they are the ones of `account` on screen. */
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

  return { reloadAccounts, reloadDetails, reloadCurrentDetails, patchAccount };
}

export type AccountActions = ReturnType<typeof createAccountActions>;

/** What the account screens do to an account. */
export function createAccountActions(
  core: Core,
  deps: {
    data: AccountData;
    toast: (text: string) => void;
    notice: (text: string, page: string | null) => void;
    navigate: (screen: Screen) => void;
  },
) {
  const { api, set } = core;
  const { data, toast, notice, navigate } = deps;
  /** Accounts this window is revoking or removing: their events need no extra message. */
  const removing = new Set<string>();

  async function refreshAccount(name: string) {
    const summary = await api.accountRefresh(name);
    data.patchAccount(name, summary);
    toast(`Refreshed ${name}.`);
    void data.reloadAccounts();
    data.reloadCurrentDetails(name);
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
      await data.reloadAccounts();
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
      await data.reloadAccounts();
    } finally {
      removing.delete(name);
    }
  }

  async function forgetProgram(program: string, account: string) {
    await api.programForget(program, account);
    toast(`Forgot the rule for ${program}. It will ask again next time.`);
    data.reloadCurrentDetails(account);
  }

  async function addServiceAccount(form: ServiceAccountForm) {
    const a = await api.serviceAccountAdd(form);
    toast(`Added the service account ${a.name}.`);
    set((s) => ({ addForm: { ...s.addForm, account: "", scopes: "" } }));
    await data.reloadAccounts();
    navigate({ name: "account", account: a.name });
  }

  /** Whether this window is revoking or removing `name` right now. */
  function isRemoving(name: string): boolean {
    return removing.has(name);
  }

  return { refreshAccount, copyToken, revokeAccount, removeAccount, forgetProgram, addServiceAccount, isRemoving };
}
