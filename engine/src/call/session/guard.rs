//! Panic isolation: a call task that panics ends as a failed call with a BYE to the far
//! end, instead of vanishing (or, in a task that is awaited inline, taking others along).

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::*;

/// Runs `session` to its report; a panic inside becomes a failure report.
pub(super) async fn run_guarded(session: Session) -> CallReport {
    let mut fallback = session.report.clone();
    let guard = session.handle.hangup_guard();
    match CatchUnwind(Box::pin(session.run())).await {
        Ok(report) => report,
        Err(panic) => {
            let what = panic_text(&*panic);
            tracing::error!(call_id = %fallback.call_id, "call task panicked: {what}");
            guard.bye();
            fallback.failure = Some(format!("internal error: the call task panicked ({what})"));
            fallback
        }
    }
}

pub(super) fn panic_text(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_owned()
    }
}

/// Polls a future, turning a panic in a poll into an error.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.0.as_mut();
        // The future is dropped right after a panic, never polled again, so state it left
        // half-updated is never observed.
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
