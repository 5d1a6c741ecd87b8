// The state store: a small observable holder, and the hook that reads a slice of it.
import { useEffect, useRef, useState } from "preact/hooks";

export type Store<S> = {
  get(): S;
  set(patch: Partial<S> | ((s: S) => Partial<S>)): void;
  subscribe(listener: () => void): () => void;
};

/** A tiny observable state holder; components read slices of it with `useStore`. */
export function createStore<S extends object>(initial: S): Store<S> {
  let state = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => state,
    set(patch) {
      const p = typeof patch === "function" ? patch(state) : patch;
      state = { ...state, ...p };
      for (const l of [...listeners]) l();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Re-renders the component when the selected slice changes (compared with Object.is). */
export function useStore<S extends object, T>(store: Store<S>, select: (s: S) => T): T {
  const [, force] = useState(0);
  const selectRef = useRef(select);
  selectRef.current = select;
  const value = select(store.get());
  const valueRef = useRef(value);
  valueRef.current = value;
  useEffect(() => {
    const check = () => {
      if (!Object.is(selectRef.current(store.get()), valueRef.current)) force((n) => n + 1);
    };
    const unsubscribe = store.subscribe(check);
    check(); // a change between render and subscription
    return unsubscribe;
  }, [store]);
  return value;
}
