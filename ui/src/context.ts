// The controller handed to components (Preact context), and hooks to read the state and actions.
import { createContext } from "preact";
import { useContext } from "preact/hooks";

import type { Actions, AppState, Controller } from "./app";
import { useStore } from "./store";

export const AppContext = createContext<Controller | null>(null);

function useController(): Controller {
  const c = useContext(AppContext);
  if (!c) throw new Error("AppContext missing");
  return c;
}

export function useActions(): Actions {
  return useController().actions;
}

/** A slice of the app state; the component re-renders when it changes. */
export function useAppState<T>(select: (s: AppState) => T): T {
  return useStore(useController().store, select);
}
