"""Scenario files: JSON descriptions of users, tokens, pipelines, builds and jobs.

The README describes the format. Loading a scenario turns it into a ``World`` whose
timestamps are relative to the moment it is loaded.
"""

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .auth import DEFAULT_TOKEN_SCOPES, Token, validate_scopes
from .blocks import BLOCK_STEP_KEYS, parse_block_step
from .errors import ApiError
from .job_env import ENV_NAME_PATTERN, is_reserved_env_name
from .log_content import LogSpecError, parse_log_spec
from .model import (
    ATTEMPT_OUTCOMES,
    BLOCKED_JOB_STATES,
    JOB_STATES,
    JOB_TYPES,
    Build,
    Job,
    JobDefinition,
    Pipeline,
    User,
    World,
    normalize_uuid,
)

SCENARIO_DIRECTORY = Path(__file__).parent / "scenarios"

# The user of the default tokens when a scenario defines no users.
BUILT_IN_USER = {
    "id": "0199a1b2-0000-4000-8000-000000000001",
    "name": "Simulator User",
    "email": "sim-user@example.com",
    "created_at": "2024-01-15T09:30:00.000Z",
}

# Times of attempts that already finished when the scenario loads: attempt k of a job is created
# ATTEMPT_SPACING_SECONDS * k after the build, starts 2 s later and runs for 60 s.
ATTEMPT_SPACING_SECONDS = 120
HISTORY_START_DELAY_SECONDS = 2
HISTORY_RUN_SECONDS = 60

DEFAULT_BUILD_AGE_SECONDS = 3600

# A block step that the scenario marks unblocked was unblocked this long after the jobs before it finished.
UNBLOCK_DELAY_SECONDS = 30

_USER_KEYS = {"id", "name", "email", "created_at", "teams", "organizations"}

_BUILD_KEYS = {
    "organization",
    "pipeline",
    "number",
    "id",
    "state",
    "branch",
    "commit",
    "message",
    "creator",
    "source",
    "created_seconds_ago",
    "meta_data",
    "env",
    "jobs",
}
_JOB_KEYS = {
    "alias",
    "id",
    "type",
    "step_key",
    "step_id",
    "name",
    "command",
    "agent_query_rules",
    "state",
    "attempts",
    "durations",
    "permit_on_passed",
    "parallel_group_index",
    "parallel_group_total",
    "group_key",
    "exit_status",
    "signal",
    "signal_reason",
    "soft_fail",
    "retries",
    "description",
    "unblocked_by",
    "unblock_fields",
    "log",
    "attempt_logs",
    "env",
    *BLOCK_STEP_KEYS,
}

# Job keys that apply only to command (script) jobs, which run on an agent.
_COMMAND_JOB_KEYS = ("log", "attempt_logs", "env")


class ScenarioError(ValueError):
    """A scenario file that cannot be loaded; the message names the file and the invalid entry."""


@dataclass
class Scenario:
    name: str
    data: dict
    source: str


@dataclass
class LoadedScenario:
    """A scenario instantiated at one moment: its world, tokens and preset config changes."""

    world: World
    tokens: list
    config_changes: dict
    description: str


def available_scenarios():
    """Return the names of the scenarios bundled with the simulator."""
    return sorted(path.stem for path in SCENARIO_DIRECTORY.glob("*.json"))


