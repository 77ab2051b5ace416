"""Block steps: their definition (prompt, fields, blocked state, allowed teams) and the values an unblock submits.

Field definitions follow the pipeline YAML of Buildkite's block step docs. A text field has
``text`` (its label), ``key``, ``hint``, ``required`` (default true), ``default`` and ``format``.
A select field has ``select`` (its label), ``key``, ``hint``, ``options`` (``label`` and
``value``), ``multiple``, ``required`` (default true) and ``default``. Submitted values become
build meta-data under the field keys, and a multi-select field stores its values joined with
newlines.
"""

import json
import re
from dataclasses import dataclass, field

from .errors import ApiError

# Field keys are meta-data keys: letters, digits, "/", "-" and "_" (Buildkite's block step docs).
FIELD_KEY_PATTERN = re.compile(r"[A-Za-z0-9/_-]+")

# Build states a block step may show while the build waits at it. Buildkite's default is "passed".
BLOCKED_BUILD_STATES = ("passed", "failed", "running")

_TEXT_KEYS = {"text", "key", "hint", "required", "default", "format"}
_SELECT_KEYS = {"select", "key", "hint", "options", "multiple", "required", "default"}
# Scenario job keys that describe a block step.
BLOCK_STEP_KEYS = ("prompt", "fields", "blocked_state", "allowed_teams")


@dataclass
class BlockField:
    """One form field of a block step: a text field, or a select field when ``options`` is not None."""

    key: str
    label: str
    hint: str | None = None
    required: bool = True
    default: str | None = None
    format: re.Pattern | None = None
    options: list | None = None
    multiple: bool = False

    @property
    def is_select(self):
        return self.options is not None

    @property
    def option_values(self):
        return [option["value"] for option in self.options or []]

    def to_json(self):
        """Return the field as pipeline YAML writes it, with ``required`` and ``default`` filled in."""
        if self.is_select:
            body = {
                "select": self.label,
                "key": self.key,
                "hint": self.hint,
                "options": [dict(option) for option in self.options],
            }
            body["multiple"] = self.multiple
        else:
            body = {"text": self.label, "key": self.key, "hint": self.hint}
            body["format"] = self.format.pattern if self.format else None
        body["required"] = self.required
        body["default"] = self.default
        return body

    def stored_value(self, value, accepts_arrays):
        """Return the meta-data string for a submitted ``value``, or raise ValueError describing the problem.

        An empty string (or empty list) returns "" and leaves the required check to the caller.
        """
        if isinstance(value, list):
            if not (self.is_select and self.multiple):
                raise ValueError(f'Field "{self.key}" takes one value, got a JSON array')
            if not accepts_arrays:
                raise ValueError(f'Field "{self.key}" must be a string with one value per line, got a JSON array')
            if not all(isinstance(item, str) for item in value):
                raise ValueError(f'Field "{self.key}" must be a list of strings, got {_json_text(value)}')
            value = "\n".join(value)
        if not isinstance(value, str):
            raise ValueError(f'Field "{self.key}" must be a string, got {_json_text(value)}')

        # Buildkite normalizes the line endings of submitted text to "\n".
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if value == "":
            return value
        if self.is_select:
            chosen = value.split("\n") if self.multiple else [value]
            unknown = [item for item in chosen if item not in self.option_values]
            if unknown:
                raise ValueError(
                    f'Field "{self.key}" has no option {_json_text(unknown[0])} '
                    f"(options: {', '.join(self.option_values)})"
                )
        elif self.format is not None and self.format.fullmatch(value) is None:
            raise ValueError(
                f'Field "{self.key}" value {_json_text(value)} does not match the format {self.format.pattern!r}'
            )
        return value


@dataclass
class BlockStep:
    """The form of a block step and its permissions: the fields an unblock submits and who may send it."""

    prompt: str | None = None
    fields: list = field(default_factory=list)
    blocked_state: str = "passed"
    # Team slugs whose members may unblock the step. Empty means anyone with access to the build.
    allowed_teams: tuple = ()

    def field_keys(self):
        return [block_field.key for block_field in self.fields]

    def allows(self, user):
        return not self.allowed_teams or bool(set(self.allowed_teams) & set(user.teams))

    def to_json(self):
        return {
            "prompt": self.prompt,
            "blocked_state": self.blocked_state,
            "allowed_teams": list(self.allowed_teams),
            "fields": [block_field.to_json() for block_field in self.fields],
        }

    def resolve_fields(self, submitted, accepts_arrays):
        """Return the meta-data that an unblock with ``submitted`` field values stores, or raise a 422 ApiError.

        Fields that are not submitted store their default. An empty value of an optional field
        stores nothing. The error message lists every problem, unknown keys first.
        """
        problems = []
        known = self.field_keys()
        for key in submitted:
            if key not in known:
                listed = f"fields: {', '.join(known)}" if known else "it has no fields"
                problems.append(f'Field "{key}" is not a field of this block step ({listed})')

        stored = {}
        for block_field in self.fields:
            if block_field.key in submitted:
                try:
                    value = block_field.stored_value(submitted[block_field.key], accepts_arrays)
                except ValueError as error:
                    problems.append(str(error))
                    continue
            else:
                value = block_field.default or ""
            if value:
                stored[block_field.key] = value
            elif block_field.required:
                problems.append(f'Field "{block_field.key}" is required')

        if problems:
            raise ApiError(422, "; ".join(problems))
        return stored


