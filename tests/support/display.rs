//! A private X server (`Xvfb`) for tests and benchmarks that open real windows.
//!
//! The display number is chosen by Xvfb itself (`-displayfd`), so parallel tests never collide,
//! and the server is killed when the [`Xvfb`] is dropped. With [`Xvfb::start_with_framebuffer`],
//! the screen's pixels are also readable from a file (`-fbdir`, XWD format) without any round
//! trip to the server: see [`Framebuffer`].

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The screen every window test uses.
pub const SCREEN: &str = "1280x800x24";

/// A running Xvfb. Killed on drop.
#[derive(Debug)]
pub struct Xvfb {
    child: Child,
    /// `:N`, for `DISPLAY`.
    pub display: String,
    fbdir: Option<tempfile::TempDir>,
}

impl Xvfb {
    /// Starts Xvfb on a free display with a [`SCREEN`]-sized screen and a black root window.
    pub fn start() -> Self {
        Self::spawn(None)
    }

    /// Like [`Xvfb::start`], and the screen is also kept in a file (see [`Xvfb::framebuffer`]).
    pub fn start_with_framebuffer() -> Self {
        let dir = tempfile::Builder::new().prefix("keyport-xvfb-").tempdir().expect("a temporary directory");
        Self::spawn(Some(dir))
    }

    fn spawn(fbdir: Option<tempfile::TempDir>) -> Self {
        let Some(_) = find_in_path("Xvfb") else {
            panic!("`Xvfb` (Debian package xvfb) is not installed; run `tests/setup`")
        };
        let log = tempfile::NamedTempFile::new().expect("a log file");
        let mut command = Command::new("Xvfb");
        // -displayfd 1: Xvfb picks a free display and writes its number to our stdout pipe.
        command.args(["-displayfd", "1", "-screen", "0", SCREEN, "-nolisten", "tcp", "-br", "-noreset"]);
        if let Some(dir) = &fbdir {
            command.arg("-fbdir").arg(dir.path());
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.reopen().expect("the log file"))
            .spawn()
            .expect("starting Xvfb");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.trim().parse::<u32>().is_ok() => {
                Self { child, display: format!(":{}", line.trim()), fbdir }
            }
            other => {
                let _ = child.kill();
                let _ = child.wait();
                let mut stderr = String::new();
                let _ = std::fs::File::open(log.path()).and_then(|mut f| f.read_to_string(&mut stderr));
                panic!("Xvfb did not start ({other:?}): {stderr}");
            }
        }
    }

    /// The screen's pixels (only with [`Xvfb::start_with_framebuffer`]).
    pub fn framebuffer(&self) -> Framebuffer {
        let dir = self.fbdir.as_ref().expect("Xvfb started with start_with_framebuffer");
        Framebuffer::open(&dir.path().join("Xvfb_screen0"))
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Xvfb's screen file (`-fbdir`): an XWD header, then the pixels, which Xvfb draws into
/// directly (the file is its framebuffer, memory-mapped).
#[derive(Debug)]
pub struct Framebuffer {
    file: std::fs::File,
    pub width: usize,
    pub height: usize,
    bytes_per_line: usize,
    bytes_per_pixel: usize,
    offset: u64,
    buffer: Vec<u8>,
}

impl Framebuffer {
    fn open(path: &Path) -> Self {
        let mut file = std::fs::File::open(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let mut header = [0u8; 100];
        file.read_exact(&mut header).expect("the XWD header");
        let field = |i: usize| u32::from_be_bytes(header[i * 4..i * 4 + 4].try_into().unwrap()) as usize;
        let (header_size, version, width, height) = (field(0), field(1), field(4), field(5));
        let (bits_per_pixel, bytes_per_line, ncolors) = (field(11), field(12), field(19));
        assert_eq!(version, 7, "{}: not an XWD version 7 file", path.display());
        assert!(bits_per_pixel == 32 || bits_per_pixel == 24, "unexpected {bits_per_pixel} bits per pixel");
        Self {
            file,
            width,
            height,
            bytes_per_line,
            bytes_per_pixel: bits_per_pixel / 8,
            // Each colormap entry (XWDColor) is 12 bytes.
            offset: (header_size + ncolors * 12) as u64,
            buffer: vec![0; bytes_per_line * height],
        }
    }

    /// The screen now, in grey levels (0-255), every second pixel of every second line: fine
    /// enough to see text, small enough to keep many screens. `width() / 2` by `height() / 2`.
    pub fn samples(&mut self) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        self.file.read_exact_at(&mut self.buffer, self.offset).expect("reading the framebuffer");
        let mut out = Vec::with_capacity((self.width / 2) * (self.height / 2));
        for y in (0..self.height - self.height % 2).step_by(2) {
            let row = &self.buffer[y * self.bytes_per_line..];
            for x in (0..self.width - self.width % 2).step_by(2) {
                let p = &row[x * self.bytes_per_pixel..x * self.bytes_per_pixel + 3];
                out.push(((u16::from(p[0]) + u16::from(p[1]) * 2 + u16::from(p[2])) / 4) as u8);
            }
        }
        out
    }
}

/// `tool` on `PATH`, if there.
pub fn find_in_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(tool)).find(|candidate| candidate.is_file())
}
