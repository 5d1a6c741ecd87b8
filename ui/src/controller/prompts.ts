// Access requests from other programs waiting for the user's answer: the queue, its expiry,
// and answering, setting aside or bringing forward a request.
import type { AccessPrompt } from "../bindings/AccessPrompt";
import type { PromptChoice } from "../bindings/PromptChoice";
import { errorText } from "../errors";
import {
  addPrompts,
  bringForward,
  dropExpired,
  removePrompt,
  restoreAll,
  setAside,
  type PromptQueue,
} from "../promptQueue";
import type { Core } from "./core";
import type { Toast } from "./state";

export type Prompts = ReturnType<typeof createPrompts>;

export function createPrompts(
  core: Core,
  deps: {
    toast: (text: string, kind?: Toast["kind"]) => void;
    reloadCurrentDetails: (account: string) => void;
  },
) {
  const { api, get, set } = core;
  const { toast, reloadCurrentDetails } = deps;
  let promptTimer: ReturnType<typeof setInterval> | null = null;

  /** Sets the queue; while it holds prompts, expired ones are dropped every second. */
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

  async function loadPrompts() {
    try {
      const pending = await api.promptsPending();
      setPrompts(addPrompts(get().prompts, pending));
    } catch (e) {
      toast(`Keyport could not load the waiting access requests. ${errorText(e)}`, "error");
    }
  }

  /** A new request from the backend. */
  function promptArrived(p: AccessPrompt) {
    setPrompts(addPrompts(get().prompts, [p]));
  }

  /** A request answered elsewhere, or expired, at the backend. */
  function promptClosed(promptId: string) {
    setPrompts(removePrompt(get().prompts, promptId));
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
      toast(answeredText(p, choice));
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

  return {
    loadPrompts,
    promptArrived,
    promptClosed,
    answerPrompt,
    setPromptAside,
    showPrompt,
    showAllPrompts,
  };
}

/** What the window says once a request is answered (not for "Allow once"). */
export function answeredText(p: AccessPrompt, choice: PromptChoice): string {
  const who = p.host ? `${p.program_name} on ${p.host}` : p.program_name;
  switch (choice) {
    case "allow_always":
      return p.host ? `Every program on ${p.host} may now read ${p.account}.` : `${who} may now read ${p.account}.`;
    case "allow_session":
      return `${who} may read ${p.account} until its ssh session ends.`;
    default:
      return `${who} was refused ${p.account}.`;
  }
}
