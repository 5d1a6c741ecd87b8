//! Generates the Tauri context and one `allow-<command>` permission per app command, so the
//! capability in `capabilities/main.json` grants exactly these and nothing else.

include!("src/command_names.rs");

fn main() {
    println!("cargo:rerun-if-changed=src/command_names.rs");
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(&COMMANDS)),
    )
    .expect("tauri build script");
}