def read_scenario(name_or_path):
    """Read a bundled scenario by name (``retry``) or any scenario file by path (``/tmp/mine.json``)."""
    text = str(name_or_path)
    if text.endswith(".json") or "/" in text:
        path = Path(text)
    else:
        path = SCENARIO_DIRECTORY / f"{text}.json"
        if not path.is_file():
            raise ScenarioError(f"unknown scenario {text!r}; bundled scenarios: {', '.join(available_scenarios())}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ScenarioError(f"cannot read scenario file {path}: {error}") from error
    except json.JSONDecodeError as error:
        raise ScenarioError(f"scenario file {path} is not valid JSON: {error}") from error
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario file {path} must contain a JSON object")
    return Scenario(name=path.stem, data=data, source=str(path))


def instantiate(scenario, now):
    """Build the World of ``scenario`` with every timestamp relative to simulated time ``now``."""
    try:
        return _Instantiation(scenario, now).run()
    except ScenarioError as error:
        raise ScenarioError(f"scenario {scenario.source}: {error}") from error


class _Instantiation:
    def __init__(self, scenario, now):
        self.scenario = scenario
        self.data = scenario.data
        self.now = now
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"buildkite-simulator/scenario/{scenario.name}")
        # Log files named by {"file": ...} live in logs/ beside the scenario file.
        self.logs_directory = Path(scenario.source).parent / "logs"

    def run(self):
        users = self._users()
        default_user_key = self.data.get("default_user", next(iter(users)))
        if default_user_key not in users:
            raise ScenarioError(f"default_user {default_user_key!r} is not in users")
        world = World(
            scenario_name=self.scenario.name,
            namespace=self.namespace,
            default_user=users[default_user_key],
            users=users,
        )
        for index, spec in enumerate(self.data.get("pipelines", [])):
            self._add_pipeline(world, spec, f"pipelines[{index}]")
        for index, spec in enumerate(self.data.get("builds", [])):
            self._add_build(world, spec, f"builds[{index}]")
        return LoadedScenario(
            world=world,
            tokens=self._tokens(world),
            config_changes=self.data.get("config", {}),
            description=self.data.get("description", ""),
        )

    def _users(self):
        specs = self.data.get("users") or {"sim": BUILT_IN_USER}
        if not isinstance(specs, dict):
            raise ScenarioError("users must be an object of user keys to users")
        users = {}
        for key, spec in specs.items():
            where = f"users.{key}"
            unknown = sorted(set(spec) - _USER_KEYS)
            if unknown:
                raise ScenarioError(f"{where}: unknown keys {unknown}; valid keys: {', '.join(sorted(_USER_KEYS))}")
            user_id = self._uuid(spec.get("id"), f"{where}.id")
            organizations = spec.get("organizations")
            if organizations is not None:
                organizations = frozenset(self._strings(organizations, f"{where}.organizations"))
            users[key] = User(
                id=user_id,
                name=self._string(spec.get("name"), f"{where}.name"),
                email=self._string(spec.get("email"), f"{where}.email"),
                created_at=self._timestamp(spec.get("created_at", BUILT_IN_USER["created_at"]), f"{where}.created_at"),
                teams=tuple(self._strings(spec.get("teams", []), f"{where}.teams")),
                organizations=organizations,
            )
        return users

    def _tokens(self, world):
        tokens = []
        if self.data.get("default_tokens", True):
            for token, scopes in DEFAULT_TOKEN_SCOPES.items():
                tokens.append(
                    Token(token=token, scopes=frozenset(scopes), user=world.default_user, created_at=self.now)
                )
        for index, spec in enumerate(self.data.get("tokens", [])):
            tokens.append(token_from_spec(spec, world, self.now, f"tokens[{index}]"))
        return tokens

    def _add_pipeline(self, world, spec, where):
        organization = self._string(spec.get("organization"), f"{where}.organization")
        slug = self._string(spec.get("slug"), f"{where}.slug")
        world.pipelines[(organization, slug)] = Pipeline(
            organization=organization,
            slug=slug,
            id=self._uuid(spec.get("id"), f"{where}.id"),
            name=spec.get("name", slug),
            repository=spec.get("repository", f"git@github.com:{organization}/{slug}.git"),
            default_branch=spec.get("default_branch", "main"),
        )

    def _pipeline_for(self, world, organization, slug):
        pipeline = world.pipelines.get((organization, slug))
        if pipeline is None:
            pipeline = Pipeline(
                organization=organization,
                slug=slug,
                id=str(uuid.uuid5(self.namespace, f"pipeline/{organization}/{slug}")),
                name=slug,
                repository=f"git@github.com:{organization}/{slug}.git",
            )
            world.pipelines[(organization, slug)] = pipeline
        return pipeline

    def _add_build(self, world, spec, where):
        unknown = sorted(set(spec) - _BUILD_KEYS)
        if unknown:
            raise ScenarioError(f"{where}: unknown keys {unknown}")
        organization = self._string(spec.get("organization"), f"{where}.organization")
        pipeline = self._pipeline_for(world, organization, self._string(spec.get("pipeline"), f"{where}.pipeline"))
        number = spec.get("number")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ScenarioError(f"{where}.number must be a positive integer, got {number!r}")
        if (organization, pipeline.slug, number) in world.builds:
            raise ScenarioError(f"{where}: build {organization}/{pipeline.slug}#{number} is defined twice")
        creator_key = spec.get("creator", next(iter(world.users)))
        if creator_key not in world.users:
            raise ScenarioError(f"{where}.creator {creator_key!r} is not in users")
        state = spec.get("state")
        if state not in (None, "canceled"):
            raise ScenarioError(f"{where}.state may only be \"canceled\"; other build states derive from the jobs")

        build = Build(
            id=self._uuid(spec.get("id"), f"{where}.id"),
            number=number,
            pipeline=pipeline,
            branch=spec.get("branch", pipeline.default_branch),
            commit=spec.get("commit", "0" * 40),
            message=spec.get("message", ""),
            creator=world.users[creator_key],
            created_at=self.now - spec.get("created_seconds_ago", DEFAULT_BUILD_AGE_SECONDS),
            source=spec.get("source", "ui"),
            meta_data=self._meta_data(spec.get("meta_data", {}), f"{where}.meta_data"),
            env=self._env(spec.get("env", {}), f"{where}.env"),
        )
        world.builds[(organization, pipeline.slug, number)] = build
        self._add_jobs(world, build, spec.get("jobs", []), where)

        if state == "canceled":
            unfinished = [
                job.alias or job.id for job in build.jobs if not job.has_finished(self.now) and job.fixed_state is None
            ]
            if unfinished:
                raise ScenarioError(
                    f"{where}: the jobs of a canceled build must have finished; not finished: {unfinished}"
                )
            finishes = [job.finished_at for job in build.jobs if job.finished_at is not None]
            build.canceled_at = min(self.now, max(finishes, default=build.created_at) + 1)

    def _add_jobs(self, world, build, job_specs, where):
        """Add a build's jobs in step order.

        The first block step that is not unblocked holds back the jobs after it: they are
        ``waiting`` (block steps ``blocked``) until it is unblocked. Jobs after a block step that
        the scenario marks unblocked have their history start when it was unblocked.
        """
        pending_block = None
        phase_start = build.created_at
        for index, job_spec in enumerate(job_specs):
            job = self._add_job_chain(
                world, build, job_spec, index, f"{where}.jobs[{index}]", pending_block, phase_start
            )
            if job.type != "manual" or pending_block is not None:
                continue
            if job.fixed_state == "unblocked":
                phase_start = job.unblocked_at
            elif job.fixed_state in BLOCKED_JOB_STATES:
                pending_block = job

    def _add_job_chain(self, world, build, spec, position, where, pending_block, phase_start):
        """Add a job and the retries it already had, and return the latest attempt.

        ``retries`` lists the later attempts in order.
        """
        unknown = sorted(set(spec) - _JOB_KEYS)
        if unknown:
            raise ScenarioError(f"{where}: unknown keys {unknown}")
        if pending_block is not None and spec.get("retries"):
            raise ScenarioError(
                f"{where}: a job after block step {pending_block.alias!r}, which is blocked, has no retries"
            )
        definition = self._definition(build, spec, position, where)
        attempt_specs = [spec, *list(spec.get("retries", []))]
        previous = None
        for attempt, attempt_spec in enumerate(attempt_specs):
            attempt_where = where if attempt == 0 else f"{where}.retries[{attempt - 1}]"
            job = self._job(world, build, definition, attempt_spec, attempt, attempt_where, pending_block, phase_start)
            if previous is not None:
                previous.retried = True
                previous.retried_in_job_id = job.id
                previous.times_retried = 1
                job.retries_count = attempt
                job.retry_type = "manual"
                job.retry_source = {"job_id": previous.id, "retry_type": "manual"}
                job.retried_by = build.creator
            world.add_job(job)
            previous = job
        return previous

    def _definition(self, build, spec, position, where):
        job_type = spec.get("type", "script")
        if job_type not in JOB_TYPES:
            raise ScenarioError(f"{where}.type must be one of {', '.join(JOB_TYPES)}, got {job_type!r}")

        attempts = spec.get("attempts")
        if attempts is None:
            attempts = [spec["state"]] if spec.get("state") in ATTEMPT_OUTCOMES else ["passed"]
        if (
            not isinstance(attempts, list)
            or not attempts
            or any(outcome not in ATTEMPT_OUTCOMES for outcome in attempts)
        ):
            raise ScenarioError(f"{where}.attempts must be a non-empty list of {', '.join(ATTEMPT_OUTCOMES)}")

        durations = spec.get("durations", {})
        unknown_durations = sorted(set(durations) - {"scheduled", "running"})
        if unknown_durations:
            raise ScenarioError(f"{where}.durations: unknown keys {unknown_durations}; valid keys: scheduled, running")

        # Jobs of one step (parallel jobs) share a step id, derived from the step key.
        step_key = spec.get("step_key")
        if "step_id" in spec:
            step_id = self._uuid(spec["step_id"], f"{where}.step_id")
        else:
            step_id = str(uuid.uuid5(self.namespace, f"step/{build.id}/{step_key or spec.get('alias')}"))
        default_rules = ["queue=default"] if job_type == "script" else []
        block = None
        if job_type == "manual":
            try:
                block = parse_block_step(spec)
            except ValueError as error:
                raise ScenarioError(f"{where}.{error}") from error
        else:
            block_keys = sorted(set(spec) & set(BLOCK_STEP_KEYS))
            if block_keys:
                raise ScenarioError(f"{where}: {block_keys} apply only to block steps (type manual), not {job_type}")
        command_keys = sorted(set(spec) & set(_COMMAND_JOB_KEYS))
        if command_keys and job_type != "script":
            raise ScenarioError(f"{where}: {command_keys} apply only to command jobs (type script), not {job_type}")
        return JobDefinition(
            type=job_type,
            position=position,
            step_id=step_id,
            step_key=step_key,
            name=spec.get("name"),
            command=spec.get("command"),
            agent_query_rules=spec.get("agent_query_rules", default_rules),
            attempts=attempts,
            scheduled_seconds=self._seconds(durations.get("scheduled", 0.2), f"{where}.durations.scheduled"),
            running_seconds=self._seconds(durations.get("running", 0.5), f"{where}.durations.running"),
            permit_on_passed=bool(spec.get("permit_on_passed", False)),
            parallel_group_index=spec.get("parallel_group_index"),
            parallel_group_total=spec.get("parallel_group_total"),
            group_key=spec.get("group_key"),
            exit_status=spec.get("exit_status"),
            signal=spec.get("signal"),
            signal_reason=spec.get("signal_reason"),
            soft_failed=bool(spec.get("soft_fail", False)),
            block=block,
            logs=self._logs(spec, where),
            env=self._env(spec.get("env", {}), f"{where}.env"),
        )

    def _job(self, world, build, definition, spec, attempt, where, pending_block, phase_start):
        alias = spec.get("alias")
        if not isinstance(alias, str) or not alias:
            raise ScenarioError(f"{where}.alias is missing; every scenario job needs an alias")
        if alias in world.aliases:
            raise ScenarioError(f"{where}.alias {alias!r} is used twice")
        job_id = self._uuid(spec.get("id"), f"{where}.id")
        if job_id in world.jobs:
            raise ScenarioError(f"{where}.id {job_id} is used twice")
        if definition.type == "manual":
            default_state = "blocked"
        elif pending_block is not None:
            default_state = "waiting"
        else:
            default_state = definition.outcome_of_attempt(attempt)
        state = spec.get("state", default_state)
        if state not in JOB_STATES:
            raise ScenarioError(f"{where}.state must be a REST job state, got {state!r}")
        if pending_block is not None and state != default_state:
            raise ScenarioError(
                f"{where}: a job after block step {pending_block.alias!r}, which is blocked, "
                f"must be {default_state}, got {state!r}"
            )
        if ("unblocked_by" in spec or "unblock_fields" in spec) and not (
            definition.type == "manual" and state == "unblocked"
        ):
            raise ScenarioError(
                f"{where}: unblocked_by and unblock_fields apply only to block steps in state unblocked"
            )

        created_at = phase_start + attempt * ATTEMPT_SPACING_SECONDS + definition.position
        job = Job(
            id=job_id,
            build=build,
            definition=definition,
            attempt=attempt,
            alias=alias,
            created_at=created_at,
            scheduled_at=created_at,
            runnable_at=created_at,
            started_at=None,
            finished_at=None,
            outcome=definition.outcome_of_attempt(attempt),
        )
        if state in ATTEMPT_OUTCOMES:
            job.outcome = state
            job.started_at = created_at + HISTORY_START_DELAY_SECONDS
            job.finished_at = job.started_at + HISTORY_RUN_SECONDS
            if job.finished_at > self.now:
                raise ScenarioError(
                    f"{where}: the attempt would finish in the future; raise the build's created_seconds_ago"
                )
        elif state == "running":
            job.started_at = min(created_at + HISTORY_START_DELAY_SECONDS, self.now)
            job.finished_at = self.now + definition.running_seconds
        elif state == "scheduled":
            job.started_at = self.now + definition.scheduled_seconds
            job.finished_at = job.started_at + definition.running_seconds
        else:
            job.fixed_state = state
            job.scheduled_at = None if state in ("pending", "waiting", "blocked") else created_at
            job.runnable_at = job.scheduled_at
            job.waits_for_block = pending_block is not None and state == "waiting"
        if definition.type == "manual" and state == "unblocked":
            self._record_unblock(world, build, job, spec, where)
        world.aliases[alias] = job_id
        return job

    def _record_unblock(self, world, build, job, spec, where):
        """Give a block step that the scenario marks unblocked its unblocker, time and fields."""
        earlier = build.latest_jobs()
        unfinished = [other.alias or other.id for other in earlier if not other.is_done_at(self.now)]
        if unfinished:
            raise ScenarioError(
                f"{where}: a block step can be unblocked only after the jobs before it finished; "
                f"not finished: {unfinished}"
            )
        finishes = [other.finished_at or other.unblocked_at or other.created_at for other in earlier]
        job.unblocked_at = max([job.created_at, *finishes]) + UNBLOCK_DELAY_SECONDS
        if job.unblocked_at > self.now:
            raise ScenarioError(
                f"{where}: the block step would be unblocked in the future; raise the build's created_seconds_ago"
            )

        user_key = spec.get("unblocked_by")
        if user_key is None:
            job.unblocked_by = world.default_user
        elif user_key in world.users:
            job.unblocked_by = world.users[user_key]
        else:
            raise ScenarioError(f"{where}.unblocked_by {user_key!r} is not in users; users: {', '.join(world.users)}")

        fields = spec.get("unblock_fields", {})
        if not isinstance(fields, dict):
            raise ScenarioError(f"{where}.unblock_fields must be an object of field keys to values")
        try:
            build.meta_data.update(job.definition.block.resolve_fields(fields, accepts_arrays=True))
        except ApiError as error:
            raise ScenarioError(f"{where}.unblock_fields: {error.message}") from error
        job.unblock_fields = dict(fields)
        job.times_unblocked = 1

    def _logs(self, spec, where):
        """Return the log contents of a job's attempts from ``log`` (every attempt) or ``attempt_logs``, or None."""
        if "log" in spec and "attempt_logs" in spec:
            raise ScenarioError(f"{where}: give log (for every attempt) or attempt_logs (one per attempt), not both")
        if "log" in spec:
            return [self._log(spec["log"], f"{where}.log")]
        if "attempt_logs" not in spec:
            return None
        attempt_logs = spec["attempt_logs"]
        if not isinstance(attempt_logs, list) or not attempt_logs:
            raise ScenarioError(f"{where}.attempt_logs must be a non-empty list of logs, one per attempt")
        return [self._log(value, f"{where}.attempt_logs[{index}]") for index, value in enumerate(attempt_logs)]

    def _log(self, value, where):
        try:
            return parse_log_spec(value, self.logs_directory, where)
        except LogSpecError as error:
            raise ScenarioError(str(error)) from error

    @staticmethod
    def _env(value, where):
        if not isinstance(value, dict):
            raise ScenarioError(f"{where} must be an object of variable names to strings, got {value!r}")
        for name, variable in value.items():
            if not ENV_NAME_PATTERN.fullmatch(name):
                raise ScenarioError(
                    f"{where}: {name!r} is not a variable name (letters, digits and _, not first a digit)"
                )
            if is_reserved_env_name(name):
                raise ScenarioError(
                    f"{where}: {name} is set by Buildkite (CI, BUILDKITE and BUILDKITE_*), not by a scenario"
                )
            if not isinstance(variable, str):
                raise ScenarioError(f"{where}.{name} must be a string, got {variable!r}")
        return dict(value)

    @staticmethod
    def _uuid(value, where):
        normalized = normalize_uuid(value)
        if normalized is None:
            raise ScenarioError(f"{where} must be a hyphenated UUID, got {value!r}")
        return normalized

    @staticmethod
    def _string(value, where):
        if not isinstance(value, str) or not value:
            raise ScenarioError(f"{where} must be a non-empty string, got {value!r}")
        return value

    @staticmethod
    def _strings(value, where):
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise ScenarioError(f"{where} must be a list of non-empty strings, got {value!r}")
        return value

    @staticmethod
    def _meta_data(value, where):
        if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
            raise ScenarioError(f"{where} must be an object of keys to strings, got {value!r}")
        return dict(value)

    @staticmethod
    def _seconds(value, where):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ScenarioError(f"{where} must be a number of seconds, 0 or more, got {value!r}")
        return float(value)

    @staticmethod
    def _timestamp(value, where):
        try:
            return datetime.fromisoformat(value).timestamp()
        except (TypeError, ValueError) as error:
            raise ScenarioError(f"{where} must be an ISO 8601 timestamp, got {value!r}") from error


