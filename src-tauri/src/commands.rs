//! The Tauri commands the web UI calls (through `ui/src/backend.ts`): each is one call into
//! the service (`keyport_service::app`). Arguments are snake_case, as in the generated types.
//! Every command must also be listed in `build.rs` and `permissions/app.toml`.

use keyport_service::app::{
    AccountDetails, AppError, AppStatus, BrowserSignIn, CopyResult, DeviceStart, NewProviderForm, PresetInfo,
    ProviderEditForm, ProviderRefreshed, ServiceAccountForm, SignInForm,
};
use keyport_service::prompts::{AccessPrompt, PromptChoice};
use keyport_wire::{AccountSummary, ProviderSummary, RevokeResult};
use tauri::State;

use crate::Desktop;

type Answer<T> = Result<T, AppError>;

#[tauri::command(rename_all = "snake_case")]
pub fn app_status(desktop: State<'_, Desktop>) -> AppStatus {
    desktop.status()
}

#[tauri::command(rename_all = "snake_case")]
pub async fn accounts_list(desktop: State<'_, Desktop>) -> Answer<Vec<AccountSummary>> {
    Ok(desktop.service.app_accounts().await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn account_details(desktop: State<'_, Desktop>, account: String) -> Answer<AccountDetails> {
    Ok(desktop.service.app_account_details(&account).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn account_refresh(desktop: State<'_, Desktop>, account: String) -> Answer<AccountSummary> {
    Ok(desktop.service.app_refresh(&account).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn account_revoke(desktop: State<'_, Desktop>, account: String) -> Answer<RevokeResult> {
    Ok(desktop.service.app_revoke(&account).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn account_remove(desktop: State<'_, Desktop>, account: String) -> Answer<AccountSummary> {
    Ok(desktop.service.app_remove(&account).await?)
}

/// Puts the access token on the system clipboard; it never enters the web view.
#[tauri::command(rename_all = "snake_case")]
pub async fn account_copy_token(desktop: State<'_, Desktop>, account: String) -> Answer<CopyResult> {
    desktop.copy_token(&account).await
}

#[tauri::command(rename_all = "snake_case")]
pub fn program_forget(desktop: State<'_, Desktop>, program: String, account: String) -> Answer<()> {
    Ok(desktop.service.app_forget_program(&program, &account)?)
}

// Async, like every command that starts background work: async commands run on the tokio
// runtime, plain ones on the main thread, which has none.
#[tauri::command(rename_all = "snake_case")]
pub async fn signin_start(desktop: State<'_, Desktop>, form: SignInForm) -> Answer<BrowserSignIn> {
    Ok(desktop.service.app_sign_in(form).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn reauth_start(desktop: State<'_, Desktop>, account: String, scopes: Vec<String>) -> Answer<BrowserSignIn> {
    Ok(desktop.service.app_reauth(&account, &scopes).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub fn signin_cancel(desktop: State<'_, Desktop>, signin_id: String) -> Answer<()> {
    Ok(desktop.service.app_cancel_sign_in(&signin_id)?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn device_start(desktop: State<'_, Desktop>, form: SignInForm) -> Answer<DeviceStart> {
    Ok(desktop.service.app_device_sign_in(form, |_| {}).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn service_account_add(desktop: State<'_, Desktop>, form: ServiceAccountForm) -> Answer<AccountSummary> {
    Ok(desktop.service.app_add_service_account(form).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub fn providers_list(desktop: State<'_, Desktop>) -> Answer<Vec<ProviderSummary>> {
    Ok(desktop.service.app_providers()?)
}

#[tauri::command(rename_all = "snake_case")]
pub fn presets_list() -> Vec<PresetInfo> {
    keyport_service::app::presets()
}

#[tauri::command(rename_all = "snake_case")]
pub async fn provider_add(desktop: State<'_, Desktop>, form: NewProviderForm) -> Answer<ProviderSummary> {
    Ok(desktop.service.app_add_provider(form).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn provider_edit(desktop: State<'_, Desktop>, form: ProviderEditForm) -> Answer<ProviderSummary> {
    Ok(desktop.service.app_edit_provider(form).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn provider_refresh(desktop: State<'_, Desktop>, name: String) -> Answer<ProviderRefreshed> {
    Ok(desktop.service.app_refresh_provider(&name).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub async fn provider_remove(desktop: State<'_, Desktop>, name: String) -> Answer<()> {
    Ok(desktop.service.app_remove_provider(&name).await?)
}

#[tauri::command(rename_all = "snake_case")]
pub fn prompts_pending(desktop: State<'_, Desktop>) -> Vec<AccessPrompt> {
    desktop.prompts.pending()
}

#[tauri::command(rename_all = "snake_case")]
pub fn prompt_answer(desktop: State<'_, Desktop>, prompt_id: String, choice: PromptChoice) -> Answer<()> {
    Ok(desktop.service.app_answer_prompt(&desktop.prompts, &prompt_id, choice)?)
}

#[tauri::command(rename_all = "snake_case")]
pub fn open_url(desktop: State<'_, Desktop>, url: String) -> Answer<()> {
    Ok(desktop.service.app_open_url(&url)?)
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
    ]
}
