//! Where a queued job goes: best fit over the free capacity of the online workers that accept
//! work, as a pure choice (the repository reads the workers and writes the plan).

use super::locality::held_references;
use super::worker::accepts_work;
use crate::model::milli_to_cores;
use std::collections::HashSet;
use std::sync::Arc;

/// An online worker as placement reads it: only what placement needs, read for every online
/// worker in one row (a JSON array of these, each itself an array), so a pass costs one small
/// row however many workers there are.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct WorkerCapacity {
    /// The worker.
    pub id: String,
    /// Capacity, millicores.
    pub cpu_milli: i64,
    /// Capacity, MiB.
    pub ram_total_mb: i64,
    /// CPU reserved by held jobs.
    pub reserved_cpu_milli: i64,
    /// Memory reserved by held jobs.
    pub reserved_ram_mb: i64,
    /// Jobs it holds, ASSIGNED or RUNNING.
    pub held_jobs: i64,
    /// The most jobs it holds at once.
    pub max_parallel_jobs: i64,
    /// 1 while it shuts down.
    pub draining: i64,
    /// 1 when its executor works.
    pub executor_ok: i64,
    /// End of its failure cooldown.
    pub cooldown_until: Option<i64>,
    /// The images its engine holds, as stored (JSON of `ImageHeld`).
    #[serde(default)]
    pub images: Option<String>,
}

impl WorkerCapacity {
    /// True when it may be given a new job at `now` (see [`accepts_work`]).
    pub fn accepts_work(&self, now: i64) -> bool {
        accepts_work(
            self.draining != 0,
            self.executor_ok != 0,
            self.cooldown_until,
            now,
        )
    }
}

/// A worker's room for one more job, as placement sees it during a pass.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The worker this room is on.
    pub worker_id: String,
    /// Capacity, millicores.
    pub cpu_milli: i64,
    /// Capacity, MiB.
    pub ram_mb: i64,
    /// Free CPU, millicores.
    pub free_cpu_milli: i64,
    /// Free memory, MiB.
    pub free_ram_mb: i64,
    /// Free job slots under its parallelism limit.
    pub free_jobs: i64,
    /// Jobs it holds, to break ties toward the less loaded.
    pub held_jobs: i64,
    /// The images its engine holds, normalised (see [`super::locality::normalize`]).
    pub images: Arc<HashSet<String>>,
}

impl Slot {
    /// The room of a worker that accepts work, or `None` when it has no free job slot.
    pub fn of(worker: &WorkerCapacity) -> Option<Slot> {
        let free_jobs = worker.max_parallel_jobs - worker.held_jobs;
        (free_jobs > 0).then(|| Slot {
            worker_id: worker.id.clone(),
            cpu_milli: worker.cpu_milli,
            ram_mb: worker.ram_total_mb,
            free_cpu_milli: worker.cpu_milli - worker.reserved_cpu_milli,
            free_ram_mb: worker.ram_total_mb - worker.reserved_ram_mb,
            free_jobs,
            held_jobs: worker.held_jobs,
            images: Arc::new(held_references(worker.images.as_deref())),
        })
    }

    fn fits(&self, cpu_milli: i64, ram_mb: i64) -> bool {
        self.free_jobs > 0 && cpu_milli <= self.free_cpu_milli && ram_mb <= self.free_ram_mb
    }

    /// What is left after the job, as a share of capacity, CPU and RAM weighed alike: the
    /// smaller, the tighter the fit.
    fn leftover(&self, cpu_milli: i64, ram_mb: i64) -> f64 {
        let cpu = (self.free_cpu_milli - cpu_milli) as f64 / self.cpu_milli.max(1) as f64;
        let ram = (self.free_ram_mb - ram_mb) as f64 / self.ram_mb.max(1) as f64;
        cpu + ram
    }

    /// Takes the job's share of the room.
    pub fn take(&mut self, cpu_milli: i64, ram_mb: i64) {
        self.free_cpu_milli -= cpu_milli;
        self.free_ram_mb -= ram_mb;
        self.free_jobs -= 1;
        self.held_jobs += 1;
    }
}

