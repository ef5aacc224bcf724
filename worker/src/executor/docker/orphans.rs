//! Finding and removing the containers an earlier life of this worker left in the engine.

use super::guard::remove;
use super::{DockerExecutor, LABEL_WORKER_ID};
use bollard::query_parameters::ListContainersOptionsBuilder;
use std::collections::HashMap;

impl DockerExecutor {
    /// Force-removes every container labelled with `worker_id`; how many, or why the engine
    /// could not be made to (then some may still run).
    pub(super) async fn remove_orphans(&self, worker_id: &str) -> Result<usize, String> {
        let docker = self.docker();
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{LABEL_WORKER_ID}={worker_id}")],
        )]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let containers = docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| format!("cannot list this worker's containers: {e}"))?;
        let mut removed = 0;
        for id in containers.into_iter().filter_map(|c| c.id) {
            if !remove(&docker, &id).await {
                return Err(format!("cannot remove container {id}"));
            }
            removed += 1;
        }
        Ok(removed)
    }
}
