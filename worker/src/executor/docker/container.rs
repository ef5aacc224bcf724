//! What a job's container is made of: its hardened configuration and a work folder the
//! job's user can write.

use super::{DockerSettings, LABEL_ATTEMPT, LABEL_JOB_ID, LABEL_WORKER_ID};
use crate::executor::ExecSpec;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use std::collections::HashMap;
use std::path::Path;

/// The uid and gid jobs run as (nobody).
const JOB_USER: &str = "65534:65534";
/// The numeric id of `JOB_USER`.
const JOB_UID: u32 = 65534;
/// Size of the writable `/tmp` of a container.
const TMPFS_OPTIONS: &str = "rw,nosuid,nodev,size=64m";
/// Docker refuses memory limits below this.
const MIN_MEMORY_MB: i64 = 6;
/// The kernel refuses a CFS quota under 1 ms per 100 ms period, so Docker cannot start a
/// container limited below 0.01 CPU: smaller asks get this floor.
const MIN_NANO_CPUS: i64 = 10_000_000;
/// Bytes in a MiB.
const MIB: i64 = 1024 * 1024;

/// The container's configuration for this attempt.
pub(super) fn container_body(settings: &DockerSettings, spec: &ExecSpec) -> ContainerCreateBody {
    let network = spec.network && settings.allow_network;
    let mut env: Vec<String> = vec!["HOME=/work".into()];
    env.extend(
        spec.environment()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}")),
    );
    let labels = HashMap::from([
        (LABEL_JOB_ID.to_string(), spec.job_id.clone()),
        (LABEL_ATTEMPT.to_string(), spec.attempt.to_string()),
        (LABEL_WORKER_ID.to_string(), spec.worker_id.clone()),
    ]);
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        // Set as the entrypoint so an image's own ENTRYPOINT cannot wrap the command.
        entrypoint: Some(vec!["sh".into(), "-c".into()]),
        cmd: Some(vec![spec.command.clone()]),
        env: Some(env),
        user: Some(JOB_USER.into()),
        working_dir: Some("/work".into()),
        labels: Some(labels),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        attach_stdin: Some(false),
        open_stdin: Some(false),
        tty: Some(false),
        network_disabled: Some(!network),
        host_config: Some(host_config(settings, spec, network)),
        ..ContainerCreateBody::default()
    }
}

/// The limits and isolation of the container: the job's memory and CPU, no capabilities, a
/// read-only root, a pids limit, and the work folder at `/work`.
fn host_config(settings: &DockerSettings, spec: &ExecSpec, network: bool) -> HostConfig {
    let memory = memory_mb(spec) * MIB;
    HostConfig {
        binds: Some(vec![format!("{}:/work:rw", spec.work_dir.display())]),
        memory: Some(memory),
        memory_swap: Some(memory),
        nano_cpus: Some(((spec.cpu * 1e9).round() as i64).max(MIN_NANO_CPUS)),
        network_mode: Some(if network { "bridge" } else { "none" }.to_string()),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        pids_limit: Some(settings.pids_limit),
        readonly_rootfs: Some(true),
        tmpfs: Some(HashMap::from([("/tmp".into(), TMPFS_OPTIONS.into())])),
        init: Some(true),
        // Output is read from the attach stream; the engine need not store it too.
        log_config: Some(HostConfigLogConfig {
            typ: Some("none".into()),
            config: None,
        }),
        ..HostConfig::default()
    }
}

/// The job's memory limit in MiB, never below Docker's minimum.
pub(super) fn memory_mb(spec: &ExecSpec) -> i64 {
    spec.ram_mb.max(MIN_MEMORY_MB)
}

/// Lets the job's user (nobody) write the work folder: chown when the agent is root,
/// otherwise open the permissions.
pub(super) fn make_writable_for_job(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let is_root = unsafe { libc::geteuid() } == 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.file_type().is_symlink() {
            continue;
        }
        if is_root {
            std::os::unix::fs::lchown(&path, Some(JOB_UID), Some(JOB_UID))?;
        } else {
            let mode = meta.permissions().mode() | if meta.is_dir() { 0o777 } else { 0o666 };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn spec(network: bool, ram_mb: i64) -> ExecSpec {
        ExecSpec {
            job_id: "j".into(),
            attempt: 3,
            worker_id: "w-1".into(),
            command: "echo hi".into(),
            image: "img:1".into(),
            env: BTreeMap::from([("A".to_string(), "b".to_string())]),
            cpu: 0.5,
            ram_mb,
            network,
            timeout: Duration::from_secs(1),
            work_dir: "/tmp/work-j".into(),
        }
    }

    fn settings(allow_network: bool) -> DockerSettings {
        DockerSettings {
            kill_grace: Duration::from_secs(1),
            max_output_bytes: 1024,
            allow_network,
            pids_limit: 64,
            usage_interval: Duration::from_millis(50),
            pull_timeout: Duration::from_secs(60),
        }
    }

    #[test]
    fn containers_are_hardened_and_labelled() {
        let body = container_body(&settings(true), &spec(false, 64));
        assert_eq!(body.user.as_deref(), Some(JOB_USER));
        assert_eq!(body.network_disabled, Some(true));
        assert_eq!(
            body.env.unwrap(),
            [
                "HOME=/work",
                "A=b",
                "GANTRY_ATTEMPT=3",
                "GANTRY_JOB_ID=j",
                "GANTRY_WORKER_ID=w-1"
            ]
        );
        let labels = body.labels.unwrap();
        assert_eq!(labels[LABEL_WORKER_ID], "w-1");
        assert_eq!(labels[LABEL_ATTEMPT], "3");
        let host = body.host_config.unwrap();
        assert_eq!(host.memory, Some(64 * MIB));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(host.network_mode.as_deref(), Some("none"));
        assert_eq!(host.readonly_rootfs, Some(true));
        assert_eq!(host.pids_limit, Some(64));
    }

    #[test]
    fn network_needs_both_the_job_and_the_worker_and_memory_has_a_floor() {
        let host = |allow, asks| {
            container_body(&settings(allow), &spec(asks, 1))
                .host_config
                .unwrap()
        };
        assert_eq!(host(true, true).network_mode.as_deref(), Some("bridge"));
        assert_eq!(host(false, true).network_mode.as_deref(), Some("none"));
        assert_eq!(host(true, false).memory, Some(MIN_MEMORY_MB * MIB));
        let mut tiny = spec(false, 64);
        tiny.cpu = 0.001;
        let host = container_body(&settings(false), &tiny).host_config.unwrap();
        assert_eq!(host.nano_cpus, Some(MIN_NANO_CPUS), "the kernel's floor");
    }
}
