// The shape of the window's state: what every screen reads from the store, and its start.
import type { AppError } from "../bindings/AppError";
import type { AccountDetails } from "../bindings/AccountDetails";
import type { AccountSummary } from "../bindings/AccountSummary";
import type { AppStatus } from "../bindings/AppStatus";
import type { AutostartStatus } from "../bindings/AutostartStatus";
import type { DeviceStart } from "../bindings/DeviceStart";
import type { PresetInfo } from "../bindings/PresetInfo";
import type { ProviderSummary } from "../bindings/ProviderSummary";
import { emptyQueue, type PromptQueue } from "../promptQueue";
import type { Screen } from "../route";

export type Toast = { id: number; kind: "info" | "error"; text: string };
/** A lasting message on the accounts screen, e.g. how to finish a revocation by hand. */
export type Notice = { id: number; text: string; page: string | null };

export type SigninOrigin = { kind: "add" } | { kind: "reauth"; account: string };
export type SigninMode = "browser" | "device";
export type Signin =
  | { phase: "starting"; mode: SigninMode; origin: SigninOrigin }
  | {
      phase: "browser";
      mode: "browser";
      origin: SigninOrigin;
      id: string;
      url: string;
      browserOpened: boolean;
      /** When the backend stops waiting (ms since the epoch). */
      expiresAt: number;
    }
  | { phase: "device"; mode: "device"; origin: SigninOrigin; id: string; device: DeviceStart }
  | { phase: "failed"; mode: SigninMode; origin: SigninOrigin; message: string };

export type DetailsState = {
  account: string;
  data: AccountDetails | null;
  error: AppError | null;
  loading: boolean;
};

export type AddForm = { provider: string; account: string; scopes: string };

export type AppState = {
  screen: Screen;
  accounts: AccountSummary[] | null;
  accountsError: string | null;
  accountsLoading: boolean;
  details: DetailsState | null;
  providers: ProviderSummary[] | null;
  providersError: string | null;
  presets: PresetInfo[] | null;
  presetsError: string | null;
  status: AppStatus | null;
  /** Whether the service starts at login (null until known). */
  autostart: AutostartStatus | null;
  /** A change of it is under way. */
  autostartBusy: boolean;
  socketNoteDismissed: boolean;
  signin: Signin | null;
  prompts: PromptQueue;
  /** Every message kept, oldest first; `visibleToasts` says which show. */
  toasts: Toast[];
  notices: Notice[];
  addForm: AddForm;
  /** Bumped when focus should move to the new screen's heading. */
  focusSeq: number;
  /** Events could not be subscribed to: the view may go stale. */
  eventsError: string | null;
};

export function initialState(screen: Screen = { name: "accounts" }): AppState {
  return {
    screen,
    accounts: null,
    accountsError: null,
    accountsLoading: false,
    details: null,
    providers: null,
    providersError: null,
    presets: null,
    presetsError: null,
    status: null,
    autostart: null,
    autostartBusy: false,
    socketNoteDismissed: false,
    signin: null,
    prompts: emptyQueue,
    toasts: [],
    notices: [],
    addForm: { provider: "", account: "", scopes: "" },
    focusSeq: 0,
    eventsError: null,
  };
}

/** The account named is not (any more) in Keyport. */
export function isNotFound(e: AppError): boolean {
  return e.code === "account_not_found" || e.code === "no_such_account";
}
