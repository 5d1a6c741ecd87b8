//! [`AccessPrompts`]: the desktop app's [`AccessPrompter`]. A program without a rule waits
//! while the question "PROGRAM wants to read ACCOUNT" is put to the user; the host shows it
//! (window, notification) from [`AccessPrompts::subscribe`] and answers with
//! [`AccessPrompts::answer`]. Unanswered questions expire: the request is refused that once and
//! nothing is remembered. The same program asking again for the same account while a question
//! is open waits for the same answer instead of asking twice.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::access::{AccessPrompter, Action, Program, PromptAnswer};
use crate::convert::rfc3339;

/// How long a question waits for the user by default. `keyport token` waits as long; other
/// clients give up on their own.
pub const DEFAULT_PROMPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Questions open at once. Each waits for the user, and programs choose how many to ask:
/// beyond this, a new question is refused at once (nothing remembered), as with nobody to ask.
pub const MAX_OPEN_PROMPTS: usize = 32;

pub use keyport_wire::app::{AccessPrompt, Navigate, PromptChoice};

/// What the host hears about questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptEvent {
    /// A new question to show.
    Asked(AccessPrompt),
    /// The question was answered or expired: stop showing it.
    Closed {
        /// The question.
        prompt_id: String,
    },
}

#[derive(Debug)]
struct Open {
    prompt: AccessPrompt,
    key: (Program, String, Action),
    answer: watch::Sender<Option<PromptAnswer>>,
}

/// Starts a window to show a question; `false` when none can be shown (no display, no
/// desktop binary installed, too many launches).
pub type WindowOpener = dyn Fn(&Navigate) -> bool + Send + Sync;

/// The desktop app's prompter; see the module docs.
pub struct AccessPrompts {
    timeout: Duration,
    open: Mutex<HashMap<String, Open>>,
    events: broadcast::Sender<PromptEvent>,
    /// Windows that answer questions now ([`Answering`] guards).
    answering: Arc<AtomicUsize>,
    /// How a question reaches the user when no window answers: `None` asks anyway (a host
    /// that shows questions itself), else a window is started, or the question is refused.
    opener: Mutex<Option<Arc<WindowOpener>>>,
}

