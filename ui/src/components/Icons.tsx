// Small inline SVG icons. Decorative ones are aria-hidden; the element that holds them carries
// the words (visible text or aria-label).
import type { ComponentChildren } from "preact";

import { providerKindKey } from "../format";

type IconProps = { class?: string };

function Svg(props: { class?: string; viewBox?: string; children: ComponentChildren }) {
  return (
    <svg
      class={`icon ${props.class ?? ""}`}
      viewBox={props.viewBox ?? "0 0 24 24"}
      aria-hidden="true"
      focusable="false"
    >
      {props.children}
    </svg>
  );
}

export function GoogleIcon(p: IconProps) {
  return (
    <Svg class={p.class} viewBox="0 0 48 48">
      <path fill="#EA4335" d="M24 9.5c3.5 0 6.6 1.2 9.1 3.6l6.8-6.8C35.8 2.4 30.3 0 24 0 14.6 0 6.6 5.4 2.7 13.3l7.9 6.1C12.5 13.6 17.8 9.5 24 9.5z" />
      <path fill="#4285F4" d="M46.1 24.5c0-1.6-.1-3.1-.4-4.5H24v9h12.4c-.5 2.9-2.2 5.3-4.6 6.9l7.4 5.8c4.3-4 6.9-9.9 6.9-17.2z" />
      <path fill="#FBBC05" d="M10.5 28.6c-.5-1.4-.8-3-.8-4.6s.3-3.2.8-4.6l-7.9-6.1C1 16.6 0 20.2 0 24s1 7.4 2.7 10.7l7.8-6.1z" />
      <path fill="#34A853" d="M24 48c6.5 0 11.9-2.1 15.9-5.8l-7.4-5.8c-2.1 1.4-4.8 2.3-8.5 2.3-6.2 0-11.5-4.2-13.4-9.9l-7.9 6.1C6.6 42.6 14.6 48 24 48z" />
    </Svg>
  );
}

export function MicrosoftIcon(p: IconProps) {
  return (
    <Svg class={p.class} viewBox="0 0 24 24">
      <rect x="1" y="1" width="10.5" height="10.5" fill="#F25022" />
      <rect x="12.5" y="1" width="10.5" height="10.5" fill="#7FBA00" />
      <rect x="1" y="12.5" width="10.5" height="10.5" fill="#00A4EF" />
      <rect x="12.5" y="12.5" width="10.5" height="10.5" fill="#FFB900" />
    </Svg>
  );
}

export function GitHubIcon(p: IconProps) {
  return (
    <Svg class={`mono ${p.class ?? ""}`} viewBox="0 0 16 16">
      <path
        fill="currentColor"
        d="M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17.55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23-.48-.94-.82-1.13-.28-.15-.68-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28-.87.51-1.07-1.78-.2-3.64-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64-.18 1.32-.27 2-.27.68 0 1.36.09 2 .27 1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51.56.82 1.27.82 2.15 0 3.07-1.87 3.75-3.65 3.95.29.25.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 0 .21.15.46.55.38A8.01 8.01 0 0 0 16 8c0-4.42-3.58-8-8-8z"
      />
    </Svg>
  );
}

export function GitLabIcon(p: IconProps) {
  return (
    <Svg class={p.class} viewBox="0 0 24 24">
      <path fill="#E24329" d="M12 22.5 16.4 9H7.6z" />
      <path fill="#FC6D26" d="M12 22.5 7.6 9H1.5z" />
      <path fill="#FCA326" d="M1.5 9 .2 13a.9.9 0 0 0 .3 1L12 22.5z" />
      <path fill="#E24329" d="M1.5 9h6.1L5 1.1a.4.4 0 0 0-.8 0z" />
      <path fill="#FC6D26" d="M12 22.5 16.4 9h6.1z" />
      <path fill="#FCA326" d="m22.5 9 1.3 4a.9.9 0 0 1-.3 1L12 22.5z" />
      <path fill="#E24329" d="M22.5 9h-6.1L19 1.1a.4.4 0 0 1 .8 0z" />
    </Svg>
  );
}

/** A key: any provider that is not one of the presets. */
export function GenericProviderIcon(p: IconProps) {
  return (
    <Svg class={`mono ${p.class ?? ""}`}>
      <circle cx="8" cy="15" r="4.5" fill="none" stroke="currentColor" stroke-width="2" />
      <path d="m11.2 11.8 8.3-8.3M16 7l2.5 2.5M18.5 4.5 21 7" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
    </Svg>
  );
}

export function ProviderIcon(props: { kind: string | null | undefined; class?: string }) {
  const cls = `provider-icon ${props.class ?? ""}`;
  switch (providerKindKey(props.kind)) {
    case "google":
      return <GoogleIcon class={cls} />;
    case "microsoft":
      return <MicrosoftIcon class={cls} />;
    case "github":
      return <GitHubIcon class={cls} />;
    case "gitlab":
      return <GitLabIcon class={cls} />;
    default:
      return <GenericProviderIcon class={cls} />;
  }
}

export function CloseIcon(p: IconProps) {
  return (
    <Svg class={p.class}>
      <path d="M6 6l12 12M18 6 6 18" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
    </Svg>
  );
}

export function CopyIcon(p: IconProps) {
  return (
    <Svg class={p.class}>
      <rect x="8" y="8" width="12" height="12" rx="2" fill="none" stroke="currentColor" stroke-width="2" />
      <path d="M16 8V6a2 2 0 0 0-2-2H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h2" fill="none" stroke="currentColor" stroke-width="2" />
    </Svg>
  );
}

export function RefreshIcon(p: IconProps) {
  return (
    <Svg class={p.class}>
      <path d="M20 12a8 8 0 1 1-2.34-5.66M20 4v5h-5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" />
    </Svg>
  );
}

export function KeyIcon(p: IconProps) {
  return (
    <Svg class={p.class}>
      <circle cx="8" cy="15" r="3.5" fill="none" stroke="currentColor" stroke-width="2" />
      <path d="m10.5 12.5 8-8M15.5 7.5l2 2" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
    </Svg>
  );
}

export function InfoIcon(p: IconProps) {
  return (
    <Svg class={p.class}>
      <circle cx="12" cy="12" r="9" fill="none" stroke="currentColor" stroke-width="2" />
      <path d="M12 11v6M12 7.5v.5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
    </Svg>
  );
}

export function WarningIcon(p: IconProps) {
  return (
    <Svg class={p.class}>
      <path d="M12 3 2 20h20z" fill="none" stroke="currentColor" stroke-width="2" stroke-linejoin="round" />
      <path d="M12 10v4M12 17v.5" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
    </Svg>
  );
}

export function AppLogo(p: IconProps) {
  return (
    <Svg class={p.class} viewBox="0 0 32 32">
      <rect width="32" height="32" rx="8" fill="currentColor" />
      <circle cx="12" cy="19" r="4.5" fill="none" stroke="#fff" stroke-width="2.5" />
      <path d="m15.2 15.8 8.3-8.3M20 11l2.5 2.5" fill="none" stroke="#fff" stroke-width="2.5" stroke-linecap="round" />
    </Svg>
  );
}
