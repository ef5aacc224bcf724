#!/usr/bin/env python3
"""The time of a job whose image must be pulled, beside one whose image is present.

Starts the release `gantry serve` (SQLite in a temporary folder) and one release Docker agent,
the local registry of scripts/test-registry.sh, and then, ROUNDS times in turn:
  - present: one job of `gantry-test-busybox:latest` (held by the engine), command `true`;
  - first use: the registry's tag removed from the engine, then one job naming it;
  - N present: SHARED jobs of the present image, submitted in one batch;
  - shared: the tag removed again, then SHARED jobs naming it, submitted in one batch.
Each figure is the server's own record: created_at to finished_at of the job (for `shared`, to
the last job's end), and the agent's measured pull time (usage.pullMs). Medians over the rounds.

Usage: scripts/bench-pulls.py [--rounds 7] [--shared 4]
Needs: cargo build --release -p gantry -p gantry-worker; a Docker engine; the test image.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PORT = 18473


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def get(base, path):
    with urllib.request.urlopen(base + path) as r:
        return json.load(r)


def wait_until(what, check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    sys.exit(f"bench-pulls: timed out waiting for {what}")


def finished(base, ids):
    jobs = [get(base, f"/api/jobs/status?jobId={i}") for i in ids]
    if all(j["status"] in ("COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED") for j in jobs):
        return jobs
    return None


def run_jobs(base, image, count):
    jobs = [{"command": "true", "image": image, "requiredCpu": 0.25, "requiredRamMb": 32}
            for _ in range(count)]
    created = post(base, "/api/jobs/create-batch", {"jobs": jobs})
    ids = [j["id"] for j in created["jobs"]]
    done = wait_until("the jobs", lambda: finished(base, ids))
    bad = [j for j in done if j["status"] != "COMPLETED"]
    if bad:
        sys.exit(f"bench-pulls: a job did not complete: {bad[0]}")
    took = max(j["finishedAt"] for j in done) - min(j["createdAt"] for j in done)
    pulls = [j.get("usage", {}).get("pullMs") for j in done]
    return took, pulls


def rmi(image):
    subprocess.run(["docker", "rmi", "-f", image], check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--rounds", type=int, default=7)
    args.add_argument("--shared", type=int, default=4)
    opts = args.parse_args()

    env_lines = subprocess.run([os.path.join(ROOT, "scripts/test-registry.sh")], check=True,
                               capture_output=True, text=True).stdout.split()
    registry = dict(line.split("=", 1) for line in env_lines)["GANTRY_TEST_REGISTRY"]
    pulled = f"{registry}/gantry-test-busybox:v1"
    tmp = tempfile.mkdtemp(prefix="gantry-bench-pulls-")
    base = f"http://127.0.0.1:{PORT}"
    release = os.path.join(ROOT, "target", "release")
    quiet = {"RUST_LOG": "warn", "PATH": os.environ["PATH"]}
    server = subprocess.Popen(
        [os.path.join(release, "gantry"), "serve", "--bind", f"127.0.0.1:{PORT}",
         "--database-url", f"sqlite://{tmp}/gantry.db"], env=quiet)
    agent = None
    try:
        wait_until("the server", lambda: _answers(base))
        agent = subprocess.Popen(
            [os.path.join(release, "gantry-worker")],
            env={**quiet, "GANTRY_URL": base, "WORKER_ID": "bench-pulls",
                 "MAX_PARALLEL_JOBS": str(max(opts.shared, 2)), "JOB_POLL_INTERVAL": "1s",
                 "GANTRY_WORK_DIR": f"{tmp}/work", "GANTRY_STATE_DIR": f"{tmp}/state",
                 "HOME": tmp})
        wait_until("the agent", lambda: get(base, "/api/workers/list")["workers"])
        run_jobs(base, "gantry-test-busybox:latest", 1)  # warm up
        shared = f"shared by {opts.shared}"
        present_n = f"{opts.shared} present"
        figures = {"present": [], "first use": [], present_n: [], shared: []}
        pull_ms = {"first use": [], shared: []}
        for _ in range(opts.rounds):
            took, _ = run_jobs(base, "gantry-test-busybox:latest", 1)
            figures["present"].append(took)
            rmi(pulled)
            took, pulls = run_jobs(base, pulled, 1)
            figures["first use"].append(took)
            pull_ms["first use"].append(pulls[0])
            took, _ = run_jobs(base, "gantry-test-busybox:latest", opts.shared)
            figures[present_n].append(took)
            rmi(pulled)
            took, pulls = run_jobs(base, pulled, opts.shared)
            figures[shared].append(took)
            pull_ms[shared].append(max(p or 0 for p in pulls))
        size = subprocess.run(["docker", "image", "inspect", "-f", "{{.Size}}", pulled],
                              capture_output=True, text=True).stdout.strip()
        print(f"image {pulled}: {size} bytes; medians of {opts.rounds} rounds, ms")
        for name, values in figures.items():
            line = f"{name:>12}: job(s) created to done {statistics.median(values):.0f}"
            if name in pull_ms:
                line += f", pull {statistics.median(pull_ms[name]):.0f}"
            print(line)
    finally:
        for proc in (agent, server):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
        rmi(pulled)
        shutil.rmtree(tmp, ignore_errors=True)


def _answers(base):
    try:
        get(base, "/api/workers/list")
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
