//! Ownership of one attempt's container: whatever ends the attempt (its end, a failure of
//! create, attach, start or wait, a cancel before start, a panic), the container is removed.

use bollard::errors::Error as DockerError;
use bollard::query_parameters::RemoveContainerOptionsBuilder;
use bollard::Docker;
use tokio_util::task::TaskTracker;

/// The container of one attempt, removed when the guard is removed or dropped.
///
/// The guard exists from before the create call: a create whose answer was lost still leaves
/// a container of that name, and removing a name the engine does not know is no error.
pub(super) struct ContainerGuard {
    /// The engine the container lives in.
    docker: Docker,
    /// The container's name; `None` once it was removed.
    name: Option<String>,
    /// Where a dropped guard's removal runs, so the agent can wait for it before it exits.
    removals: TaskTracker,
}

impl ContainerGuard {
    /// Takes ownership of the container `name` (created or about to be).
    pub(super) fn new(docker: Docker, name: String, removals: TaskTracker) -> ContainerGuard {
        ContainerGuard {
            docker,
            name: Some(name),
            removals,
        }
    }

    /// The container's name.
    pub(super) fn name(&self) -> &str {
        self.name.as_deref().expect("container not removed yet")
    }

    /// Removes the container now.
    pub(super) async fn remove(mut self) {
        if let Some(name) = self.name.take() {
            remove(&self.docker, &name).await;
        }
    }
}

impl Drop for ContainerGuard {
    /// The container's task ended without removing it (it panicked): remove it in the
    /// background, on the tracker the agent waits for before it exits.
    fn drop(&mut self) {
        let Some(name) = self.name.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(container = name, "no runtime left to remove the container");
            return;
        };
        let docker = self.docker.clone();
        self.removals.spawn_on(
            async move {
                remove(&docker, &name).await;
            },
            &runtime,
        );
    }
}

/// Force-removes a container with its anonymous volumes; true when it is gone.
pub(super) async fn remove(docker: &Docker, name: &str) -> bool {
    let opts = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(name, Some(opts)).await {
        Ok(()) => true,
        Err(DockerError::DockerResponseServerError {
            status_code: 404, ..
        }) => true,
        Err(e) => {
            tracing::warn!(container = name, error = %e, "container could not be removed");
            false
        }
    }
}
