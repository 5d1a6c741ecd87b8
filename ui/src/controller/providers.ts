// Providers and the built-in presets: loading them, and adding, editing, refreshing and
// removing a provider.
import type { NewProviderForm } from "../bindings/NewProviderForm";
import type { ProviderEditForm } from "../bindings/ProviderEditForm";
import type { ProviderRefreshed } from "../bindings/ProviderRefreshed";
import type { ProviderSummary } from "../bindings/ProviderSummary";
import { errorText } from "../errors";
import { coalesce, type Core } from "./core";

export type Providers = ReturnType<typeof createProviders>;

export function createProviders(core: Core, deps: { toast: (text: string) => void }) {
  const { api, get, set } = core;
  const { toast } = deps;

  const reloadProviders = coalesce(async () => {
    try {
      const providers = await api.providersList();
      set({ providers, providersError: null });
    } catch (e) {
      set({ providersError: errorText(e) });
    }
  });

  const reloadPresets = coalesce(async () => {
    try {
      const presets = await api.presetsList();
      set({ presets, presetsError: null });
    } catch (e) {
      set({ presetsError: errorText(e) });
    }
  });

  async function addProvider(form: NewProviderForm): Promise<ProviderSummary> {
    const p = await api.providerAdd(form);
    toast(`Added the provider ${p.name}.`);
    await reloadProviders();
    return p;
  }

  async function editProvider(form: ProviderEditForm): Promise<ProviderSummary> {
    const p = await api.providerEdit(form);
    const secret =
      form.client_secret.action === "replace"
        ? " The new client secret is in the keyring."
        : form.client_secret.action === "delete"
          ? " Its client secret was deleted from the keyring."
          : "";
    toast(`Saved the provider ${p.name}; its accounts are unchanged.${secret}`);
    await reloadProviders();
    return p;
  }

  /** Reads a discovered provider's metadata again; says what changed, or that nothing did. */
  async function refreshProvider(name: string): Promise<ProviderRefreshed> {
    const r = await api.providerRefresh(name);
    toast(
      r.changes.length
        ? `Read the metadata of ${name} again: ${r.changes.length === 1 ? "1 endpoint" : `${r.changes.length} endpoints`} changed.`
        : `Read the metadata of ${name} again: nothing changed.`,
    );
    await reloadProviders();
    return r;
  }

  async function removeProvider(name: string) {
    const hadSecret = get().providers?.find((p) => p.name === name)?.has_client_secret ?? false;
    await api.providerRemove(name);
    toast(hadSecret ? `Removed the provider ${name} and its client secret.` : `Removed the provider ${name}.`);
    await reloadProviders();
  }

  return { reloadProviders, reloadPresets, addProvider, editProvider, refreshProvider, removeProvider };
}
