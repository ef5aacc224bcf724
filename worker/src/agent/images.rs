//! Which images the heartbeat carries: the engine's list when it changed since the last one
//! sent, and every [`RESEND_EVERY_BEATS`]th beat anyway (a server restored from a backup, or
//! a new replica, learns it again); nothing otherwise, so most beats stay small.

use crate::executor::Executor;
use gantry_api::ImageHeld;

/// Beats after which the list is sent again even when unchanged.
pub(super) const RESEND_EVERY_BEATS: u32 = 30;

/// What the heartbeat last sent, and how many beats ago.
#[derive(Debug, Default)]
pub(super) struct ImageReport {
    /// The list last sent; `None` before the first.
    sent: Option<Vec<ImageHeld>>,
    /// Beats since it was sent.
    beats_since: u32,
}

impl ImageReport {
    /// The list to put in this beat, if any (`None` for an executor without images).
    pub(super) async fn next(&mut self, executor: &dyn Executor) -> Option<Vec<ImageHeld>> {
        let now = executor.images_held().await?;
        self.choose(now)
    }

    /// Decides on `now`, the engine's list at this beat.
    fn choose(&mut self, now: Vec<ImageHeld>) -> Option<Vec<ImageHeld>> {
        self.beats_since += 1;
        let due = self.beats_since >= RESEND_EVERY_BEATS;
        if self.sent.as_ref() == Some(&now) && !due {
            return None;
        }
        self.beats_since = 0;
        self.sent = Some(now.clone());
        Some(now)
    }

    /// The server did not take the beat: send the list again next time.
    pub(super) fn forget(&mut self) {
        self.sent = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(tags: &[&str]) -> Vec<ImageHeld> {
        tags.iter()
            .map(|t| ImageHeld {
                reference: t.to_string(),
                digest: None,
            })
            .collect()
    }

    #[test]
    fn the_list_goes_when_it_changed_or_now_and_then() {
        let mut r = ImageReport::default();
        assert_eq!(
            r.choose(list(&["a:1"])),
            Some(list(&["a:1"])),
            "the first beat"
        );
        assert_eq!(r.choose(list(&["a:1"])), None, "unchanged");
        assert_eq!(r.choose(list(&["a:1", "b:2"])), Some(list(&["a:1", "b:2"])));
        let sent = (0..RESEND_EVERY_BEATS)
            .filter(|_| r.choose(list(&["a:1", "b:2"])).is_some())
            .count();
        assert_eq!(
            sent, 1,
            "once per {RESEND_EVERY_BEATS} beats when unchanged"
        );
        r.forget();
        assert!(
            r.choose(list(&["a:1", "b:2"])).is_some(),
            "again after a failed beat"
        );
    }
}
