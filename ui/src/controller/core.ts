// What every part of the controller shares: the backend it calls, the store it changes and the
// window it runs in; and `coalesce`, for reloads that must never run twice at once.
import type * as backendModule from "../backend";
import { takeFirstScreen, withFirstScreen } from "../firstScreen";
import { parseHash } from "../route";
import { createStore, type Store } from "../store";
import { initialState, type AppState } from "./state";

/** The backend's calls, as `backend.ts` exports them (tests pass a fake). */
export type Api = Omit<typeof backendModule, "BackendError" | "normalizeError">;

export type Core = {
  api: Api;
  store: Store<AppState>;
  get: Store<AppState>["get"];
  set: Store<AppState>["set"];
  /** The browser window (its location hash is the screen), or null in tests. */
  win: Window | null;
};

export function createCore(api: Api, win: Window | null): Core {
  const state = initialState(win ? parseHash(win.location.hash) : undefined);
  const store = createStore(withFirstScreen(state, takeFirstScreen(win)));
  return { api, store, get: store.get, set: store.set, win };
}

/** Runs `fn`; calls made while it runs make it run once more afterwards (never in parallel). */
export function coalesce(fn: () => Promise<void>): () => Promise<void> {
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
