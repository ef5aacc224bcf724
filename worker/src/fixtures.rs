//! Values the unit tests share.

use gantry_api::Job;

/// A job as the server delivers it: attempt `attempt` of `id`, running `true`.
pub(crate) fn job(id: &str, attempt: i64) -> Job {
    serde_json::from_value(serde_json::json!({
        "id": id, "status": "ASSIGNED", "command": "true", "image": null,
        "fileUrl": null, "filename": null, "env": {}, "requiredCpu": 1.0,
        "requiredRamMb": 64, "timeoutMs": 1000, "maxRetries": 0, "priority": 0,
        "network": false, "attempts": attempt, "failedAttempts": 0, "infraRetries": 0,
        "workerId": "w", "reason": null, "idempotencyKey": null, "createdAt": 0,
        "runAt": 0, "queuedAt": null, "assignedAt": null, "startedAt": null,
        "finishedAt": null, "exitCode": null, "stdout": null, "stderr": null,
        "error": null, "durationMs": null, "oomKilled": false
    }))
    .unwrap()
}