def parse_block_step(spec):
    """Return the BlockStep of a scenario's manual job, or raise ValueError naming the invalid key."""
    allowed_teams = spec.get("allowed_teams", [])
    if isinstance(allowed_teams, str):
        allowed_teams = [allowed_teams]
    if not isinstance(allowed_teams, list) or not all(isinstance(team, str) and team for team in allowed_teams):
        raise ValueError(f"allowed_teams must be a list of team slugs, got {allowed_teams!r}")
    blocked_state = spec.get("blocked_state", "passed")
    if blocked_state not in BLOCKED_BUILD_STATES:
        raise ValueError(f"blocked_state must be one of {', '.join(BLOCKED_BUILD_STATES)}, got {blocked_state!r}")
    prompt = spec.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise ValueError(f"prompt must be a string, got {prompt!r}")

    field_specs = spec.get("fields", [])
    if not isinstance(field_specs, list):
        raise ValueError(f"fields must be a list of text and select fields, got {field_specs!r}")
    fields = [_parse_field(field_spec, index) for index, field_spec in enumerate(field_specs)]
    keys = [block_field.key for block_field in fields]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ValueError(f"fields: the keys {duplicates} are used more than once")
    return BlockStep(prompt=prompt, fields=fields, blocked_state=blocked_state, allowed_teams=tuple(allowed_teams))


def _parse_field(spec, index):
    where = f"fields[{index}]"
    if not isinstance(spec, dict) or ("text" in spec) == ("select" in spec):
        raise ValueError(f'{where} must be an object with either "text" or "select", got {spec!r}')
    is_select = "select" in spec
    unknown = sorted(set(spec) - (_SELECT_KEYS if is_select else _TEXT_KEYS))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}")

    key = spec.get("key")
    if not isinstance(key, str) or FIELD_KEY_PATTERN.fullmatch(key) is None:
        raise ValueError(f'{where}.key must contain only letters, digits, "/", "-" and "_", got {key!r}')
    required = spec.get("required", True)
    if not isinstance(required, bool):
        raise ValueError(f"{where}.required must be true or false, got {required!r}")
    label = spec["select"] if is_select else spec["text"]
    if not isinstance(label, str):
        raise ValueError(
            f"{where}.{'select' if is_select else 'text'} must be the field's label, a string, got {label!r}"
        )
    block_field = BlockField(
        key=key,
        label=label,
        hint=spec.get("hint"),
        required=required,
    )
    if is_select:
        _parse_select(block_field, spec, where)
    else:
        _parse_text(block_field, spec, where)
    return block_field


def _parse_text(block_field, spec, where):
    default = spec.get("default")
    if default is not None and not isinstance(default, str):
        raise ValueError(f"{where}.default must be a string, got {default!r}")
    block_field.default = default
    if spec.get("format") is not None:
        try:
            block_field.format = re.compile(spec["format"])
        except (re.error, TypeError) as error:
            raise ValueError(f"{where}.format must be a valid regular expression, got {spec['format']!r}") from error


def _parse_select(block_field, spec, where):
    options = spec.get("options")
    if (
        not isinstance(options, list)
        or not options
        or not all(
            isinstance(option, dict)
            and set(option) == {"label", "value"}
            and all(isinstance(text, str) and text for text in option.values())
            for option in options
        )
    ):
        raise ValueError(f'{where}.options must be a non-empty list of {{"label", "value"}} strings, got {options!r}')
    block_field.options = [dict(option) for option in options]
    multiple = spec.get("multiple", False)
    if not isinstance(multiple, bool):
        raise ValueError(f"{where}.multiple must be true or false, got {multiple!r}")
    block_field.multiple = multiple

    default = spec.get("default")
    if default is None:
        return
    try:
        block_field.default = block_field.stored_value(default, accepts_arrays=True)
    except ValueError as error:
        raise ValueError(f"{where}.default: {error}") from error


def _json_text(value):
    """Return ``value`` as JSON text for a message, for example ``"mars-1"``, ``42`` or ``null``."""
    return json.dumps(value, ensure_ascii=False)
