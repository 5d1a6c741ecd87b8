//! `keyport-desktop`: Keyport's desktop app. See `lib.rs`.

fn main() {
    keyport_desktop::main();
}