def token_from_spec(spec, world, now, where="token"):
    """Return the Token that a scenario entry or a ``POST /_sim/tokens`` body describes.

    ``user`` is a user key of the scenario, a user object, or absent for the default user.
    ``organizations`` (absent or null for all) limits the token to those organization slugs.
    """
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where} must be an object")
    unknown = sorted(set(spec) - {"token", "scopes", "organizations", "user", "description"})
    if unknown:
        raise ScenarioError(
            f"{where}: unknown keys {unknown}; valid keys: token, scopes, organizations, user, description"
        )
    token = spec.get("token")
    if not isinstance(token, str) or not token.strip() or token != token.strip() or " " in token:
        raise ScenarioError(f"{where}.token must be a non-empty string without spaces")
    scopes = spec.get("scopes", [])
    try:
        validate_scopes(scopes)
    except ValueError as error:
        raise ScenarioError(f"{where}.scopes: {error}") from error
    organizations = spec.get("organizations")
    if organizations is not None and (
        not isinstance(organizations, list) or not all(isinstance(slug, str) for slug in organizations)
    ):
        raise ScenarioError(f"{where}.organizations must be a list of organization slugs, or null for all")
    user = _token_user(spec.get("user"), world, now, organizations, where)
    return Token(
        token=token,
        scopes=frozenset(scopes),
        user=user,
        created_at=now,
        organizations=frozenset(organizations) if organizations is not None else None,
        description=spec.get("description", ""),
    )


