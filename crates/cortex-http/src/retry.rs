//! The one retry policy: from what one attempt gave, whether to try again and after how long.
//!
//! Reads are tried at most [`MAX_ATTEMPTS`] times before their [`Deadline`], on a refused or
//! lost connection and on a gateway's 502/503/504. Writes are tried again only when the request
//! cannot have reached the server (no connection was made); a timeout is never retried (the
//! server may still be working, and waiting again would exceed the job's deadline).

use std::time::{Duration, Instant};

use crate::failure::Failure;

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// The longest wait between two attempts, whatever `Retry-After` asks for.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// Retries stop once this many request timeouts have passed since the deadline's start.
pub const RETRY_BUDGET_TIMEOUTS: u32 = 2;

/// When retries must stop. A Cortex job has one deadline for all its requests, whatever client
/// sends them; a daemon gives each request the same budget on its thirtieth day as in its first
/// minute, so its deadline is taken per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Each request may retry for [`RETRY_BUDGET_TIMEOUTS`] x timeout from its first attempt.
    PerRequest,
    /// Every request stops retrying at this instant.
    At(Instant),
}

impl Deadline {
    /// For a long-running program: a fresh budget for every request.
    pub fn per_request() -> Deadline {
        Deadline::PerRequest
    }

    pub fn at(when: Instant) -> Deadline {
        Deadline::At(when)
    }

    /// For a job starting now whose requests each may take `timeout`: [`RETRY_BUDGET_TIMEOUTS`]
    /// x `timeout` from now, shared by every client of the job.
    pub fn for_job(timeout: Duration) -> Deadline {
        Deadline::At(Instant::now() + timeout * RETRY_BUDGET_TIMEOUTS)
    }

    /// When the retries of a request starting now stop.
    pub fn for_request(self, timeout: Duration) -> Instant {
        match self {
            Deadline::PerRequest => Instant::now() + timeout * RETRY_BUDGET_TIMEOUTS,
            Deadline::At(when) => when,
        }
    }
}

/// Whether a call may be repeated once the request could have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Read,
    Write,
}

/// What one attempt gave.
#[derive(Debug, Clone, Copy)]
pub enum Attempt<'a> {
    Failed(&'a Failure),
    Answered { status: u16, retry_after: Option<Duration> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Stop,
    RetryAfter(Duration),
}

/// `attempt` is the number of the attempt just made (1 for the first); `left` is what remains of
/// the retry budget.
pub fn decide(call: Call, outcome: Attempt<'_>, attempt: u32, left: Duration) -> Next {
    if attempt >= MAX_ATTEMPTS || left.is_zero() {
        return Next::Stop;
    }
    let retry_after = match outcome {
        Attempt::Failed(Failure::Unreachable { .. }) => None,
        Attempt::Failed(Failure::Lost { .. }) if call == Call::Read => None,
        Attempt::Answered { status: 502..=504, retry_after } if call == Call::Read => retry_after,
        _ => return Next::Stop,
    };
    let backoff = Duration::from_millis(200 * 3u64.pow(attempt - 1));
    Next::RetryAfter(retry_after.unwrap_or(backoff).min(MAX_WAIT).min(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOTS: Duration = Duration::from_secs(60);

    fn lost() -> Failure {
        Failure::Lost { detail: "reset".into() }
    }

    fn refused() -> Failure {
        Failure::Unreachable { detail: "refused".into() }
    }

    #[test]
    fn reads_retry_lost_connections_and_gateways_with_backoff() {
        let lost = lost();
        assert_eq!(decide(Call::Read, Attempt::Failed(&lost), 1, LOTS), Next::RetryAfter(Duration::from_millis(200)));
        assert_eq!(decide(Call::Read, Attempt::Failed(&lost), 2, LOTS), Next::RetryAfter(Duration::from_millis(600)));
        assert_eq!(decide(Call::Read, Attempt::Failed(&lost), MAX_ATTEMPTS, LOTS), Next::Stop);
        let gateway = Attempt::Answered { status: 503, retry_after: Some(Duration::from_secs(1)) };
        assert_eq!(decide(Call::Read, gateway, 1, LOTS), Next::RetryAfter(Duration::from_secs(1)));
        let far = Attempt::Answered { status: 503, retry_after: Some(Duration::from_secs(30)) };
        assert_eq!(decide(Call::Read, far, 1, Duration::from_secs(2)), Next::RetryAfter(Duration::from_secs(2)));
        assert_eq!(decide(Call::Read, far, 1, LOTS), Next::RetryAfter(MAX_WAIT));
        assert_eq!(decide(Call::Read, far, 1, Duration::ZERO), Next::Stop);
    }

    #[test]
    fn writes_retry_only_what_never_left() {
        assert!(matches!(decide(Call::Write, Attempt::Failed(&refused()), 1, LOTS), Next::RetryAfter(_)));
        assert_eq!(decide(Call::Write, Attempt::Failed(&lost()), 1, LOTS), Next::Stop);
        assert_eq!(decide(Call::Write, Attempt::Answered { status: 502, retry_after: None }, 1, LOTS), Next::Stop);
    }

    #[test]
    fn a_per_request_deadline_starts_with_each_request_and_a_job_deadline_stays() {
        let timeout = Duration::from_secs(1);
        let job = Deadline::at(Instant::now());
        assert_eq!(job.for_request(timeout), job.for_request(timeout));
        let first = Deadline::per_request().for_request(timeout);
        std::thread::sleep(Duration::from_millis(20));
        let later = Deadline::per_request().for_request(timeout);
        assert!(later > first, "a later request gets a later deadline");
        assert!(later <= Instant::now() + 2 * timeout);
        let Deadline::At(end) = Deadline::for_job(timeout) else { panic!("a job has a fixed deadline") };
        assert!(end > Instant::now() + timeout && end <= Instant::now() + 2 * timeout);
    }

    #[test]
    fn timeouts_tls_and_other_statuses_are_final() {
        for failure in [
            Failure::Timeout { connected: false },
            Failure::Timeout { connected: true },
            Failure::Tls { detail: "x".into() },
            Failure::HandshakeRefused { alert: rustls::AlertDescription::CertificateRequired, detail: "x".into() },
        ] {
            assert_eq!(decide(Call::Read, Attempt::Failed(&failure), 1, LOTS), Next::Stop, "{failure:?}");
        }
        for status in [200, 401, 404, 429, 500] {
            assert_eq!(decide(Call::Read, Attempt::Answered { status, retry_after: None }, 1, LOTS), Next::Stop);
        }
    }
}
