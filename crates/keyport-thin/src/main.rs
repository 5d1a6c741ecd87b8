//! `keyport-thin`: the thin client, built apart (statically linked) for the packages, which
//! install it as `keyport`. See the crate's documentation.

fn main() -> std::process::ExitCode {
    keyport_thin::run()
}
