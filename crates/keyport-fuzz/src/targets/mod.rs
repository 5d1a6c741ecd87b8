//! The fuzz targets, one per parser of outside bytes, each a plain `fn(&[u8]) -> String` that
//! returns a label of the outcome and panics when one of the parser's promises breaks (no
//! panic of its own, no secret in an error, numbers inside their documented bounds, round
//! trips that hold). Their seeds are in `crates/keyport-fuzz/corpus/NAME/`.

mod device;
mod discovery;
mod id_token;
mod keyring;
mod numbers;
mod peer;
mod redirect;
mod thin;
mod token;
mod wire;

use crate::engine::Target;

/// Every target, in the order CI runs them.
pub const ALL: &[Target] = &[
    Target { name: "redirect_head", run: redirect::head, dictionary: redirect::HEAD_DICTIONARY, max_len: 4096 },
    Target { name: "redirect_judge", run: redirect::judge, dictionary: redirect::DICTIONARY, max_len: 2048 },
    Target { name: "wire_frames", run: wire::frames, dictionary: wire::DICTIONARY, max_len: 4096 },
    Target { name: "wire_jsonrpc", run: wire::jsonrpc, dictionary: wire::DICTIONARY, max_len: 4096 },
    Target { name: "discovery", run: discovery::document, dictionary: discovery::DICTIONARY, max_len: 4096 },
    Target { name: "token_response", run: token::exchange, dictionary: token::DICTIONARY, max_len: 4096 },
    Target { name: "device_flow", run: device::flow, dictionary: device::DICTIONARY, max_len: 4096 },
    Target { name: "id_token", run: id_token::claims, dictionary: id_token::DICTIONARY, max_len: 4096 },
    Target {
        name: "retry_after",
        run: numbers::retry_after,
        dictionary: numbers::RETRY_AFTER_DICTIONARY,
        max_len: 256,
    },
    Target { name: "expiry_arithmetic", run: numbers::expiry, dictionary: &[], max_len: 64 },
    Target { name: "thin_answer", run: thin::answer, dictionary: thin::DICTIONARY, max_len: 2048 },
    Target { name: "proc_files", run: peer::proc_files, dictionary: peer::PROC_DICTIONARY, max_len: 1024 },
    Target { name: "desktop_entry", run: peer::desktop_entry, dictionary: peer::ENTRY_DICTIONARY, max_len: 2048 },
    Target { name: "keyring_entry", run: keyring::entry, dictionary: keyring::DICTIONARY, max_len: 4096 },
    Target { name: "remote_claim", run: peer::remote_claim, dictionary: peer::CLAIM_DICTIONARY, max_len: 512 },
];

/// The target named `name`.
pub fn by_name(name: &str) -> Option<&'static Target> {
    ALL.iter().find(|target| target.name == name)
}
