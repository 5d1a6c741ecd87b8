//! Log lines that outsiders cause, bounded: at most a number of lines per period, then one line
//! saying how many were left out. Whatever another program does to the socket, the service's
//! log grows by a bounded amount.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A budget of warning lines per period; see the module docs.
#[derive(Debug)]
pub(crate) struct LogBudget {
    what: &'static str,
    lines: u32,
    period: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    since: Instant,
    written: u32,
    suppressed: u64,
}

impl LogBudget {
    /// At most `lines` warnings about `what` per `period`.
    pub fn new(what: &'static str, lines: u32, period: Duration) -> Self {
        Self { what, lines, period, state: Mutex::new(State { since: Instant::now(), written: 0, suppressed: 0 }) }
    }

    /// Logs `message` as a warning if the budget allows; returns whether it did.
    pub fn warn(&self, message: fmt::Arguments<'_>) -> bool {
        let mut state = self.state.lock().expect("log budget");
        if state.since.elapsed() >= self.period {
            if state.suppressed > 0 {
                tracing::warn!(what = self.what, suppressed = state.suppressed, "similar warnings were left out");
            }
            *state = State { since: Instant::now(), written: 0, suppressed: 0 };
        }
        if state.written >= self.lines {
            state.suppressed += 1;
            return false;
        }
        state.written += 1;
        tracing::warn!(what = self.what, "{message}");
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_holds_within_a_period_and_renews_after() {
        let budget = LogBudget::new("test", 3, Duration::from_millis(50));
        let written = (0..100).filter(|i| budget.warn(format_args!("line {i}"))).count();
        assert_eq!(written, 3);
        assert_eq!(budget.state.lock().unwrap().suppressed, 97);
        std::thread::sleep(Duration::from_millis(60));
        assert!(budget.warn(format_args!("again")));
        assert_eq!(budget.state.lock().unwrap().suppressed, 0);
    }
}
