"""Schemathesis hooks for scripts/fuzz-api.sh: the credentials each route takes, and short
long polls.

Loaded through SCHEMATHESIS_HOOKS. The server under test runs with an API token and a worker
join token; each agent it registers gets a token of its own. One header for every request
would leave most worker routes at 401/403, so this hook gives each request the token its
route takes: the API token to client routes, the join token to registration, and to a worker
route the token of the worker its body names (a worker the fuzzer registered itself, or the
one the script registered). A worker id nobody registered gets the script's worker's token,
so the 403 path (a token acting for another worker) is exercised too.

Long polls (`waitMs` on get-job, `wait=true` on execute) are capped at a few milliseconds: no
agent runs the fuzzer's jobs, so a real wait would only burn the time budget. The waits
themselves are tested in tests/routes.
"""

import os

import schemathesis

API_TOKEN = os.environ.get("GANTRY_FUZZ_API_TOKEN")
JOIN_TOKEN = os.environ.get("GANTRY_FUZZ_JOIN_TOKEN")
WORKER_ID = os.environ.get("GANTRY_FUZZ_WORKER_ID")
WORKER_TOKEN = os.environ.get("GANTRY_FUZZ_WORKER_TOKEN")

# When set, every answer is logged to this file (method, path, status, the start of the body).
LOG = os.environ.get("GANTRY_FUZZ_LOG")

# The longest wait, in milliseconds, a fuzzed long poll may ask for.
MAX_FUZZ_WAIT_MS = 20

# Tokens of the workers registered so far, by id (the script's worker first).
TOKENS = {WORKER_ID: WORKER_TOKEN} if WORKER_ID and WORKER_TOKEN else {}

WORKER_ROUTES = {
    "/api/workers/heartbeat",
    "/api/jobs/get-job",
    "/api/jobs/start",
    "/api/jobs/start-batch",
    "/api/jobs/submit-result",
    "/api/jobs/submit-result-batch",
}


def _token_for(path, body):
    if path == "/api/workers/register":
        named = body.get("workerId") if isinstance(body, dict) else None
        # An online worker's id takes its own token; any other id the join token.
        return TOKENS.get(named, JOIN_TOKEN) if isinstance(named, str) else JOIN_TOKEN
    if path in WORKER_ROUTES:
        named = body.get("workerId") if isinstance(body, dict) else None
        # The script's worker's token as it is now: a re-registration gives it a new one.
        own = TOKENS.get(WORKER_ID, WORKER_TOKEN)
        return TOKENS.get(named, own) if isinstance(named, str) else own
    return API_TOKEN


def _cap(value):
    """A wait of at most MAX_FUZZ_WAIT_MS; anything not a number is left for the server to refuse."""
    if isinstance(value, bool):
        return value
    # A whole float is a number of milliseconds too.
    if isinstance(value, (int, float)) and value > MAX_FUZZ_WAIT_MS:
        return MAX_FUZZ_WAIT_MS
    # Query values may come as text.
    if isinstance(value, str) and value.strip().isdigit() and int(value) > MAX_FUZZ_WAIT_MS:
        return str(MAX_FUZZ_WAIT_MS)
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    if API_TOKEN is not None:
        token = _token_for(path, case.body)
        if token:
            headers = dict(case.headers or {})
            headers["Authorization"] = f"Bearer {token}"
            case.headers = headers
    if path == "/api/jobs/get-job" and isinstance(case.body, dict) and "waitMs" in case.body:
        case.body["waitMs"] = _cap(case.body["waitMs"])
    if path == "/api/execute" and isinstance(case.query, dict) and "wait" in case.query:
        query = dict(case.query)
        query["waitMs"] = _cap(query.get("waitMs", MAX_FUZZ_WAIT_MS))
        case.query = query


@schemathesis.hook
def after_call(context, case, response):
    if LOG:
        with open(LOG, "a", encoding="utf-8") as log:
            text = response.content[:300].decode("utf-8", errors="replace")
            log.write(f"{case.method} {case.operation.path} {response.status_code} {text!r}\n")
    if case.operation.path != "/api/workers/register" or response.status_code != 200:
        return
    try:
        answer = response.json()
    except ValueError:
        return
    if isinstance(answer, dict) and answer.get("workerId") and answer.get("token"):
        TOKENS[answer["workerId"]] = answer["token"]
