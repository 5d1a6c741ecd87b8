// Which screen shows: the location hash is the address; going to a screen loads what it needs
// and moves focus to its heading.
import { parseHash, sameScreen, screenHash, type Screen } from "../route";
import type { Core } from "./core";

export type Navigation = ReturnType<typeof createNavigation>;

export function createNavigation(
  core: Core,
  deps: {
    reloadDetails: () => Promise<void>;
    reloadProviders: () => Promise<void>;
    reloadPresets: () => Promise<void>;
  },
) {
  const { get, set, win } = core;

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
    if (screen.name === "account") void deps.reloadDetails();
    if (screen.name === "providers" && changed) {
      void deps.reloadProviders();
      if (!get().presets) void deps.reloadPresets();
    }
    if (screen.name === "add" && changed) void deps.reloadProviders();
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

  return { navigate, onHashChange };
}