/// The index of the slot that fits the job most tightly, among those holding the job's
/// `image` (normalised) when any fitting one does; ties go to the less loaded worker, then to
/// the lower id, so the choice is deterministic.
pub fn best_fit(slots: &[Slot], cpu_milli: i64, ram_mb: i64, image: Option<&str>) -> Option<usize> {
    let holds = |s: &Slot| image.is_some_and(|i| s.images.contains(i));
    let any_holds = slots.iter().any(|s| s.fits(cpu_milli, ram_mb) && holds(s));
    slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.fits(cpu_milli, ram_mb) && (!any_holds || holds(s)))
        .min_by(|(_, a), (_, b)| {
            a.leftover(cpu_milli, ram_mb)
                .total_cmp(&b.leftover(cpu_milli, ram_mb))
                .then(a.held_jobs.cmp(&b.held_jobs))
                .then(a.worker_id.cmp(&b.worker_id))
        })
        .map(|(i, _)| i)
}

/// Why a job can run on none of the online workers, or `None` when one could hold it.
pub fn unfit_reason(workers: &[WorkerCapacity], cpu_milli: i64, ram_mb: i64) -> Option<String> {
    if workers
        .iter()
        .any(|w| w.cpu_milli >= cpu_milli && w.ram_total_mb >= ram_mb)
    {
        return None;
    }
    let max_cpu = workers.iter().map(|w| w.cpu_milli).max().unwrap_or(0);
    let max_ram = workers.iter().map(|w| w.ram_total_mb).max().unwrap_or(0);
    Some(unfit_text(
        workers.len() as i64,
        max_cpu,
        max_ram,
        cpu_milli,
        ram_mb,
    ))
}

/// The readable reason for a job that fits no online worker.
pub fn unfit_text(online: i64, max_cpu: i64, max_ram: i64, cpu_milli: i64, ram_mb: i64) -> String {
    if online == 0 {
        return format!(
            "fits no worker: no worker is online (needs {} CPU and {ram_mb} MiB)",
            milli_to_cores(cpu_milli)
        );
    }
    format!(
        "fits no worker: needs {} CPU and {ram_mb} MiB; the largest of {online} online workers \
         offer {} CPU and {max_ram} MiB",
        milli_to_cores(cpu_milli),
        milli_to_cores(max_cpu)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(id: &str, cpu: i64, ram: i64) -> Slot {
        Slot {
            worker_id: id.into(),
            cpu_milli: cpu,
            ram_mb: ram,
            free_cpu_milli: cpu,
            free_ram_mb: ram,
            free_jobs: 4,
            held_jobs: 0,
            images: Arc::default(),
        }
    }

    #[test]
    fn best_fit_prefers_the_tighter_worker() {
        let slots = vec![slot("big", 8000, 16384), slot("small", 2000, 2048)];
        assert_eq!(best_fit(&slots, 1000, 512, None), Some(1));
        assert_eq!(
            best_fit(&slots, 4000, 512, None),
            Some(0),
            "only the big one fits"
        );
        assert_eq!(best_fit(&slots, 9000, 512, None), None);
    }

    #[test]
    fn a_worker_holding_the_image_wins_among_those_that_fit() {
        let mut holder = slot("big", 8000, 16384);
        holder.images = Arc::new(HashSet::from(["app:1".to_string()]));
        let slots = vec![holder, slot("small", 2000, 2048)];
        assert_eq!(best_fit(&slots, 1000, 512, Some("app:1")), Some(0));
        assert_eq!(
            best_fit(&slots, 1000, 512, Some("other:1")),
            Some(1),
            "best fit"
        );
        assert_eq!(best_fit(&slots, 1000, 512, None), Some(1));
        let mut full = slots.clone();
        full[0].free_jobs = 0;
        assert_eq!(
            best_fit(&full, 1000, 512, Some("app:1")),
            Some(1),
            "only if it fits"
        );
    }

    #[test]
    fn a_full_worker_gets_nothing() {
        let mut s = slot("one", 2000, 2048);
        s.free_jobs = 1;
        s.take(1000, 100);
        assert_eq!(best_fit(&[s], 100, 1, None), None);
    }
}