impl std::fmt::Debug for AccessPrompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessPrompts")
            .field("timeout", &self.timeout)
            .field("open", &self.open.lock().map(|open| open.len()).unwrap_or_default())
            .field("answering", &self.answering.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A window answering questions, for as long as this lives (its connection).
#[derive(Debug)]
pub struct Answering(Arc<AtomicUsize>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Answering a question that is no longer open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("that request is no longer waiting for an answer (it was answered or it expired)")]
pub struct PromptGone;

impl AccessPrompts {
    /// Questions that wait `timeout` for an answer.
    pub fn new(timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            timeout,
            open: Mutex::new(HashMap::new()),
            events: broadcast::channel(64).0,
            answering: Arc::default(),
            opener: Mutex::new(None),
        })
    }

    /// From now on, a question with no window answering starts one with `opener` (at the
    /// question), or is refused at once when it cannot.
    pub fn set_window_opener(&self, opener: Arc<WindowOpener>) {
        *self.opener.lock().expect("opener") = Some(opener);
    }

    /// Marks a window as answering questions until the guard is dropped.
    pub fn answering(&self) -> Answering {
        self.answering.fetch_add(1, Ordering::Relaxed);
        Answering(self.answering.clone())
    }

    /// Whether a window answers questions now.
    pub fn has_window(&self) -> bool {
        self.answering.load(Ordering::Relaxed) > 0
    }

    /// Shows the window at `screen`: `Ok(true)` when a window answers (it is told by the
    /// caller), else it is started; `false` when none can be.
    pub fn open_window(&self, screen: &Navigate) -> bool {
        let opener = self.opener.lock().expect("opener").clone();
        opener.is_some_and(|open| open(screen))
    }

    /// New and closed questions, from now on (see [`Self::pending`] for those already open).
    pub fn subscribe(&self) -> broadcast::Receiver<PromptEvent> {
        self.events.subscribe()
    }

    /// The open questions, oldest first.
    pub fn pending(&self) -> Vec<AccessPrompt> {
        let mut prompts: Vec<AccessPrompt> =
            self.open.lock().expect("prompts").values().map(|open| open.prompt.clone()).collect();
        prompts.sort_by(|a, b| a.asked_at.cmp(&b.asked_at).then_with(|| a.prompt_id.cmp(&b.prompt_id)));
        prompts
    }

    /// The open question `prompt_id`.
    pub fn get(&self, prompt_id: &str) -> Result<AccessPrompt, PromptGone> {
        self.open.lock().expect("prompts").get(prompt_id).map(|open| open.prompt.clone()).ok_or(PromptGone)
    }

    /// Answers an open question; the waiting request goes on at once.
    pub fn answer(&self, prompt_id: &str, choice: PromptChoice) -> Result<(), PromptGone> {
        let open = self.open.lock().expect("prompts").remove(prompt_id).ok_or(PromptGone)?;
        let answer = match choice {
            PromptChoice::AllowOnce => PromptAnswer::AllowOnce,
            PromptChoice::AllowSession => PromptAnswer::AllowSession,
            PromptChoice::AllowAlways => PromptAnswer::AllowAlways,
            PromptChoice::Deny => PromptAnswer::Deny,
        };
        let _ = open.answer.send(Some(answer));
        let _ = self.events.send(PromptEvent::Closed { prompt_id: prompt_id.to_owned() });
        Ok(())
    }

    /// The receiver of the open question for `program`, `account` and `action`, or of a new
    /// one; `None` when too many are open.
    fn question(
        &self,
        program: &Program,
        account: &str,
        action: Action,
    ) -> Option<watch::Receiver<Option<PromptAnswer>>> {
        // Desktop entries may be read: before the lock.
        let program_name = match program {
            // The question names the host beside it.
            Program::Remote { program: claimed, .. } => claimed.clone().unwrap_or_else(|| "a program".to_owned()),
            _ => crate::names::ProgramNames::shared().name(program),
        };
        let mut open = self.open.lock().expect("prompts");
        let key = (program.clone(), account.to_owned(), action);
        if let Some(existing) = open.values().find(|o| o.key == key) {
            return Some(existing.answer.subscribe());
        }
        if open.len() >= MAX_OPEN_PROMPTS {
            return None;
        }
        let now = time::OffsetDateTime::now_utc();
        let prompt = AccessPrompt {
            prompt_id: crate::random_id(),
            program: program.to_string(),
            program_name,
            host: program.remote_host().map(str::to_owned),
            account: account.to_owned(),
            action: crate::convert::action(action),
            asked_at: rfc3339(now),
            expires_at: rfc3339(now + self.timeout),
        };
        let (answer, receiver) = watch::channel(None);
        let prompt_id = prompt.prompt_id.clone();
        open.insert(prompt_id.clone(), Open { prompt: prompt.clone(), key, answer });
        drop(open);
        let _ = self.events.send(PromptEvent::Asked(prompt));
        // With no window answering, start one at the question (the request waits as long as
        // with one); when none can be started, nobody is there to ask.
        let opener = self.opener.lock().expect("opener").clone();
        if let Some(open_window) = opener
            && !self.has_window()
            && !open_window(&Navigate::Prompt { prompt_id: prompt_id.clone() })
        {
            self.open.lock().expect("prompts").remove(&prompt_id);
            let _ = self.events.send(PromptEvent::Closed { prompt_id });
            return None;
        }
        Some(receiver)
    }

    /// Closes the question for `program`, `account` and `action` unanswered (it expired).
    fn expire(&self, program: &Program, account: &str, action: Action) {
        let mut open = self.open.lock().expect("prompts");
        let key = (program.clone(), account.to_owned(), action);
        let Some(id) = open.iter().find(|(_, o)| o.key == key).map(|(id, _)| id.clone()) else { return };
        open.remove(&id);
        drop(open);
        let _ = self.events.send(PromptEvent::Closed { prompt_id: id });
    }
}

