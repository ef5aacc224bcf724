//! Figure 3: sweep cost: the time of one scheduler pass (placement and the sweepers, with
//! the arguments the server passes them) over a database with nothing to do, at 1k to 100k
//! jobs and 100 or 1,000 workers; and the same pass when 1% of the workers went silent, so it
//! marks them OFFLINE and requeues what they held.
//!
//! No server runs: the repository is called directly, at a chosen time, on a database seeded
//! with bulk SQL. Its budget (flat from 1k to 100k jobs: indexes, not scans) is in
//! BENCHMARKS.md.

mod golden;
mod pass;
mod seed;

use crate::{BenchArgs, Figure};
use gantry::config::ServeConfig;
use golden::Golden;

/// A seeded state's size.
#[derive(Debug, Clone, Copy)]
struct Size {
    jobs: i64,
    workers: i64,
}

impl Size {
    /// Workers holding two jobs each (no free slot); the rest have room but nothing fits it.
    fn full_workers(self) -> i64 {
        (self.workers / 2).min(self.jobs / 20)
    }

    /// Workers silent past the heartbeat timeout in the expiring pass: 1%, at least one.
    fn expiring_workers(self) -> i64 {
        (self.workers / 100).max(1)
    }

    /// The figures' setting: `N jobs, M workers`.
    fn setting(self) -> String {
        format!("{} jobs, {} workers", self.jobs, self.workers)
    }
}

/// Measures every size on the bench's database and hands each figure to `emit` as it is made.
pub async fn run(args: &BenchArgs, mut emit: impl FnMut(Figure)) -> anyhow::Result<()> {
    let sizes: Vec<Size> = if args.quick {
        vec![Size {
            jobs: 1_000,
            workers: 100,
        }]
    } else {
        [1_000, 10_000, 100_000]
            .into_iter()
            .flat_map(|jobs| [100, 1_000].map(|workers| Size { jobs, workers }))
            .collect()
    };
    let config = ServeConfig::default();
    for size in sizes {
        let golden = Golden::seed(args.database_url.as_deref(), size, &config).await?;
        emit(golden.idle(&config).await?);
        emit(golden.expiring(&config, args.quick).await?);
        golden.drop_all().await;
    }
    Ok(())
}
