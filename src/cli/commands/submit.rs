//! `gantry submit`: create a job, optionally with an input file, and optionally wait for it.

use super::{print_json, ServerArgs};
use crate::cli::client::ClientError;
use gantry::config::millis;
use gantry_api::parse_duration;
use gantry_api::{CreateJobRequest, Job, JobStatus, JobStatusResponse, PullPolicy, UploadResponse};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Exit code of `submit --wait` for a job that timed out (as `timeout(1)` does).
pub const EXIT_TIMED_OUT: i32 = 124;
/// Exit code of `submit --wait` for a cancelled job.
pub const EXIT_CANCELLED: i32 = 130;

/// The job to submit.
#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// CPU cores to reserve.
    #[arg(long)]
    pub cpu: Option<f64>,
    /// Memory to reserve and enforce, in MiB.
    #[arg(long)]
    pub ram: Option<i64>,
    /// Timeout of one attempt (e.g. 30s, 5m).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Container image.
    #[arg(long)]
    pub image: Option<String>,
    /// When the worker pulls the image: if-not-present, always or never (the worker's
    /// --pull-policy when absent).
    #[arg(long, value_parser = parse_pull)]
    pub pull: Option<PullPolicy>,
    /// A file to upload as the job's input (a .zip is unpacked in the work folder).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Retries after a failure or timeout.
    #[arg(long)]
    pub retries: Option<i64>,
    /// Higher runs first.
    #[arg(long)]
    pub priority: Option<i64>,
    /// Environment variable NAME=VALUE (repeatable).
    #[arg(long = "env", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// Wait for the end, print the job's output, and exit with its exit code.
    #[arg(long)]
    pub wait: bool,
    /// The command (after `--`), run with `sh -c`: one argument is taken as a shell command
    /// as it is (`-- 'make test && echo ok'`); several are an argument list, each quoted so
    /// that it reaches the program as typed (`-- sh -c 'echo $HOME'`).
    #[arg(required = true, last = true)]
    pub command: Vec<String>,
}

/// The shell command for the job: a lone argument as it is, several quoted and joined, as
/// a shell would need them to run that argument list.
fn shell_command(args: &[String]) -> Result<String, ClientError> {
    match args {
        [one] => Ok(one.clone()),
        many => shlex::try_join(many.iter().map(String::as_str))
            .map_err(|e| ClientError::Decode(format!("cannot quote the command: {e}"))),
    }
}

fn parse_env(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE"))
}

/// Submits the job; with `--wait`, follows it to the end.
pub async fn submit(server: &ServerArgs, args: SubmitArgs) -> Result<i32, ClientError> {
    let client = server.client();
    let (file_url, filename) = match &args.file {
        None => (None, None),
        Some(path) => {
            let bytes = std::fs::read(path)
                .map_err(|e| ClientError::Decode(format!("cannot read {}: {e}", path.display())))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "input".into());
            let up: UploadResponse = client.upload("/api/uploads", &name, bytes).await?;
            (Some(up.file_url), Some(up.filename))
        }
    };
    let request = CreateJobRequest {
        command: shell_command(&args.command)?,
        image: args.image,
        file_url,
        filename,
        env: args.env.into_iter().collect::<BTreeMap<_, _>>(),
        required_cpu: args.cpu,
        required_ram_mb: args.ram,
        timeout_ms: args.timeout.map(millis),
        max_retries: args.retries,
        pull: args.pull,
        priority: args.priority,
        ..Default::default()
    };
    let job: Job = client.post("/api/jobs/create", &request).await?;
    if !args.wait {
        if server.json {
            print_json(&job);
        } else {
            println!("{}", job.id);
        }
        return Ok(0);
    }
    eprintln!("submitted {} ({})", job.id, job.status);
    let done = wait_for_end(server, &job.id).await?;
    if server.json {
        print_json(&done);
    } else {
        print!("{}", done.job.stdout.clone().unwrap_or_default());
        eprint!("{}", done.job.stderr.clone().unwrap_or_default());
        if done.job.status != JobStatus::Completed {
            let why = done
                .job
                .error
                .clone()
                .or(done.job.reason.clone())
                .unwrap_or_default();
            eprintln!("job {} ended {}: {why}", done.job.id, done.job.status);
        }
    }
    Ok(exit_code(&done.job))
}

async fn wait_for_end(server: &ServerArgs, id: &str) -> Result<JobStatusResponse, ClientError> {
    let client = server.client();
    let mut delay = Duration::from_millis(50);
    loop {
        let s: JobStatusResponse = client.get(&format!("/api/jobs/status?jobId={id}")).await?;
        if s.job.status.is_terminal() {
            return Ok(s);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// The exit code `submit --wait` ends with for a finished job.
pub fn exit_code(job: &Job) -> i32 {
    match job.status {
        JobStatus::Completed => 0,
        JobStatus::TimedOut => EXIT_TIMED_OUT,
        JobStatus::Cancelled => EXIT_CANCELLED,
        _ => job
            .exit_code
            .and_then(|c| i32::try_from(c).ok())
            .filter(|c| (1..=255).contains(c))
            .unwrap_or(1),
    }
}

/// Parses `--pull` (`if-not-present`, `always`, `never`).
fn parse_pull(text: &str) -> Result<PullPolicy, String> {
    text.parse()
}

#[cfg(test)]
mod tests {
    use super::shell_command;

    fn command(args: &[&str]) -> String {
        shell_command(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn one_argument_is_a_shell_command_and_several_are_an_argument_list() {
        assert_eq!(command(&["make test && echo ok"]), "make test && echo ok");
        assert_eq!(command(&["echo", "hello"]), "echo hello");
        assert_eq!(
            command(&["sh", "-c", "echo $HOME; ls"]),
            "sh -c 'echo $HOME; ls'"
        );
        // Whatever the arguments hold, a shell splits the command back into them.
        let awkward = ["printf", "%s\\n", "it's", "a \"b\" $c", "*", ""];
        assert_eq!(shlex::split(&command(&awkward)).unwrap(), awkward);
    }
}
