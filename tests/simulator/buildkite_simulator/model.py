"""State model: users, pipelines, builds and jobs, with job states derived from the clock.

No background thread changes state. Each job stores when it was scheduled, when it starts
and when it finishes, and ``Job.state_at(now)`` derives its state from those times when it
is read. A job whose state does not move with time (a block step waiting for a person, a
job in a canceled build) stores a ``fixed_state`` instead.

Block steps order a build: a block step becomes unblockable once the latest attempt of every
job before it has finished, and the jobs after it stay ``waiting`` until it is unblocked.
Unblocking is the one event that changes other jobs: it gives the jobs up to the next block
step their schedule, start and finish times.
"""

import base64
import re
import uuid
from dataclasses import dataclass, field

from .blocks import BlockStep
from .errors import ApiError

# REST job states, from the Job data model in Buildkite's builds.md and the state[] filter of List jobs.
JOB_STATES = (
    "pending",
    "waiting",
    "waiting_failed",
    "blocked",
    "blocked_failed",
    "unblocked",
    "unblocked_failed",
    "scheduled",
    "assigned",
    "accepted",
    "running",
    "passed",
    "failed",
    "timed_out",
    "timing_out",
    "canceled",
    "canceling",
    "skipped",
    "broken",
    "expired",
    "limited",
)

JOB_TYPES = ("script", "waiter", "manual", "trigger")

# Outcomes a command job attempt can finish with.
ATTEMPT_OUTCOMES = ("passed", "failed", "timed_out", "canceled")

# States in which a job has started on an agent and not finished yet.
ACTIVE_STATES = frozenset({"assigned", "accepted", "running", "canceling", "timing_out"})

# States in which a job waits for an agent.
QUEUED_STATES = frozenset({"scheduled", "limited"})

# Finished states that make a build fail.
FAILING_STATES = frozenset({"failed", "timed_out", "canceled", "expired"})

# States in which a job is done: nothing before a later block step waits for it any more.
FINISHED_STATES = frozenset(
    {"passed", "failed", "timed_out", "canceled", "skipped", "broken", "expired", "unblocked", "unblocked_failed"}
)

# States of a block step that waits for a person.
BLOCKED_JOB_STATES = frozenset({"blocked", "blocked_failed"})

# States a manual retry accepts, from the API's message "Only failed, timed out or canceled jobs can be retried".
RETRYABLE_STATES = frozenset({"failed", "timed_out", "canceled"})

# Exit status, signal and signal reason that a finished attempt reports unless the scenario sets them.
# NOTE: what Buildkite reports for timed-out and canceled jobs is a guess: -1 with SIGTERM is what
# agents report for a process they terminated.
OUTCOME_EXIT_DETAILS = {
    "passed": (0, None, None),
    "failed": (1, None, None),
    "timed_out": (-1, "SIGTERM", None),
    "canceled": (-1, "SIGTERM", "cancel"),
}


def encode_graphql_id(kind, object_id):
    """Return Buildkite's GraphQL id for a REST object: base64 of ``<Kind>---<uuid>``."""
    return base64.b64encode(f"{kind}---{object_id}".encode()).decode()


@dataclass
class User:
    id: str
    name: str
    email: str
    created_at: float
    avatar_url: str = "https://www.gravatar.com/avatar/00000000000000000000000000000000"
    # Team slugs, checked against a block step's allowed_teams.
    teams: tuple = ()
    # Organization slugs the user belongs to, or None for every organization.
    organizations: frozenset | None = None

    @property
    def graphql_id(self):
        return encode_graphql_id("User", self.id)

    def belongs_to(self, organization):
        return self.organizations is None or organization in self.organizations


@dataclass
class Pipeline:
    organization: str
    slug: str
    id: str
    name: str
    repository: str
    default_branch: str = "main"


@dataclass
class JobDefinition:
    """The part of a job that every attempt shares: its step, command and what each attempt does.

    ``attempts`` lists the outcome of each attempt in order (the original job first). An
    attempt past the end of the list repeats the last outcome.
    """

    type: str
    position: int
    step_id: str
    step_key: str | None = None
    name: str | None = None
    command: str | None = None
    agent_query_rules: list = field(default_factory=list)
    attempts: list = field(default_factory=lambda: ["passed"])
    scheduled_seconds: float = 0.2
    running_seconds: float = 0.5
    permit_on_passed: bool = False
    parallel_group_index: int | None = None
    parallel_group_total: int | None = None
    group_key: str | None = None
    exit_status: int | None = None
    signal: str | None = None
    signal_reason: str | None = None
    soft_failed: bool = False
    # The block step of a manual job, or None for other job types.
    block: BlockStep | None = None
    # Log contents of a command job by attempt (an attempt past the end takes the last), or None
    # for the default log that names the command.
    logs: list | None = None
    # Environment variables that the scenario sets on this step, over the build's.
    env: dict = field(default_factory=dict)

    def outcome_of_attempt(self, attempt):
        return self.attempts[min(attempt, len(self.attempts) - 1)]


