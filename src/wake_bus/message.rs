//! The text of one wake-up message between replicas: `<replica> w <id>,<id>,...`,
//! `<replica> a` (every worker) or `<replica> p <nonce>` (a replica's probe of its own
//! listening session). Worker ids hold no spaces or commas (see `validate::worker_id`).

use crate::repo::postgres::wake_channel::MAX_PAYLOAD;
use crate::waiters::Wake;
use std::collections::BTreeSet;

/// One message, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The replica that sent it.
    pub from: String,
    /// What it says.
    pub body: Body,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// These workers have news.
    Workers(Vec<String>),
    /// Every worker may have news.
    All,
    /// The sender checks that its own listener hears it.
    Probe(String),
}

/// The wake-ups gathered since the last send, as few messages as fit the payload limit.
pub fn encode(from: &str, wakes: &[Wake]) -> Vec<String> {
    if wakes.contains(&Wake::All) {
        return vec![format!("{from} a")];
    }
    let ids: BTreeSet<&str> = wakes
        .iter()
        .filter_map(|w| match w {
            Wake::Worker(id) => Some(id.as_str()),
            Wake::All => None,
        })
        .collect();
    let mut out = Vec::new();
    let mut current = String::new();
    for id in ids {
        if !current.is_empty() && current.len() + 1 + id.len() > MAX_PAYLOAD {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            current = format!("{from} w {id}");
        } else {
            current.push(',');
            current.push_str(id);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A probe message.
pub fn probe(from: &str, nonce: &str) -> String {
    format!("{from} p {nonce}")
}

/// Reads a message; `None` for text no gantry replica sends.
pub fn decode(text: &str) -> Option<Message> {
    let mut parts = text.splitn(3, ' ');
    let from = parts.next().filter(|f| !f.is_empty())?.to_string();
    let body = match (parts.next()?, parts.next()) {
        ("a", None) => Body::All,
        ("w", Some(ids)) => Body::Workers(
            ids.split(',')
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        ("p", Some(nonce)) => Body::Probe(nonce.to_string()),
        _ => return None,
    };
    Some(Message { from, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(id: &str) -> Wake {
        Wake::Worker(id.to_string())
    }

    #[test]
    fn workers_are_deduplicated_and_round_trip() {
        let sent = encode("r1", &[worker("b"), worker("a"), worker("b")]);
        assert_eq!(sent, vec!["r1 w a,b".to_string()]);
        assert_eq!(
            decode(&sent[0]),
            Some(Message {
                from: "r1".into(),
                body: Body::Workers(vec!["a".into(), "b".into()])
            })
        );
    }

    #[test]
    fn all_wins_over_single_workers() {
        assert_eq!(encode("r1", &[worker("a"), Wake::All]), vec!["r1 a"]);
        assert_eq!(decode("r1 a").unwrap().body, Body::All);
    }

    #[test]
    fn long_lists_are_split_below_the_payload_limit() {
        let wakes: Vec<Wake> = (0..1_000)
            .map(|i| worker(&format!("worker-{i:05}-{}", "x".repeat(40))))
            .collect();
        let sent = encode("r1", &wakes);
        assert!(sent.len() > 1);
        assert!(sent.iter().all(|m| m.len() <= MAX_PAYLOAD));
        let ids: usize = sent
            .iter()
            .map(|m| match decode(m).unwrap().body {
                Body::Workers(ids) => ids.len(),
                other => panic!("{other:?}"),
            })
            .sum();
        assert_eq!(ids, 1_000);
    }

    #[test]
    fn probes_round_trip_and_junk_is_refused() {
        assert_eq!(
            decode(&probe("r1", "n")).unwrap().body,
            Body::Probe("n".into())
        );
        assert!(encode("r1", &[]).is_empty());
        for junk in ["", "r1", "r1 x", "r1 a extra", " w a"] {
            assert_eq!(decode(junk), None, "{junk:?}");
        }
    }
}
