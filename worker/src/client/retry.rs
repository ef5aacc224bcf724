//! How persistently a call to the server is retried, and how long it waits between tries.

use rand::Rng;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// First wait between two tries of a call.
const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// Longest wait between two tries of a call.
const BACKOFF_CAP: Duration = Duration::from_secs(10);

/// How persistently a call is retried.
#[derive(Debug, Clone)]
pub struct Retry {
    /// The most tries; `None` retries until the server answers or `give_up` fires.
    pub max_tries: Option<u32>,
    /// Stops retrying (the call returns [`ClientError::Abandoned`](super::ClientError::Abandoned)).
    pub give_up: CancellationToken,
}

impl Retry {
    /// At most `tries` tries, abandoned early when `give_up` fires.
    pub fn times(tries: u32, give_up: &CancellationToken) -> Retry {
        Retry {
            max_tries: Some(tries.max(1)),
            give_up: give_up.clone(),
        }
    }

    /// Until the server answers, or `give_up` fires.
    pub fn forever(give_up: &CancellationToken) -> Retry {
        Retry {
            max_tries: None,
            give_up: give_up.clone(),
        }
    }

    /// Whether another try may follow try number `tries`.
    pub(super) fn allows(&self, tries: u32) -> bool {
        match self.max_tries {
            Some(max) => tries < max,
            None => true,
        }
    }
}

/// The wait before try number `attempt + 1`: doubled per try, capped, with full jitter.
pub fn backoff_delay(attempt: u32) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(BACKOFF_CAP);
    let ms = capped.as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..30 {
            let d = backoff_delay(attempt);
            assert!(d <= BACKOFF_CAP, "{d:?}");
        }
        assert!(backoff_delay(0) <= BACKOFF_BASE);
        assert!(backoff_delay(20) >= BACKOFF_CAP / 2);
    }

    #[test]
    fn tries_are_counted_unless_forever() {
        let never = CancellationToken::new();
        let three = Retry::times(3, &never);
        assert!(three.allows(1) && three.allows(2) && !three.allows(3));
        assert!(
            !Retry::times(0, &never).allows(1),
            "at least one try, no more"
        );
        assert!(Retry::forever(&never).allows(u32::MAX));
    }
}
