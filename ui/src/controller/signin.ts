// Signing in, to add an account or again to an existing one: in the browser or with a code on
// another device; starting, cancelling, and the outcome the backend reports by event (which may
// come before the start's answer does).
import type { Event as AccountEvent } from "../bindings/Event";
import type { SignInForm } from "../bindings/SignInForm";
import { errorText } from "../errors";
import type { Screen } from "../route";
import type { Core } from "./core";
import type { Signin, SigninMode, SigninOrigin, Toast } from "./state";

/** The events that end a sign-in. */
export type SigninOutcome = Extract<AccountEvent, { event: "signin_finished" | "signin_failed" }>;

export type Signins = ReturnType<typeof createSignin>;

export function createSignin(
  core: Core,
  deps: {
    toast: (text: string, kind?: Toast["kind"]) => void;
    reloadAccounts: () => Promise<void>;
    reloadCurrentDetails: (account: string) => void;
    navigate: (screen: Screen) => void;
  },
) {
  const { api, get, set } = core;
  const { toast, reloadAccounts, reloadCurrentDetails, navigate } = deps;
  /** Sign-in outcomes that arrived before we knew their signin_id. */
  const early = new Map<string, SigninOutcome>();

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

  function rememberEarly(ev: SigninOutcome) {
    if (get().signin?.phase !== "starting") return;
    early.set(ev.signin_id, ev);
    if (early.size > 20) early.delete(early.keys().next().value as string);
  }

  /** A `signin_finished` or `signin_failed` event: ours, or perhaps ours before we know it. */
  function handleOutcome(ev: SigninOutcome) {
    if (ev.event === "signin_finished") {
      if (currentSigninId() === ev.signin_id) signinFinished(ev.account);
      else {
        rememberEarly(ev);
        void reloadAccounts();
      }
    } else {
      if (currentSigninId() === ev.signin_id) signinFailed(errorText(ev.message));
      else rememberEarly(ev);
    }
  }

  function applyEarlyOutcome(signinId: string) {
    const ev = early.get(signinId);
    if (!ev) return;
    early.delete(signinId);
    handleOutcome(ev);
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

  return { startSignin, cancelSignin, clearSignin, handleOutcome };
}
