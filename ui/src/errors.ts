// Errors from the backend: the one error type (BackendError) and its words for people.
import type { AppError } from "./bindings/AppError";

/** What every backend call rejects with: an `Error` that also has the `AppError` shape. */
export class BackendError extends Error implements AppError {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "BackendError";
    this.code = code;
  }
}

const FALLBACK = "Something went wrong inside Keyport.";

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function fromRecord(v: Record<string, unknown>): AppError | null {
  const code = typeof v.code === "string" && v.code ? v.code : null;
  const message = typeof v.message === "string" ? v.message.trim() : "";
  if (code !== null) return { code, message: message || FALLBACK };
  if (message) return { code: "internal", message };
  // Tauri wraps some failures as { error: "..." } or similar.
  if (typeof v.error === "string" && v.error.trim()) return { code: "internal", message: v.error.trim() };
  return null;
}

/**
 * Turns anything an `invoke` may reject with (an AppError object, a string, a JSON string,
 * an Error, nothing) into an AppError whose message is words for people, never raw JSON.
 */
export function normalizeError(e: unknown): AppError {
  if (e instanceof BackendError) return { code: e.code, message: e.message || FALLBACK };
  if (typeof e === "string") {
    const s = e.trim();
    if (s.startsWith("{")) {
      try {
        const parsed: unknown = JSON.parse(s);
        if (isRecord(parsed)) {
          const r = fromRecord(parsed);
          if (r) return r;
        }
      } catch {
        // not JSON after all: use the text
      }
      return { code: "internal", message: FALLBACK };
    }
    return { code: "internal", message: s || FALLBACK };
  }
  if (e instanceof Error) {
    const withCode = fromRecord(e as unknown as Record<string, unknown>);
    if (withCode && typeof (e as unknown as Record<string, unknown>).code === "string") return withCode;
    return { code: "internal", message: e.message.trim() || FALLBACK };
  }
  if (isRecord(e)) {
    const r = fromRecord(e);
    if (r) return r;
  }
  return { code: "internal", message: FALLBACK };
}

export function toBackendError(e: unknown): BackendError {
  if (e instanceof BackendError) return e;
  const n = normalizeError(e);
  return new BackendError(n.code, n.message);
}

/** Makes a message read as a sentence: capital first letter, closing full stop. */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return FALLBACK;
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?…]["”)]?$/.test(first) ? first : `${first}.`;
}

/** The text to show people for a failed call. */
export function errorText(e: unknown): string {
  return sentence(normalizeError(e).message);
}

export function errorCode(e: unknown): string {
  return normalizeError(e).code;
}
