//! The thin client (`crates/keyport-thin`, which has no dependencies) against the definitions
//! it repeats: the wire format's error numbers, socket path and request, clap's version line
//! and command line, and the exit codes.

use clap::{CommandFactory, Parser};
use keyport_wire::{Call, ErrorCode, Request};

use crate::{Cli, Command};

#[test]
fn the_thin_clients_error_numbers_are_the_wires() {
    use keyport_thin::codes;
    for (number, code) in [
        (codes::NO_SUCH_ACCOUNT, ErrorCode::NoSuchAccount),
        (codes::NEEDS_SIGN_IN, ErrorCode::NeedsSignIn),
        (codes::ACCESS_DENIED, ErrorCode::AccessDenied),
        (codes::PROVIDER_UNREACHABLE, ErrorCode::ProviderUnreachable),
        (codes::SIGNIN_CANCELLED, ErrorCode::SigninCancelled),
        (codes::BUSY, ErrorCode::Busy),
        (codes::CANNOT_REVOKE, ErrorCode::CannotRevoke),
    ] {
        assert_eq!(number, code.code(), "{code}");
    }
    let exits: Vec<(ErrorCode, u8)> =
        ErrorCode::ALL.iter().map(|code| (*code, keyport_thin::exit_code(code.code()))).collect();
    for (code, exit) in exits {
        let expected = match code {
            ErrorCode::NeedsSignIn => 3,
            ErrorCode::AccessDenied => 4,
            ErrorCode::ProviderUnreachable => 5,
            ErrorCode::NoSuchAccount => 6,
            ErrorCode::CannotRevoke => 7,
            ErrorCode::SigninCancelled => 130,
            _ => 1,
        };
        assert_eq!(exit, expected, "{code}");
    }
    assert_eq!(keyport_thin::exit_code(-1), 1, "a code this version does not know");
}

#[test]
fn the_thin_clients_request_is_a_token_get() {
    for account in ["work", "a@b.example", "quote\"back\\slash", "new\nline\u{1}", "ünï 😀"] {
        for min_valid in [0, 60, u64::MAX] {
            let line = keyport_thin::token::request(account, min_valid);
            assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'), "{line:?}");
            let request = Request::parse(line.trim_end().as_bytes()).expect("a valid request");
            let Ok(Call::TokenGet(params)) = Call::from_request(&request) else { panic!("not token.get: {line}") };
            assert_eq!(params.account, account);
            assert_eq!(params.min_valid_secs, Some(min_valid));
            assert_eq!(request.id, keyport_wire::Id::Number(1));
        }
    }
    assert_eq!(keyport_thin::token::MAX_REQUEST_BYTES, keyport_wire::frame::MAX_REQUEST_BYTES);
    assert_eq!(keyport_thin::token::MAX_ANSWER_BYTES, keyport_wire::frame::MAX_ANSWER_BYTES);
}

#[test]
fn the_thin_client_reads_the_wires_answers() {
    use keyport_thin::token::{Answer, Line, read_line};
    use keyport_wire::{AccessToken, ErrorObject, Id, Response, TokenGetResult};
    let result = TokenGetResult {
        access_token: AccessToken::new("tok\"en\u{e9}"),
        token_type: "Bearer".into(),
        expires_at: Some("2026-01-01T00:00:00Z".into()),
        expires_in_secs: Some(5),
        scopes: vec!["a".into()],
    };
    let success = Response { id: Some(Id::Number(1)), outcome: Ok(serde_json::to_value(&result).unwrap()) };
    let line = String::from_utf8(keyport_wire::frame::encode_answer(&success).unwrap()).unwrap();
    assert_eq!(read_line(&line), Line::Answer(Answer::Token("tok\"en\u{e9}".into())));
    let refusal = Response::error(Some(Id::Number(1)), ErrorObject::access_denied("/usr/bin/x", "work"));
    let line = String::from_utf8(keyport_wire::frame::encode_answer(&refusal).unwrap()).unwrap();
    let Line::Answer(Answer::Refused { code, message }) = read_line(&line) else { panic!("{line}") };
    assert_eq!(code, ErrorCode::AccessDenied.code());
    assert_eq!(message, ErrorObject::access_denied("/usr/bin/x", "work").message);
}

#[test]
fn the_thin_clients_socket_is_the_wires() {
    // Both read XDG_RUNTIME_DIR of this process, whatever it is (or neither finds one).
    assert_eq!(keyport_thin::token::socket_path(), keyport_wire::default_socket_path());
}

#[test]
fn the_thin_client_knows_where_sockets_are_forwarded_as_the_wire_says() {
    use keyport_thin::token as thin;
    use keyport_wire::path as wire;
    assert_eq!(thin::SOCKET_ENV, wire::SOCKET_ENV);
    assert_eq!(
        (thin::FORWARD_DIR, thin::FORWARD_PREFIX, thin::FORWARD_SUFFIX, thin::FORWARD_SCAN_LIMIT),
        (wire::FORWARD_DIR, wire::FORWARD_PREFIX, wire::FORWARD_SUFFIX, wire::FORWARD_SCAN_LIMIT)
    );
}

#[test]
fn the_thin_client_says_the_same_version_and_reads_token_lines_as_clap() {
    assert_eq!(keyport_thin::VERSION_LINE, Cli::command().render_version());
    for line in ["token work", "token work --min-valid 300", "token --min-valid=0 work", "token a@b --min-valid 7"] {
        let args: Vec<std::ffi::OsString> = line.split(' ').map(Into::into).collect();
        let keyport_thin::args::Quick::Token { account, min_valid } = keyport_thin::args::Quick::parse(&args) else {
            panic!("{line}: not answered by the thin client");
        };
        let cli = Cli::try_parse_from(std::iter::once("keyport".into()).chain(args)).expect(line);
        let Command::Token { account: clap_account, min_valid: clap_min_valid } = cli.command else { panic!("{line}") };
        assert_eq!((account, min_valid), (clap_account, clap_min_valid), "{line}");
        assert_eq!(cli.verbose, 0);
    }
}

#[test]
fn the_service_knows_the_layouts_in_which_the_thin_client_finds_the_full_cli() {
    let root = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(root.path()).unwrap();
    let executable = |path: &std::path::Path| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
        path.to_owned()
    };
    // A package: /usr/bin/keyport and /usr/lib/keyport/keyport-full (and the desktop app).
    let thin = executable(&root.join("usr/bin/keyport"));
    let full = executable(&root.join("usr/lib/keyport/keyport-full"));
    let desktop = executable(&root.join("usr/bin/keyport-desktop"));
    // Beside each other: cargo install, a checkout's target/release.
    let thin_beside = executable(&root.join("cargo/bin/keyport"));
    let full_beside = executable(&root.join("cargo/bin/keyport-full"));
    for (thin, full) in [(&thin, &full), (&thin_beside, &full_beside)] {
        let found = keyport_thin::full::candidates(thin).into_iter().find(|path| path.is_file()).unwrap();
        assert_eq!(std::fs::canonicalize(found).unwrap(), *full);
        for service in [thin, full] {
            let mut near = keyport_service::cli_executables_near(service);
            near.sort();
            let mut both = vec![thin.clone(), full.clone()];
            both.sort();
            assert_eq!(near, both, "the CLI executables near {}", service.display());
        }
    }
    let mut near_desktop = keyport_service::cli_executables_near(&desktop);
    near_desktop.sort();
    assert_eq!(near_desktop, [thin, full]);
}
