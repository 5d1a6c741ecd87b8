// The "Start Keyport at login" switch: the service's XDG autostart entry (service.autostart).
// Hidden until the service says how it is set.
import { useActions, useAppState } from "../context";

export function StartAtLogin() {
  const autostart = useAppState((s) => s.autostart);
  const busy = useAppState((s) => s.autostartBusy);
  const actions = useActions();
  if (!autostart) return null;
  return (
    <label class="check start-at-login" title={autostart.entry ?? undefined}>
      <input
        type="checkbox"
        data-testid="start-at-login"
        checked={autostart.enabled}
        disabled={busy}
        onChange={(e) => void actions.setAutostart(e.currentTarget.checked)}
      />
      <span>Start Keyport at login</span>
    </label>
  );
}
