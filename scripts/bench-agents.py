#!/usr/bin/env python3
"""Times real gantry-worker agents (process executor) on trivial jobs, beside the bare
spawn rate of `sh -c true` at the same parallelism.

usage: scripts/bench-agents.py [--jobs 2000] [--agents 2] [--slots 8] [--bin target/release]
Prints one line per figure; the server and agents run on a fresh SQLite database in a temp
folder and are stopped at the end."""
import argparse, json, os, socket, subprocess, sys, tempfile, time, urllib.request
from concurrent.futures import ThreadPoolExecutor


def post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"null")


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=60) as r:
        return json.loads(r.read())


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def spawn_rate(n, parallel):
    def one(_):
        subprocess.run(["sh", "-c", "true"], check=True)
    t = time.monotonic()
    with ThreadPoolExecutor(parallel) as ex:
        list(ex.map(one, range(n)))
    return n / (time.monotonic() - t)


def wait_until(pred, limit, what):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except Exception:
            pass
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")


def fleet(args):
    tmp = tempfile.mkdtemp(prefix="gantry-bench-agents-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    procs = []
    env = dict(os.environ, RUST_LOG="warn")
    procs.append(subprocess.Popen([f"{args.bin}/gantry", "serve", "--database-url",
                                   f"sqlite://{tmp}/g.db", "--bind", f"127.0.0.1:{port}"],
                                  env=env, stdout=subprocess.DEVNULL))
    try:
        wait_until(lambda: urllib.request.urlopen(base + "/healthz", timeout=1).status == 200,
                   30, "the server")
        for i in range(args.agents):
            wenv = dict(env, ENABLE_DOCKER="false", MAX_PARALLEL_JOBS=str(args.slots),
                        GANTRY_URL=base, WORKER_ID=f"bench-{i}",
                        GANTRY_STATE_DIR=f"{tmp}/state-{i}", GANTRY_WORK_DIR=f"{tmp}/work-{i}",
                        JOB_POLL_INTERVAL="1s")
            if args.batch_window is not None:
                wenv["GANTRY_BATCH_WINDOW"] = args.batch_window
            procs.append(subprocess.Popen([f"{args.bin}/gantry-worker"], env=wenv))
        wait_until(lambda: len(get(base, "/api/workers/list")["workers"]) >= args.agents, 30,
                   "the agents")
        t = time.monotonic()
        for start in range(0, args.jobs, 500):
            n = min(500, args.jobs - start)
            post(base, "/api/jobs/create-batch",
                 {"jobs": [{"command": "true"} for _ in range(n)]})
        wait_until(lambda: finished(base) >= args.jobs, 600, "the jobs")
        return args.jobs / (time.monotonic() - t)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()


def finished(base):
    """Jobs that reached an end state, from the server's metrics."""
    with urllib.request.urlopen(base + "/metrics", timeout=60) as r:
        text = r.read().decode()
    done = 0
    for line in text.splitlines():
        if line.startswith("gantry_jobs{") and any(
                f'"{s}"' in line for s in ("COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT")):
            done += float(line.rsplit(" ", 1)[1])
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--agents", type=int, default=2)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--bin", default="target/release")
    ap.add_argument("--batch-window", default=None)
    args = ap.parse_args()
    par = args.agents * args.slots
    spawns = sorted(spawn_rate(args.jobs, par) for _ in range(args.runs))
    agents = sorted(fleet(args) for _ in range(args.runs))
    med = lambda xs: xs[len(xs) // 2]
    print(f"bare spawn  sh -c true  x{par}: {med(spawns):7.0f}/s  (runs {[round(x) for x in spawns]})")
    print(f"real agents {args.agents}x{args.slots} process: {med(agents):7.0f} jobs/s  (runs {[round(x) for x in agents]})"
          f"  ratio {med(agents) / med(spawns):.2f}")


if __name__ == "__main__":
    main()
