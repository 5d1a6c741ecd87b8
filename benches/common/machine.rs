//! What both benchmarks print first: the machine they ran on.

use std::process::Command;

/// Prints the benchmark's name, the command that runs it, and the machine.
pub fn print_machine(bench: &str) {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines().find_map(|line| {
                line.strip_prefix("model name").map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = Command::new("uname").arg("-r").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    println!("Keyport {bench} benchmark");
    println!("command: cargo bench --bench {bench}");
    println!("machine: {cpus} CPUs ({model}), Linux {}", kernel.unwrap_or_default());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the start (1, 5, 15 min): {}", load.split(' ').take(3).collect::<Vec<_>>().join(" "));
    println!();
}