@dataclass
class Job:
    """One attempt of a job. A retry creates a new Job with a new id; the old one keeps its history."""

    id: str
    build: "Build" = field(repr=False)
    definition: JobDefinition
    attempt: int
    created_at: float
    scheduled_at: float | None
    runnable_at: float | None
    started_at: float | None
    finished_at: float | None
    outcome: str
    alias: str | None = None
    fixed_state: str | None = None
    retried: bool = False
    retried_in_job_id: str | None = None
    retries_count: int | None = None
    retry_type: str | None = None
    retry_source: dict | None = None
    retried_by: User | None = None
    # How many retry requests this job accepted. The API allows one, so anything above 1 is a bug.
    times_retried: int = 0
    unblocked_by: User | None = None
    unblocked_at: float | None = None
    # How many unblock requests this manual job accepted. The API allows one.
    times_unblocked: int = 0
    # The "fields" object of the accepted unblock request, as sent.
    unblock_fields: dict | None = None
    # True while the job waits in state "waiting" for a block step before it to be unblocked.
    waits_for_block: bool = False
    # Whether a DELETE of the log succeeded, and how many DELETE requests got a 204.
    log_deleted: bool = False
    times_log_deleted: int = 0

    @property
    def type(self):
        return self.definition.type

    @property
    def graphql_id(self):
        return encode_graphql_id("Job", self.id)

    def state_at(self, now):
        """Return the job's REST state at simulated time ``now``."""
        if self.fixed_state is not None:
            return self.fixed_state
        if self.started_at is None or now < self.started_at:
            return "scheduled"
        if self.finished_at is None or now < self.finished_at:
            return "running"
        return self.outcome

    def has_started(self, now):
        return self.fixed_state is None and self.started_at is not None and now >= self.started_at

    def has_finished(self, now):
        return self.fixed_state is None and self.finished_at is not None and now >= self.finished_at

    def is_done_at(self, now):
        """Return whether the job has finished by ``now``, by the clock or in a fixed finished state."""
        if self.fixed_state is not None:
            return self.fixed_state in FINISHED_STATES
        return self.has_finished(now)

    def release(self, now):
        """Schedule a job that waited for a block step: it starts and finishes after its durations from ``now``.

        A wait step has nothing to run, so it passes at once.
        """
        definition = self.definition
        self.waits_for_block = False
        self.fixed_state = None
        self.scheduled_at = now
        self.runnable_at = now
        if self.type == "waiter":
            self.started_at = now
            self.finished_at = now
        else:
            self.started_at = now + definition.scheduled_seconds
            self.finished_at = self.started_at + definition.running_seconds

    def exit_details(self, now):
        """Return ``(exit_status, signal, signal_reason)``: all None until the job has finished."""
        if not self.has_finished(now) or self.type != "script":
            return None, None, None
        return self.outcome_exit_details()

    def outcome_exit_details(self):
        """Return the ``(exit_status, signal, signal_reason)`` that the attempt reports once it finishes."""
        default_exit_status, default_signal, default_signal_reason = OUTCOME_EXIT_DETAILS[self.outcome]
        definition = self.definition
        exit_status = definition.exit_status if definition.exit_status is not None else default_exit_status
        signal = definition.signal if definition.signal is not None else default_signal
        signal_reason = definition.signal_reason if definition.signal_reason is not None else default_signal_reason
        return exit_status, signal, signal_reason


