// The screens and their addresses in the location hash.
/** The screens, addressed by the location hash so Back/Forward and links work. */
export type Screen =
  | { name: "accounts" }
  | { name: "account"; account: string }
  | { name: "add" }
  | { name: "providers" };

export function parseHash(hash: string): Screen {
  const h = hash.replace(/^#\/?/, "");
  if (h === "add") return { name: "add" };
  if (h === "providers") return { name: "providers" };
  if (h.startsWith("account/")) {
    const raw = h.slice("account/".length);
    let account = raw;
    try {
      account = decodeURIComponent(raw);
    } catch {
      // keep the raw text
    }
    if (account) return { name: "account", account };
  }
  return { name: "accounts" };
}

export function screenHash(screen: Screen): string {
  switch (screen.name) {
    case "accounts":
      return "#/accounts";
    case "add":
      return "#/add";
    case "providers":
      return "#/providers";
    case "account":
      return `#/account/${encodeURIComponent(screen.account)}`;
  }
}

export function sameScreen(a: Screen, b: Screen): boolean {
  return screenHash(a) === screenHash(b);
}
