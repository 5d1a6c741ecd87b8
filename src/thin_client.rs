//! `keyport`: the command users run. The thin client (`crates/keyport-thin`): `keyport token`
//! and `keyport --version` are answered here; every other command is handed to `keyport-full`.

fn main() -> std::process::ExitCode {
    keyport_thin::run()
}
