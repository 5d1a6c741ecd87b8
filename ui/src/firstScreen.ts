// The first screen's data, handed over by the window's process with the page's first script
// (`window.__KEYPORT_FIRST_SCREEN__`, `src-tauri/src/screens.rs`): read from the service while
// the web view started, so the page paints the accounts list at once instead of asking for it
// after loading. `start()` then subscribes to events and loads everything again as usual, which
// also corrects anything that changed in between. Used once per window: a reload of the page
// (whose first script carries the same, older data) loads as usual.
import type { AccountSummary } from "./bindings/AccountSummary";
import type { FirstScreen } from "./bindings/FirstScreen";
import type { AppState } from "./controller/state";
import { addPrompts } from "./promptQueue";

declare global {
  interface Window {
    __KEYPORT_FIRST_SCREEN__?: FirstScreen;
  }
}

const USED = "keyport.firstScreenUsed";

/** Takes the handed-over data, once per window (`null` when there is none, or it was used). */
export function takeFirstScreen(win: Window | null): FirstScreen | null {
  const first = win?.__KEYPORT_FIRST_SCREEN__ ?? null;
  if (!win || !first) return null;
  delete win.__KEYPORT_FIRST_SCREEN__;
  try {
    if (win.sessionStorage.getItem(USED)) return null;
    win.sessionStorage.setItem(USED, "1");
  } catch {
    // No session storage: a reload shows older data for a moment, then the loaded.
  }
  return first;
}

/** "robot2" before "robot10", as people count. */
export function byName(accounts: AccountSummary[]): AccountSummary[] {
  return [...accounts].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: "base" }));
}

/** `state` with what `first` holds filled in. */
export function withFirstScreen(state: AppState, first: FirstScreen | null): AppState {
  if (!first) return state;
  return {
    ...state,
    accounts: first.accounts ? byName(first.accounts) : state.accounts,
    providers: first.providers ?? state.providers,
    status: first.status ?? state.status,
    autostart: first.autostart ?? state.autostart,
    prompts: first.prompts ? addPrompts(state.prompts, first.prompts) : state.prompts,
  };
}