@dataclass
class Build:
    id: str
    number: int
    pipeline: Pipeline
    branch: str
    commit: str
    message: str
    creator: User
    created_at: float
    source: str = "ui"
    canceled_at: float | None = None
    jobs: list = field(default_factory=list, repr=False)
    # Build meta-data: strings by key, including the fields of unblocked block steps.
    meta_data: dict = field(default_factory=dict)
    # Environment variables that the scenario sets on every job of the build.
    env: dict = field(default_factory=dict)

    @property
    def organization(self):
        return self.pipeline.organization

    @property
    def graphql_id(self):
        return encode_graphql_id("Build", self.id)

    @property
    def is_canceled(self):
        return self.canceled_at is not None

    def ordered_jobs(self):
        """Return all jobs in step order, each retry right after the attempt it replaced."""
        return sorted(self.jobs, key=lambda job: (job.definition.position, job.attempt))

    def latest_jobs(self):
        """Return the latest attempt of every job, the set Get a build returns by default."""
        return [job for job in self.ordered_jobs() if not job.retried]

    def state_at(self, now):
        """Derive the build's state from its latest jobs.

        A build is canceled only when the scenario marks it canceled. Otherwise it is running while a job
        runs, scheduled while jobs wait for an agent and none has started, and once nothing is
        running or queued it is failed if a job failed, timed out, expired or was canceled, and
        passed otherwise. Jobs that wait for a person or an earlier step are ignored, so a build
        stopped at a block step reads passed (or failed) with ``blocked: true``, unless that
        step's ``blocked_state`` is ``failed`` or ``running``, which the build then shows.
        """
        if self.is_canceled:
            return "canceled"
        blocking_job = self.blocking_job_at(now)
        if blocking_job is not None and blocking_job.definition.block.blocked_state != "passed":
            return blocking_job.definition.block.blocked_state
        latest = self.latest_jobs()
        states = [job.state_at(now) for job in latest]
        if any(state in ACTIVE_STATES for state in states):
            return "running"
        if any(state in QUEUED_STATES for state in states):
            if any(job.has_started(now) for job in self.jobs):
                return "running"
            return "scheduled"
        failing = [job for job in latest if job.state_at(now) in FAILING_STATES and not job.definition.soft_failed]
        return "failed" if failing else "passed"

    def is_unblockable(self, job, now):
        """Return whether block step ``job`` waits for a person and every job before it has finished.

        "Before" is the latest attempt of each job at an earlier position, so a retried attempt
        that still runs keeps the block step waiting. A block step of a canceled build is never
        unblockable.
        """
        if job.type != "manual" or self.is_canceled or job.state_at(now) not in BLOCKED_JOB_STATES:
            return False
        position = job.definition.position
        return all(other.is_done_at(now) for other in self.latest_jobs() if other.definition.position < position)

    def blocking_job_at(self, now):
        """Return the block step the build waits at (an unblockable one), or None."""
        for job in self.latest_jobs():
            if self.is_unblockable(job, now):
                return job
        return None

    def is_blocked_at(self, now):
        return self.blocking_job_at(now) is not None

    def release_after(self, block_job, now):
        """Schedule the jobs that waited for ``block_job``, up to the next block step."""
        for job in self.ordered_jobs():
            if job.definition.position <= block_job.definition.position:
                continue
            if job.type == "manual":
                break
            if job.waits_for_block:
                job.release(now)

    def started_at(self, now):
        starts = [job.started_at for job in self.jobs if job.has_started(now)]
        return min(starts) if starts else None

    def finished_at(self, now):
        if self.is_canceled:
            return self.canceled_at
        if self.state_at(now) not in ("passed", "failed"):
            return None
        finishes = [job.finished_at for job in self.jobs if job.has_finished(now)]
        return max(finishes) if finishes else self.created_at


