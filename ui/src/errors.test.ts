// Tests: errors from the backend made into AppErrors and sentences.
import { describe, expect, it } from "vitest";

import { BackendError, errorText, normalizeError, sentence, toBackendError } from "./errors";

describe("normalizeError", () => {
  it("keeps an AppError as it is", () => {
    expect(normalizeError({ code: "account_not_found", message: "No account named work." })).toEqual({
      code: "account_not_found",
      message: "No account named work.",
    });
  });
  it("turns a plain string into an internal error", () => {
    expect(normalizeError("command accounts_lis not found")).toEqual({
      code: "internal",
      message: "command accounts_lis not found",
    });
  });
  it("reads a JSON string, and never shows raw JSON", () => {
    expect(normalizeError('{"code":"keyring","message":"The keyring is locked."}')).toEqual({
      code: "keyring",
      message: "The keyring is locked.",
    });
    expect(normalizeError('{"weird":true}').message).not.toContain("{");
    expect(normalizeError("{not json").message).not.toContain("{");
  });
  it("handles Errors, objects without a code, and nothing", () => {
    expect(normalizeError(new Error("boom"))).toEqual({ code: "internal", message: "boom" });
    expect(normalizeError({ message: "plain" })).toEqual({ code: "internal", message: "plain" });
    expect(normalizeError({ error: "wrapped" })).toEqual({ code: "internal", message: "wrapped" });
    expect(normalizeError(undefined).code).toBe("internal");
    expect(normalizeError(null).message).toMatch(/went wrong/);
    expect(normalizeError(42).message).toMatch(/went wrong/);
    expect(normalizeError({ code: "bad_input", message: "" }).message).toMatch(/went wrong/);
  });
  it("round-trips through BackendError", () => {
    const e = toBackendError({ code: "needs_sign_in", message: "Sign in again." });
    expect(e).toBeInstanceOf(BackendError);
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe("needs_sign_in");
    expect(normalizeError(e)).toEqual({ code: "needs_sign_in", message: "Sign in again." });
    expect(toBackendError(e)).toBe(e);
  });
});

describe("sentence and errorText", () => {
  it("makes a sentence", () => {
    expect(sentence("the provider is unreachable")).toBe("The provider is unreachable.");
    expect(sentence("Done!")).toBe("Done!");
    expect(sentence("  ")).toMatch(/went wrong/);
    expect(errorText({ code: "x", message: "token endpoint said invalid_grant" })).toBe(
      "Token endpoint said invalid_grant.",
    );
  });
});