def _token_user(value, world, now, organizations, where):
    if value is None:
        return world.default_user
    if isinstance(value, str):
        if value not in world.users:
            raise ScenarioError(
                f"{where}.user {value!r} is not a user of the scenario; users: {', '.join(world.users)}"
            )
        return world.users[value]
    if isinstance(value, dict):
        return _new_token_user(value, world, now, organizations, where)
    raise ScenarioError(f"{where}.user must be a user key or a user object, got {value!r}")


def _new_token_user(value, world, now, organizations, where):
    """Add the user that a token's user object describes to the world's users, keyed by its id, and return it.

    The user belongs to the organizations the token may access, so it can be named as an unblocker there.
    """
    unknown = sorted(set(value) - {"id", "name", "email", "teams"})
    if unknown:
        raise ScenarioError(f"{where}.user: unknown keys {unknown}; valid keys: id, name, email, teams")
    user_id = normalize_uuid(value.get("id"))
    if user_id is None:
        raise ScenarioError(f"{where}.user.id must be a hyphenated UUID, got {value.get('id')!r}")
    scenario_key = next((key for key, user in world.users.items() if user.id == user_id and key != user_id), None)
    if scenario_key is not None:
        raise ScenarioError(
            f"{where}.user.id {user_id} is the scenario's user {scenario_key!r}; "
            f"pass \"user\": {scenario_key!r} instead"
        )
    teams = value.get("teams", [])
    if not isinstance(teams, list) or not all(isinstance(team, str) and team for team in teams):
        raise ScenarioError(f"{where}.user.teams must be a list of team slugs, got {teams!r}")
    # A user object with the id of an earlier token's user describes that user again and replaces it.
    user = User(
        id=user_id,
        name=str(value.get("name", "Simulator Token User")),
        email=str(value.get("email", "token-user@example.com")),
        created_at=now,
        teams=tuple(teams),
        organizations=frozenset(organizations) if organizations is not None else None,
    )
    world.users[user_id] = user
    return user
