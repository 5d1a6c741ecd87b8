// The current time for live countdowns: one shared ticker, read with `useNow`.
import { useEffect, useState } from "preact/hooks";

// One shared one-second ticker for every live countdown on screen.
const subscribers = new Set<(now: number) => void>();
let timer: ReturnType<typeof setInterval> | null = null;

function tick() {
  const now = Date.now();
  for (const s of [...subscribers]) s(now);
}

export function subscribeClock(fn: (now: number) => void): () => void {
  subscribers.add(fn);
  if (timer === null) timer = setInterval(tick, 1000);
  return () => {
    subscribers.delete(fn);
    if (!subscribers.size && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  };
}

/** The current time in ms, updated every second while the component is mounted. */
export function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => subscribeClock(setNow), []);
  return now;
}