impl AccessPrompter for AccessPrompts {
    fn ask<'a>(
        &'a self,
        program: &'a Program,
        account: &'a str,
        action: Action,
    ) -> Pin<Box<dyn std::future::Future<Output = PromptAnswer> + Send + 'a>> {
        Box::pin(async move {
            let Some(mut answer) = self.question(program, account, action) else {
                tracing::info!(%program, account, "no window can be shown, or too many questions are open: refused");
                return PromptAnswer::NoOneToAsk;
            };
            let waited = tokio::time::timeout(self.timeout, answer.wait_for(Option::is_some)).await;
            match waited {
                Ok(Ok(answer)) => answer.expect("waited for Some"),
                // Expired (or the question vanished): refuse this once, remember nothing.
                _ => {
                    self.expire(program, account, action);
                    PromptAnswer::NoOneToAsk
                }
            }
        })
    }

    fn questions(&self) -> Option<&AccessPrompts> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn program() -> Program {
        Program::Path(PathBuf::from("/usr/bin/git"))
    }

    #[tokio::test]
    async fn a_question_waits_for_its_answer_and_is_closed() {
        let prompts = AccessPrompts::new(Duration::from_secs(30));
        let mut events = prompts.subscribe();
        let git = program();
        let asking = tokio::spawn({
            let prompts = prompts.clone();
            async move { prompts.ask(&git, "work", Action::ReadToken).await }
        });
        let PromptEvent::Asked(prompt) = events.recv().await.unwrap() else { panic!("expected a question") };
        assert_eq!(prompt.program, "/usr/bin/git");
        assert_eq!(prompt.program_name, "git");
        assert_eq!(prompt.account, "work");
        assert_eq!(prompt.action, keyport_wire::AccountAction::ReadToken);
        assert_eq!(prompts.pending(), vec![prompt.clone()]);
        prompts.answer(&prompt.prompt_id, PromptChoice::AllowAlways).unwrap();
        assert_eq!(asking.await.unwrap(), PromptAnswer::AllowAlways);
        assert_eq!(events.recv().await.unwrap(), PromptEvent::Closed { prompt_id: prompt.prompt_id.clone() });
        assert!(prompts.pending().is_empty());
        assert_eq!(prompts.answer(&prompt.prompt_id, PromptChoice::Deny), Err(PromptGone));
    }

    #[tokio::test]
    async fn the_same_question_twice_is_asked_once_and_answers_both() {
        let prompts = AccessPrompts::new(Duration::from_secs(30));
        let mut events = prompts.subscribe();
        let ask = || {
            let prompts = prompts.clone();
            tokio::spawn(async move { prompts.ask(&program(), "work", Action::ReadToken).await })
        };
        let (first, second) = (ask(), ask());
        let PromptEvent::Asked(prompt) = events.recv().await.unwrap() else { panic!("expected a question") };
        // Let the second caller reach the open question.
        while prompts.open.lock().unwrap().values().next().unwrap().answer.receiver_count() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(prompts.pending().len(), 1);
        prompts.answer(&prompt.prompt_id, PromptChoice::Deny).unwrap();
        assert_eq!(first.await.unwrap(), PromptAnswer::Deny);
        assert_eq!(second.await.unwrap(), PromptAnswer::Deny);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_question_expires_as_a_refusal_that_is_not_remembered() {
        let prompts = AccessPrompts::new(Duration::from_secs(120));
        let mut events = prompts.subscribe();
        let answer = prompts.ask(&program(), "work", Action::ReadToken).await;
        assert_eq!(answer, PromptAnswer::NoOneToAsk);
        let PromptEvent::Asked(prompt) = events.recv().await.unwrap() else { panic!("expected a question") };
        assert_eq!(events.recv().await.unwrap(), PromptEvent::Closed { prompt_id: prompt.prompt_id });
        assert!(prompts.pending().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn open_questions_are_bounded_and_the_rest_refused_at_once() {
        let prompts = AccessPrompts::new(Duration::from_secs(120));
        let mut waiting = Vec::new();
        for i in 0..MAX_OPEN_PROMPTS {
            let prompts = prompts.clone();
            waiting
                .push(tokio::spawn(async move { prompts.ask(&program(), &format!("a{i}"), Action::ReadToken).await }));
        }
        while prompts.pending().len() < MAX_OPEN_PROMPTS {
            tokio::task::yield_now().await;
        }
        let refused = prompts.ask(&program(), "one-more", Action::Remove).await;
        assert_eq!(refused, PromptAnswer::NoOneToAsk);
        assert_eq!(prompts.pending().len(), MAX_OPEN_PROMPTS);
        for task in waiting {
            assert_eq!(task.await.unwrap(), PromptAnswer::NoOneToAsk, "expired unanswered");
        }
    }
}
