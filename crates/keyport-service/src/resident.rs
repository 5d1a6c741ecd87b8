//! Gives back the pages of the service's own executable that it no longer uses.
//!
//! The service is the one long-lived process and mostly waits. Starting up and answering
//! requests maps much of its executable's code into its resident set (the kernel maps file
//! pages up to 64 KiB around each fault), and those pages stay there although an idle service
//! runs almost none of that code. After [`IDLE_BEFORE_RELEASE`] without a request on the
//! socket, [`release_code_pages`] tells the kernel that the process no longer needs its
//! read-only mappings of its executable (`madvise(MADV_DONTNEED)`): the pages stay in the page
//! cache (shared, reclaimable), and the next use of the code maps them again (minor faults; a
//! disk read only if the system reclaimed them meanwhile).
//!
//! Only mappings that are of the executable file, private, not writable, and hold no page of
//! their own are released: `Anonymous: 0 kB` in `/proc/self/smaps` means no page of the
//! mapping was ever copied on write (as the relocated, then write-protected, RELRO data was),
//! so every page mapped again from the file holds the same bytes as before. Code, read-only
//! data and the symbol tables qualify; data never does.

use std::time::Duration;

/// How long the socket must be quiet before the code pages are given back.
pub const IDLE_BEFORE_RELEASE: Duration = Duration::from_secs(10);

/// How often the service looks whether it has been quiet that long.
pub const IDLE_CHECK: Duration = Duration::from_secs(2);

/// A mapping of `/proc/self/smaps` that may be released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Releasable {
    start: usize,
    end: usize,
}

/// Releases the executable's read-only, never-written mappings; returns how many bytes of
/// address space were released (not all of it was resident).
#[cfg(target_os = "linux")]
pub fn release_code_pages() -> std::io::Result<usize> {
    let exe = std::fs::read_link("/proc/self/exe")?;
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut released = 0;
    for mapping in releasable(&smaps, &exe.to_string_lossy()) {
        let len = mapping.end - mapping.start;
        // SAFETY: `mapping` is a private, read-only mapping of our executable file in which no
        // page was ever copied on write (checked from smaps just now; nothing in this process
        // makes such a mapping writable). Dropping its pages makes the next access map the
        // same file page again, with the same bytes, so no reference into it (code, constants)
        // is invalidated. A mapping that changed since smaps was read makes madvise fail or
        // act on pages with the same property.
        #[allow(unsafe_code)]
        let outcome = unsafe {
            rustix::mm::madvise(mapping.start as *mut std::ffi::c_void, len, rustix::mm::Advice::LinuxDontNeed)
        };
        if outcome.is_ok() {
            released += len;
        }
    }
    Ok(released)
}

/// [`release_code_pages`] for systems without `/proc/self/smaps` and `MADV_DONTNEED`'s
/// meaning for file pages: nothing is released.
#[cfg(not(target_os = "linux"))]
pub fn release_code_pages() -> std::io::Result<usize> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "code pages are released on Linux only"))
}

/// The mappings of `exe` in `smaps` that [`release_code_pages`] may release.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn releasable(smaps: &str, exe: &str) -> Vec<Releasable> {
    let mut found = Vec::new();
    let mut current: Option<Releasable> = None;
    let mut finish = |current: &mut Option<Releasable>, anonymous_kib: Option<u64>| {
        if let (Some(mapping), Some(0)) = (current.take(), anonymous_kib) {
            found.push(mapping);
        }
    };
    let mut anonymous_kib = None;
    for line in smaps.lines() {
        if let Some(header) = mapping_header(line) {
            finish(&mut current, anonymous_kib);
            anonymous_kib = None;
            let (range, perms, path) = header;
            let (start, end) = range;
            // `r-xp` (code) or `r--p` (read-only data): private, never writable.
            let read_only_private =
                perms.len() == 4 && perms.starts_with('r') && &perms[1..2] == "-" && perms.ends_with('p');
            current = (read_only_private && path == exe && end > start).then_some(Releasable { start, end });
        } else if let Some(value) = line.strip_prefix("Anonymous:") {
            anonymous_kib = value.trim().trim_end_matches("kB").trim().parse().ok();
        }
    }
    finish(&mut current, anonymous_kib);
    found
}

/// `55d0c8a00000-55d0c8e00000 r-xp 00001000 fd:01 1234   /usr/bin/keyport`: the range, the
/// permissions and the path (the rest of the line after five fields).
fn mapping_header(line: &str) -> Option<((usize, usize), &str, &str)> {
    let mut fields = line.splitn(6, ' ');
    let range = fields.next()?;
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    let _offset = fields.next()?;
    let _device = fields.next()?;
    let _inode = fields.next()?;
    let path = fields.next().unwrap_or("").trim_start();
    Some(((start, end), perms, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c8000000-55d0c8400000 r--p 00000000 fd:01 1234                       /usr/bin/keyport
Size:               4096 kB
Rss:                1300 kB
Anonymous:             0 kB
VmFlags: rd mr mw me
55d0c8400000-55d0c8c00000 r-xp 00400000 fd:01 1234                       /usr/bin/keyport
Size:               8192 kB
Anonymous:             0 kB
55d0c8c00000-55d0c8c60000 r--p 00c00000 fd:01 1234                       /usr/bin/keyport
Anonymous:           384 kB
55d0c8c60000-55d0c8c70000 rw-p 00c60000 fd:01 1234                       /usr/bin/keyport
Anonymous:            16 kB
7f0000000000-7f0000100000 r-xp 00000000 fd:01 99                         /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0 
Anonymous:          1024 kB
55d0c9000000-55d0c9001000 r--p 00000000 fd:01 1235                       /usr/bin/keyport-other
Anonymous:             0 kB
";

    #[test]
    fn only_never_written_read_only_mappings_of_the_executable_are_released() {
        let found = releasable(SMAPS, "/usr/bin/keyport");
        assert_eq!(
            found,
            [
                Releasable { start: 0x55d0c8000000, end: 0x55d0c8400000 },
                Releasable { start: 0x55d0c8400000, end: 0x55d0c8c00000 }
            ]
        );
        assert!(releasable(SMAPS, "/usr/bin/missing").is_empty());
        assert!(releasable("garbage\nAnonymous: 0 kB\n", "/usr/bin/keyport").is_empty());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn releasing_our_own_code_keeps_it_running() {
        let resident = || {
            std::fs::read_to_string("/proc/self/status")
                .unwrap()
                .lines()
                .find_map(|l| {
                    l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap())
                })
                .unwrap()
        };
        let before = resident();
        let released = release_code_pages().unwrap();
        assert!(released > 0, "this test binary's code is mapped read-only");
        let after = resident();
        // The code runs on (this very function, the allocator, formatting), mapped again.
        assert_eq!(format!("{}", 6 * 7), "42");
        assert!(after <= before, "{after} kB resident after releasing, {before} kB before");
    }
}
