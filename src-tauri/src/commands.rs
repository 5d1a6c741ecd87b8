//! The Tauri commands the web UI calls (through `ui/src/backend.ts`): each is one call to the
//! service over the socket (`docs/socket.md`), so the service stays the one writer of accounts,
//! providers and rules. Arguments are snake_case, as in the generated types. Every command
//! must also be listed in `command_names.rs` (its permission).

use keyport_wire::{
    AccessForgetParams, AccessPrompt, AccountDetails, AccountParams, AccountSummary, AccountsListResult, AppError,
    AppStatus, AutostartParams, AutostartStatus, BrowserSignIn, Call, CopyResult, DeviceStart, Empty, NewProviderForm,
    PresetInfo, PresetsListResult, PromptAnswerParams, PromptChoice, PromptsListResult, ProviderEditForm,
    ProviderParams, ProviderRefreshed, ProviderSummary, ProvidersListResult, ReauthParams, RemoveResult, RevokeParams,
    RevokeResult, ServiceAccountForm, SignInForm, SigninCancelParams, SigninStartParams, SigninStartResult,
    TokenGetParams, TokenGetResult,
};
use tauri::State;

use crate::Window;

type Answer<T> = Result<T, AppError>;

#[tauri::command(rename_all = "snake_case")]
pub async fn app_status(window: State<'_, Window>) -> Answer<AppStatus> {
    window.client.call(Call::ServiceStatus).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn accounts_list(window: State<'_, Window>) -> Answer<Vec<AccountSummary>> {
    Ok(window.client.call::<AccountsListResult>(Call::AccountsList).await?.accounts)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn account_details(window: State<'_, Window>, account: String) -> Answer<AccountDetails> {
    window.client.call(Call::AccountsDetails(AccountParams { account })).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn account_refresh(window: State<'_, Window>, account: String) -> Answer<AccountSummary> {
    window.client.call(Call::TokenRefresh(AccountParams { account })).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn account_revoke(window: State<'_, Window>, account: String) -> Answer<RevokeResult> {
    window.client.call(Call::AccountsRevoke(RevokeParams { account, local: None })).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn account_remove(window: State<'_, Window>, account: String) -> Answer<AccountSummary> {
    Ok(window.client.call::<RemoveResult>(Call::AccountsRemove(AccountParams { account })).await?.account)
}

/// Puts the access token on the system clipboard; it never enters the web view.
#[tauri::command(rename_all = "snake_case")]
pub async fn account_copy_token(window: State<'_, Window>, account: String) -> Answer<CopyResult> {
    let call = Call::TokenGet(TokenGetParams { account, min_valid_secs: None, program: None });
    window.clipboard.copy(window.client.call::<TokenGetResult>(call).await?.access_token).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn program_forget(window: State<'_, Window>, program: String, account: String) -> Answer<()> {
    window
        .client
        .call::<keyport_wire::AccessForgetResult>(Call::AccessForget(AccessForgetParams { program, account }))
        .await?;
    Ok(())
}

#[tauri::command(rename_all = "snake_case")]
pub async fn signin_start(window: State<'_, Window>, form: SignInForm) -> Answer<BrowserSignIn> {
    let params = SigninStartParams {
        provider: form.provider,
        account: form.account.map(|name| name.trim().to_owned()).filter(|name| !name.is_empty()),
        scopes: Some(form.scopes),
        open_browser: Some(true),
    };
    Ok(browser_sign_in(window.client.call(Call::SigninStart(params)).await?))
}

#[tauri::command(rename_all = "snake_case")]
pub async fn reauth_start(window: State<'_, Window>, account: String, scopes: Vec<String>) -> Answer<BrowserSignIn> {
    let params = ReauthParams { account, scopes: Some(scopes), open_browser: Some(true) };
    Ok(browser_sign_in(window.client.call(Call::AccountsReauth(params)).await?))
}

fn browser_sign_in(started: SigninStartResult) -> BrowserSignIn {
    BrowserSignIn {
        signin_id: started.signin_id,
        url: started.url,
        browser_opened: started.browser_opened,
        expires_at: started.expires_at.unwrap_or_default(),
    }
}

#[tauri::command(rename_all = "snake_case")]
pub async fn signin_cancel(window: State<'_, Window>, signin_id: String) -> Answer<()> {
    window.client.call::<Empty>(Call::SigninCancel(SigninCancelParams { signin_id })).await?;
    Ok(())
}

#[tauri::command(rename_all = "snake_case")]
pub async fn device_start(window: State<'_, Window>, form: SignInForm) -> Answer<DeviceStart> {
    window.client.call(Call::SigninDevice(form)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn service_account_add(window: State<'_, Window>, form: ServiceAccountForm) -> Answer<AccountSummary> {
    window.client.call(Call::AccountsAddService(form)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn providers_list(window: State<'_, Window>) -> Answer<Vec<ProviderSummary>> {
    Ok(window.client.call::<ProvidersListResult>(Call::ProvidersList).await?.providers)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn presets_list(window: State<'_, Window>) -> Answer<Vec<PresetInfo>> {
    Ok(window.client.call::<PresetsListResult>(Call::ProvidersPresets).await?.presets)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn provider_add(window: State<'_, Window>, form: NewProviderForm) -> Answer<ProviderSummary> {
    window.client.call(Call::ProvidersAdd(form)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn provider_edit(window: State<'_, Window>, form: ProviderEditForm) -> Answer<ProviderSummary> {
    window.client.call(Call::ProvidersEdit(form)).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn provider_refresh(window: State<'_, Window>, name: String) -> Answer<ProviderRefreshed> {
    window.client.call(Call::ProvidersRefresh(ProviderParams { provider: name })).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn provider_remove(window: State<'_, Window>, name: String) -> Answer<()> {
    window.client.call::<Empty>(Call::ProvidersRemove(ProviderParams { provider: name })).await?;
    Ok(())
}

/// The questions waiting now (the same connection keeps answering them).
#[tauri::command(rename_all = "snake_case")]
pub async fn prompts_pending(window: State<'_, Window>) -> Answer<Vec<AccessPrompt>> {
    Ok(window.client.call::<PromptsListResult>(Call::PromptsSubscribe).await?.prompts)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn prompt_answer(window: State<'_, Window>, prompt_id: String, choice: PromptChoice) -> Answer<()> {
    window.client.call::<Empty>(Call::PromptsAnswer(PromptAnswerParams { prompt_id, choice })).await?;
    Ok(())
}

/// Opens a provider's page (https, or http to loopback) in the user's browser: the one local
/// action, which needs no account.
#[tauri::command(rename_all = "snake_case")]
pub fn open_url(url: String) -> Answer<()> {
    crate::browser::open(&url)
}

/// Whether Keyport's service starts at login (its XDG autostart entry).
#[tauri::command(rename_all = "snake_case")]
pub async fn autostart_get(window: State<'_, Window>) -> Answer<AutostartStatus> {
    window.client.call(Call::ServiceAutostart).await
}

#[tauri::command(rename_all = "snake_case")]
pub async fn autostart_set(window: State<'_, Window>, enabled: bool) -> Answer<AutostartStatus> {
    window.client.call(Call::ServiceSetAutostart(AutostartParams { enabled })).await
}

// `COMMANDS`: every command's name, shared with `build.rs`.
include!("command_names.rs");

/// The invoke handler with every command.
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        app_status,
        accounts_list,
        account_details,
        account_refresh,
        account_revoke,
        account_remove,
        account_copy_token,
        program_forget,
        signin_start,
        reauth_start,
        signin_cancel,
        device_start,
        service_account_add,
        providers_list,
        presets_list,
        provider_add,
        provider_edit,
        provider_refresh,
        provider_remove,
        prompts_pending,
        prompt_answer,
        open_url,
        autostart_get,
        autostart_set,
    ]
}