@dataclass
class World:
    """Everything a scenario defines, plus the jobs that retries created since it was loaded."""

    scenario_name: str
    namespace: uuid.UUID
    default_user: User
    users: dict = field(default_factory=dict)
    pipelines: dict = field(default_factory=dict)
    builds: dict = field(default_factory=dict)
    jobs: dict = field(default_factory=dict)
    aliases: dict = field(default_factory=dict)
    new_job_count: int = 0

    @property
    def organizations(self):
        return {pipeline.organization for pipeline in self.pipelines.values()}

    def find_pipeline(self, organization, pipeline_slug):
        pipeline = self.pipelines.get((organization, pipeline_slug))
        if pipeline is None:
            raise ApiError(404, "No pipeline found")
        return pipeline

    def find_build(self, organization, pipeline_slug, number):
        self.find_pipeline(organization, pipeline_slug)
        build = self.builds.get((organization, pipeline_slug, number))
        if build is None:
            raise ApiError(404, "No build found")
        return build

    def find_user(self, user_id):
        """Return the user with UUID ``user_id`` (any case), or None."""
        normalized = normalize_uuid(user_id)
        return next((user for user in self.users.values() if user.id == normalized), None)

    def find_job(self, organization, job_id, build=None):
        """Return the job with ``job_id`` in the organization, and in ``build`` when given; else raise a 404."""
        job = self.jobs.get(normalize_uuid(job_id))
        if job is None or job.build.organization != organization:
            raise ApiError(404, "No job found")
        if build is not None and job.build is not build:
            raise ApiError(404, "No job found")
        return job

    def add_job(self, job):
        self.jobs[job.id] = job
        job.build.jobs.append(job)

    def next_job_id(self):
        """Return a new job UUID that depends only on the scenario and how many jobs were created before."""
        self.new_job_count += 1
        return str(uuid.uuid5(self.namespace, f"job-attempt-{self.new_job_count}"))

    def retry_job(self, job, user, now, already_retried_status):
        """Retry ``job`` as the API does and return the new attempt, or raise the API's error.

        The checks run in this order: job type, canceled build, already retried, job state.
        """
        not_retryable = "Only failed, timed out or canceled jobs can be retried"
        if job.type != "script":
            raise ApiError(400, not_retryable)
        if job.build.is_canceled:
            raise ApiError(422, "Jobs from canceled builds cannot be retried")
        if job.retried:
            raise ApiError(already_retried_status, "Jobs can only be retried once")
        state = job.state_at(now)
        permitted_pass = state == "passed" and job.definition.permit_on_passed
        if state not in RETRYABLE_STATES and not permitted_pass:
            raise ApiError(400, not_retryable)

        definition = job.definition
        attempt = job.attempt + 1
        started_at = now + definition.scheduled_seconds
        new_job = Job(
            id=self.next_job_id(),
            build=job.build,
            definition=definition,
            attempt=attempt,
            created_at=now,
            scheduled_at=now,
            runnable_at=now,
            started_at=started_at,
            finished_at=started_at + definition.running_seconds,
            outcome=definition.outcome_of_attempt(attempt),
            retries_count=(job.retries_count or 0) + 1,
            retry_type="manual",
            retry_source={"job_id": job.id, "retry_type": "manual"},
            retried_by=user,
        )
        self.add_job(new_job)
        job.retried = True
        job.retried_in_job_id = new_job.id
        job.times_retried += 1
        return new_job

    def unblock_job(self, job, token_user, body, config, now):
        """Unblock block step ``job`` as the API does and return it, or raise the API's error.

        ``body`` is the request's JSON object with the optional ``unblocker`` (a user UUID) and
        ``fields``. The checks run in this order: the body's shape, job type, canceled build, job
        state, unblockable, allowed teams of ``token_user``, unblocker, field values.
        """
        fields = body.get("fields")
        if fields is None:
            fields = {}
        if not isinstance(fields, dict):
            raise ApiError(400, f"fields must be a JSON object of field keys to values, got {type(fields).__name__}")
        if job.type != "manual":
            raise ApiError(400, "This job type cannot be unblocked")
        build = job.build
        if build.is_canceled:
            raise ApiError(422, "Jobs from canceled builds cannot be unblocked")
        if job.state_at(now) not in BLOCKED_JOB_STATES:
            raise ApiError(config.already_unblocked_status, "The job's state must be blocked")
        if not build.is_unblockable(job, now):
            raise ApiError(config.not_unblockable_status, config.not_unblockable_message)
        block = job.definition.block
        if not block.allows(token_user):
            raise ApiError(403, "Forbidden")

        unblocker = token_user
        if body.get("unblocker") is not None:
            unblocker = self.find_user(body["unblocker"])
            if unblocker is None or not unblocker.belongs_to(build.organization):
                raise ApiError(422, "Unblocker is not a valid user id for this organization")
        meta_data = block.resolve_fields(fields, config.unblock_accepts_arrays)

        job.fixed_state = "unblocked"
        job.unblocked_by = unblocker
        job.unblocked_at = now
        job.times_unblocked += 1
        job.unblock_fields = dict(fields)
        build.meta_data.update(meta_data)
        build.release_after(job, now)
        return job


UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def normalize_uuid(value):
    """Return ``value`` in lower case if it is a hyphenated UUID, else None."""
    if not isinstance(value, str) or not UUID_PATTERN.fullmatch(value):
        return None
    return value.lower()
