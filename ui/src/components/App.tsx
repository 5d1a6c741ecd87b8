// The window's frame: navigation, the current screen, banners, toasts and access requests.
import { useEffect, useRef } from "preact/hooks";

import { useActions, useAppState } from "../context";
import type { Screen } from "../route";
import { AccessPromptHost } from "./AccessPrompt";
import { AccountDetailsScreen } from "./AccountDetailsScreen";
import { AccountsScreen } from "./AccountsScreen";
import { AddAccountScreen } from "./AddAccountScreen";
import { GlobalBanners } from "./Banners";
import { AppLogo } from "./Icons";
import { ProvidersScreen } from "./ProvidersScreen";
import { StartAtLogin } from "./StartAtLogin";
import { Toasts } from "./Toasts";

function NavLink(props: { href: string; current: boolean; children: string }) {
  return (
    <li>
      <a href={props.href} class="nav-link" aria-current={props.current ? "page" : undefined}>
        {props.children}
      </a>
    </li>
  );
}

function MainNav(props: { screen: Screen }) {
  const name = props.screen.name;
  return (
    <nav aria-label="Main" class="main-nav">
      <ul>
        <NavLink href="#/accounts" current={name === "accounts" || name === "account"}>
          Accounts
        </NavLink>
        <NavLink href="#/add" current={name === "add"}>
          Add account
        </NavLink>
        <NavLink href="#/providers" current={name === "providers"}>
          Providers
        </NavLink>
      </ul>
    </nav>
  );
}

function CurrentScreen(props: { screen: Screen }) {
  const s = props.screen;
  switch (s.name) {
    case "accounts":
      return <AccountsScreen />;
    case "account":
      return <AccountDetailsScreen key={s.account} account={s.account} />;
    case "add":
      return <AddAccountScreen />;
    case "providers":
      return <ProvidersScreen />;
  }
}

export function App() {
  const screen = useAppState((s) => s.screen);
  const focusSeq = useAppState((s) => s.focusSeq);
  const accountsShown = useAppState((s) => s.accounts !== null || s.accountsError !== null);
  const mainRef = useRef<HTMLElement>(null);
  const actions = useActions();

  // First-paint probe for tests and tools: the accounts list (or its error) is on screen.
  useEffect(() => {
    if (accountsShown) document.body.dataset.ready = "1";
  }, [accountsShown]);

  // After a navigation, move focus to the new screen's heading so keyboard and screen-reader
  // users start there.
  useEffect(() => {
    if (!focusSeq) return;
    const h = mainRef.current?.querySelector<HTMLElement>("h1");
    if (h) h.focus({ preventScroll: false });
    mainRef.current?.scrollTo?.({ top: 0 });
  }, [focusSeq]);

  return (
    <div class="shell">
      <header class="topbar">
        <a
          class="brand"
          href="#/accounts"
          aria-label="Keyport, accounts"
          onClick={(e) => {
            e.preventDefault();
            actions.navigate({ name: "accounts" });
          }}
        >
          <AppLogo class="brand-logo" />
          <span class="brand-name">Keyport</span>
        </a>
        <MainNav screen={screen} />
        <StartAtLogin />
      </header>
      <main id="main" ref={mainRef} class="main">
        <div class="main-inner">
          <GlobalBanners />
          <CurrentScreen screen={screen} />
        </div>
      </main>
      <Toasts />
      <AccessPromptHost />
    </div>
  );
}
