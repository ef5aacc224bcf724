//! The jobs' own record of where and when they ran: each chaos job appends a `start`, a
//! `tick` and an `end` line to one host file, naming its job, attempt and worker (from the
//! variables the agent sets) and the time in nanoseconds. Lines are short single writes to a
//! file opened for appending, so they never interleave.

use std::collections::BTreeMap;
use std::path::Path;

/// The command of a chaos job: about 200 ms of work, logged to `log`.
pub fn job_command(log: &Path) -> String {
    let line = |kind: &str| {
        format!(
            "echo \"{kind} $GANTRY_JOB_ID $GANTRY_ATTEMPT $GANTRY_WORKER_ID $(date +%s%N)\" >> '{}'",
            log.display()
        )
    };
    format!(
        "{}; sleep 0.1; {}; sleep 0.1; {}",
        line("start"),
        line("tick"),
        line("end")
    )
}

/// One attempt as its lines show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The worker it ran on.
    pub worker: String,
    /// Its first line's time, ns.
    pub first: u128,
    /// Its last line's time, ns.
    pub last: u128,
    /// Whether it logged its start.
    pub started: bool,
    /// Whether it logged its end (it was not killed before).
    pub ended: bool,
}

/// Every job's runs, by attempt.
pub type Runs = BTreeMap<String, BTreeMap<i64, Run>>;

/// Reads the log at `path` into runs. Panics on a line it cannot read (a torn write would be a
/// finding in itself).
pub fn read(path: &Path) -> Runs {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut runs = Runs::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [kind, job, attempt, worker, at] = parts[..] else {
            panic!("a log line that is not `kind job attempt worker ns`: {line:?}");
        };
        let attempt: i64 = attempt.parse().expect("attempt number");
        let at: u128 = at.parse().expect("time in ns");
        let run = runs
            .entry(job.to_string())
            .or_default()
            .entry(attempt)
            .or_insert_with(|| Run {
                worker: worker.to_string(),
                first: at,
                last: at,
                started: false,
                ended: false,
            });
        assert_eq!(
            run.worker, worker,
            "attempt {attempt} of {job} logged from two workers"
        );
        run.first = run.first.min(at);
        run.last = run.last.max(at);
        run.started |= kind == "start";
        run.ended |= kind == "end";
    }
    runs
}

/// Every pair of a job's attempts whose logged spans overlap, one sentence each.
pub fn overlaps(runs: &Runs) -> Vec<String> {
    let mut found = Vec::new();
    for (job, attempts) in runs {
        let mut spans: Vec<(i64, &Run)> = attempts.iter().map(|(a, r)| (*a, r)).collect();
        spans.sort_by_key(|(_, r)| r.first);
        for pair in spans.windows(2) {
            let ((a, ra), (b, rb)) = (pair[0], pair[1]);
            if ra.last >= rb.first {
                found.push(format!(
                    "job {job}: attempt {a} on {} ran until {}, after attempt {b} on {} \
                     started at {}",
                    ra.worker, ra.last, rb.worker, rb.first
                ));
            }
        }
    }
    found
}

/// How many attempts ran (logged a start) beyond the first of each job: the at-least-once
/// reruns.
pub fn reruns(runs: &Runs) -> usize {
    runs.values()
        .map(|attempts| {
            attempts
                .values()
                .filter(|r| r.started)
                .count()
                .saturating_sub(1)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(worker: &str, first: u128, last: u128) -> Run {
        Run {
            worker: worker.into(),
            first,
            last,
            started: true,
            ended: true,
        }
    }

    #[test]
    fn lines_become_runs_and_overlaps_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(
            &path,
            "start j1 1 w1 100\ntick j1 1 w1 150\nstart j1 2 w2 140\nend j1 2 w2 300\n\
             start j2 1 w1 10\nend j2 1 w1 20\n",
        )
        .unwrap();
        let runs = read(&path);
        let mut j1_first = run("w1", 100, 150);
        j1_first.ended = false;
        assert_eq!(runs["j1"][&1], j1_first);
        assert_eq!(runs["j1"][&2], run("w2", 140, 300));
        assert_eq!(reruns(&runs), 1);
        let found = overlaps(&runs);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("attempt 1 on w1 ran until 150"),
            "{found:?}"
        );
    }

    #[test]
    fn attempts_one_after_another_do_not_overlap() {
        let runs = Runs::from([(
            "j".to_string(),
            BTreeMap::from([(1, run("w1", 10, 20)), (2, run("w2", 21, 30))]),
        )]);
        assert!(overlaps(&runs).is_empty());
    }
}
