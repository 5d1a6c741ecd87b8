/// Every command's name. `build.rs` makes an `allow-<name>` permission of each;
/// `permissions/app.toml` grants them all to the main window (a test checks both lists agree).
pub const COMMANDS: [&str; 20] = [
    "app_status",
    "accounts_list",
    "account_details",
    "account_refresh",
    "account_revoke",
    "account_remove",
    "account_copy_token",
    "program_forget",
    "signin_start",
    "reauth_start",
    "signin_cancel",
    "device_start",
    "service_account_add",
    "providers_list",
    "presets_list",
    "provider_add",
    "provider_remove",
    "prompts_pending",
    "prompt_answer",
    "open_url",
];
