// What the backend tells the window by itself: account events (renewed, needs sign-in,
// removed elsewhere, sign-in outcomes...) and requests to show a screen or an access request.
import type { NavigateTarget } from "../backend";
import type { AccountSummary } from "../bindings/AccountSummary";
import type { Event as AccountEvent } from "../bindings/Event";
import { errorText } from "../errors";
import type { AccountActions, AccountData } from "./accounts";
import type { Core } from "./core";
import type { Navigation } from "./navigation";
import type { Prompts } from "./prompts";
import type { Providers } from "./providers";
import type { Signins } from "./signin";
import type { Toasts } from "./toasts";

export function createEvents(
  core: Core,
  deps: {
    toasts: Toasts;
    data: AccountData;
    accountActions: AccountActions;
    providers: Providers;
    navigation: Navigation;
    prompts: Prompts;
    signin: Signins;
  },
) {
  const { get } = core;
  const { toasts, data, accountActions, providers, navigation, prompts, signin } = deps;
  const { toast } = toasts;
  const { navigate } = navigation;

  function handleEvent(ev: AccountEvent) {
    switch (ev.event) {
      case "added":
        void data.reloadAccounts();
        break;
      case "refreshed": {
        const cur = get().accounts?.find((a) => a.name === ev.account);
        const patch: Partial<AccountSummary> = { expires_at: ev.expires_at };
        if (cur && (cur.status === "expired" || cur.status === "needs_sign_in")) {
          patch.status = "valid";
          patch.needs_sign_in_reason = null;
        }
        data.patchAccount(ev.account, patch);
        void data.reloadAccounts();
        data.reloadCurrentDetails(ev.account);
        break;
      }
      case "refresh_token_expiring":
        toast(`${ev.account} needs a new sign-in within a day: its refresh token ends ${new Date(ev.expires_at).toLocaleString()}.`);
        void data.reloadAccounts();
        data.reloadCurrentDetails(ev.account);
        break;
      case "needs_sign_in":
        data.patchAccount(ev.account, { status: "needs_sign_in", needs_sign_in_reason: ev.reason });
        toast(`${ev.account} needs you to sign in again.`);
        void data.reloadAccounts();
        data.reloadCurrentDetails(ev.account);
        break;
      case "revoked":
      case "removed": {
        void data.reloadAccounts();
        const screen = get().screen;
        if (!accountActions.isRemoving(ev.account) && screen.name === "account" && screen.account === ev.account) {
          navigate({ name: "accounts" });
          toast(`${ev.account} was ${ev.event === "revoked" ? "revoked" : "removed"} elsewhere.`);
        }
        break;
      }
      case "error":
        toast(`${ev.account}: ${errorText(ev.message)}`, "error");
        data.reloadCurrentDetails(ev.account);
        break;
      case "signin_finished":
      case "signin_failed":
        signin.handleOutcome(ev);
        break;
      case "missed":
        void data.reloadAccounts();
        void providers.reloadProviders();
        void prompts.loadPrompts();
        if (get().details) void data.reloadDetails();
        break;
    }
  }

  /** The tray or a notification asks for a screen, or for an access request. */
  async function onNavigateTarget(t: NavigateTarget) {
    switch (t.screen) {
      case "accounts":
        navigate({ name: "accounts" });
        break;
      case "account":
        navigate({ name: "account", account: t.account });
        break;
      case "prompt":
        if (!get().prompts.items.some((p) => p.prompt_id === t.prompt_id)) await prompts.loadPrompts();
        prompts.showPrompt(t.prompt_id);
        break;
    }
  }

  return { handleEvent, onNavigateTarget };
}
