"""Load and validate a definitions folder: ``framework.yaml`` plus one file per instrument.

Every problem is reported with the file, the path inside it (``questions[2].scale``), the
line where YAML can tell it, and what is wrong. Loading is all-or-nothing: a folder with any
error raises :class:`DefinitionsError` carrying every error found, and nothing is returned.

A definition file may come from an upload, so parsing it cannot be made to exhaust the
process: a file is at most :data:`MAX_FILE_BYTES`; YAML aliases (``*name``, also in merge keys
``<<: *name``) are refused, because a few hundred bytes of nested aliases ("billion laughs")
stand for billions of values once anything walks them; nesting deeper than
:data:`MAX_NESTING` levels is refused before anything is built (the recursive composer would
otherwise exhaust the C stack); and error messages quote at most :data:`MAX_QUOTED` characters
of a value, and at most :data:`MAX_ERRORS` errors per file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .benchmarks import Benchmark, Benchmarks
from .codebook import Codebook, RedactionSettings
from .schema import CROSS, Framework, Instrument, LocatedError
from .translation import missing_strings
from .versioning import version_of

SHIPPED_DIR = Path(__file__).resolve().parent / "definitions"
FRAMEWORK_FILE = "framework.yaml"
CODEBOOK_FILE = "codebook.yaml"
REDACTION_FILE = "redaction.yaml"
BENCHMARKS_FILE = "benchmarks.yaml"
# Files in a definitions folder that are not instruments (the comment codebook, redaction,
# external benchmarks).
RESERVED_FILES = frozenset({FRAMEWORK_FILE, CODEBOOK_FILE, REDACTION_FILE, BENCHMARKS_FILE})
MAX_FILE_BYTES = 1_000_000
# The deepest structure the format has is 9 levels (framework > priorities > workstreams >
# outcomes > measures > a measure's keys); one more is allowed so that a small addition to the
# format does not need this changed.
MAX_NESTING = 10
MAX_QUOTED = 80
MAX_ERRORS = 50


@dataclass(frozen=True)
class DefinitionError:
    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.path:
            where += f": {self.path}"
        return f"{where}: {self.message}"


class DefinitionsError(ValueError):
    """One or more definition files are invalid; ``errors`` lists every problem."""

    def __init__(self, errors: list[DefinitionError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass
class Definitions:
    framework: Framework
    instruments: dict[str, Instrument] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    codebook: Codebook | None = None  # codebook.yaml, when the folder has one
    redaction: RedactionSettings = field(default_factory=RedactionSettings)
    # instrument id -> version hash -> definition: every version the folder holds (one per
    # instrument unless loaded with ``versions=True``); ``instruments`` holds the last of them.
    versions: dict[str, dict[str, Instrument]] = field(default_factory=dict)
    # benchmarks.yaml, when the folder has one: published figures shown beside our questions
    benchmarks: list[Benchmark] = field(default_factory=list)

    def versions_of(self, instrument_id: str) -> dict[str, Instrument]:
        """Every version of an instrument: ``{version hash: definition}``."""
        if instrument_id in self.versions:
            return self.versions[instrument_id]
        instrument = self.instrument(instrument_id)
        return {version_of(instrument): instrument}

    def instrument(self, instrument_id: str) -> Instrument:
        try:
            return self.instruments[instrument_id]
        except KeyError:
            known = ", ".join(sorted(self.instruments)) or "none"
            raise KeyError(f"unknown instrument {instrument_id!r} (known: {known})") from None


def definitions_dir() -> Path:
    """The folder named by ``INSTRUMENTS_DIR``, else the shipped defaults."""
    configured = os.environ.get("INSTRUMENTS_DIR")
    return Path(configured) if configured else SHIPPED_DIR


# --------------------------------------------------------------------------- YAML with lines


def _read_yaml(path: Path) -> tuple[Any, Callable[[], yaml.Node | None]]:
    """Read a file and parse it with :func:`_parse_yaml`."""
    name = path.name
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise DefinitionsError(
                [DefinitionError(name, "", f"file is larger than {MAX_FILE_BYTES} bytes")]
            )
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionsError(
            [DefinitionError(name, "", f"not UTF-8 text ({exc.reason})")]
        ) from None
    except OSError as exc:
        raise DefinitionsError(
            [DefinitionError(name, "", f"cannot read file: {exc.strerror}")]
        ) from None
    return _parse_yaml(text, name)


# libyaml's C parser when PyYAML was built with it; the pure-Python one otherwise.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_structure(text: str, name: str) -> None:
    """Refuse aliases and nesting deeper than :data:`MAX_NESTING`, reading the parser's event
    stream (flat and bounded: nothing is built, no alias is followed)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            raise DefinitionsError(
                [
                    DefinitionError(
                        name,
                        "",
                        "YAML aliases (*name) are not allowed in definition files: write the value out",
                        event.start_mark.line + 1 if event.start_mark else None,
                    )
                ]
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_NESTING:
                raise DefinitionsError(
                    [
                        DefinitionError(
                            name,
                            "",
                            f"nested more than {MAX_NESTING} levels deep (the format needs at most 9)",
                            event.start_mark.line + 1 if event.start_mark else None,
                        )
                    ]
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _parse_yaml(text: str, name: str) -> tuple[Any, Callable[[], yaml.Node | None]]:
    """Parse YAML text into data, and a function that builds its node tree on demand (only
    needed to put line numbers on validation errors, so valid files are parsed once).

    The text is first checked for its size, aliases and depth (module docstring)."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise DefinitionsError(
            [DefinitionError(name, "", f"file is larger than {MAX_FILE_BYTES} bytes")]
        )
    try:
        _check_structure(text, name)
        data = yaml.load(text, Loader=_Loader)
    except DefinitionsError:
        raise
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise DefinitionsError([DefinitionError(name, "", f"bad YAML: {problem}", line)]) from None
    except yaml.YAMLError as exc:
        raise DefinitionsError(
            [DefinitionError(name, "", f"bad YAML: {_shorten(str(exc))}")]
        ) from None
    except (
        ValueError
    ) as exc:  # a value YAML can parse but Python cannot hold, e.g. a 5,000-digit number
        raise DefinitionsError(
            [DefinitionError(name, "", f"bad YAML value: {_shorten(str(exc))}")]
        ) from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise DefinitionsError(
            [DefinitionError(name, "", f"expected a mapping of keys, found {kind}", 1)]
        )
    return data, lambda: yaml.compose(text, Loader=_Loader)


def _line_of(node: yaml.Node | None, loc: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the deepest node along ``loc`` that exists in the file."""
    line = node.start_mark.line + 1 if node is not None else None
    for step in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if getattr(k, "value", None) == str(step)), None)
            if match is None:
                # an unknown key is reported on the key itself
                match = next(
                    (k for k, _ in node.value if getattr(k, "value", None) == str(step)), None
                )
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value)
        ):
            match = node.value[step]
        else:
            match = None
        if match is None:
            break
        node = match
        line = node.start_mark.line + 1
    return line


def _quoted(value: Any) -> str:
    """``repr(value)``, cut to :data:`MAX_QUOTED` characters: a message never echoes a large
    input back (computed on a cut copy of text, so a huge value is never rendered whole)."""
    if isinstance(value, str) and len(value) > MAX_QUOTED:
        value = value[:MAX_QUOTED]
        return repr(value)[:-1] + "..." + repr(value)[-1]
    text = (
        repr(value)
        if isinstance(value, (str, int, float, bool, type(None)))
        else f"a {type(value).__name__}"
    )
    return text if len(text) <= MAX_QUOTED else text[:MAX_QUOTED] + "..."


def _shorten(text: str, limit: int = 4 * MAX_QUOTED) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _format_loc(loc: tuple[str | int, ...]) -> str:
    text = ""
    for step in loc:
        step = step if isinstance(step, int) else _shorten(str(step), MAX_QUOTED)
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _errors_from(
    exc: ValidationError, name: str, nodes: Callable[[], yaml.Node | None]
) -> list[DefinitionError]:
    errors = []
    node = nodes()
    found = exc.errors(include_url=False)
    for err in found[:MAX_ERRORS]:
        loc = tuple(err["loc"])
        message = err["msg"]
        original = (err.get("ctx") or {}).get("error")
        if isinstance(original, LocatedError):
            loc = loc + original.loc
            message = original.message
        elif err["type"] == "extra_forbidden":
            message = f"unknown key {_quoted(loc[-1])}"
        elif err["type"] == "missing":
            message = f"required key {loc[-1]!r} is missing"
            loc = loc[:-1] + (loc[-1],)
        elif err["type"] == "literal_error":
            message = f"{_quoted(err['input'])} is not allowed: {message.replace('Input should be', 'use')}"
        message = _shorten(message.removeprefix("Value error, "))
        errors.append(DefinitionError(name, _format_loc(loc), message, _line_of(node, loc)))
    if len(found) > MAX_ERRORS:
        errors.append(
            DefinitionError(name, "", f"and {len(found) - MAX_ERRORS} more errors not listed")
        )
    return errors


# --------------------------------------------------------------------------- loading


def load_framework(path: Path) -> Framework:
    data, nodes = _read_yaml(path)
    try:
        return Framework.model_validate(data)
    except ValidationError as exc:
        raise DefinitionsError(_errors_from(exc, path.name, nodes)) from None


def load_instrument(path: Path, framework: Framework | None = None) -> Instrument:
    """Validate one instrument file; outcome ids are checked against ``framework``."""
    data, nodes = _read_yaml(path)
    return parse_instrument(data, path.name, framework, nodes)


def parse_instrument(
    data: Any,
    name: str,
    framework: Framework | None,
    nodes: Callable[[], yaml.Node | None] = lambda: None,
) -> Instrument:
    context = {"outcomes": set(framework.outcome_ids)} if framework is not None else None
    try:
        return Instrument.model_validate(data, context=context)
    except ValidationError as exc:
        raise DefinitionsError(_errors_from(exc, name, nodes)) from None


def parse_instrument_text(text: str, name: str, framework: Framework | None) -> Instrument:
    """Validate an instrument given as YAML text (an upload); same errors as a file."""
    data, nodes = _parse_yaml(text, name)
    return parse_instrument(data, name, framework, nodes)


def load_codebook(path: Path | str, framework: Framework | None = None) -> Codebook:
    """Validate a codebook: a ``codebook.yaml`` file, or a definitions folder holding one
    (whose ``framework.yaml`` then checks the themes' outcome ids unless ``framework`` is given)."""
    path = Path(path)
    if path.is_dir():
        if framework is None and (path / FRAMEWORK_FILE).is_file():
            framework = load_framework(path / FRAMEWORK_FILE)
        path = path / CODEBOOK_FILE
    if not path.is_file():
        raise DefinitionsError([DefinitionError(str(path), "", "no such file")])
    data, nodes = _read_yaml(path)
    context = {"outcomes": set(framework.outcome_ids)} if framework is not None else None
    try:
        return Codebook.model_validate(data, context=context)
    except ValidationError as exc:
        raise DefinitionsError(_errors_from(exc, path.name, nodes)) from None


def load_redaction(path: Path | str) -> RedactionSettings:
    """Validate ``redaction.yaml`` (a file, or a definitions folder); a folder without one
    gives the empty settings (no names, no safeguarding signals)."""
    path = Path(path)
    if path.is_dir():
        path = path / REDACTION_FILE
        if not path.exists():
            return RedactionSettings()
    data, nodes = _read_yaml(path)
    try:
        return RedactionSettings.model_validate(data)
    except ValidationError as exc:
        raise DefinitionsError(_errors_from(exc, path.name, nodes)) from None


def load_benchmarks(
    path: Path | str, instruments: dict[str, Instrument] | None = None
) -> list[Benchmark]:
    """Validate ``benchmarks.yaml`` (a file, or a definitions folder; a folder without one
    has no benchmarks). With ``instruments``, every ``compare_with`` must name one of their
    scale questions."""
    path = Path(path)
    if path.is_dir():
        path = path / BENCHMARKS_FILE
        if not path.exists():
            return []
    data, nodes = _read_yaml(path)
    context = (
        None
        if instruments is None
        else {i.id: {q.id for q in i.questions if q.type == "scale"} for i in instruments.values()}
    )
    try:
        return Benchmarks.model_validate(
            data, context=None if context is None else {"questions": context}
        ).benchmarks
    except ValidationError as exc:
        raise DefinitionsError(_errors_from(exc, path.name, nodes)) from None


def instrument_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix in (".yaml", ".yml") and p.name not in RESERVED_FILES and p.is_file()
    )


def load_definitions(folder: Path | str | None = None, *, versions: bool = False) -> Definitions:
    """Load ``framework.yaml`` and every instrument in ``folder`` (default: ``INSTRUMENTS_DIR``
    or the shipped definitions). Raises :class:`DefinitionsError` listing every problem.

    Two files with one instrument id are an error, unless ``versions`` is true (an analysis
    data package, as ``flask export responses --definitions`` writes): then each distinct
    version is kept in ``Definitions.versions`` and ``instruments`` holds the last file's."""
    folder = Path(folder) if folder is not None else definitions_dir()
    if not folder.is_dir():
        raise DefinitionsError([DefinitionError(str(folder), "", "not a folder")])
    framework_path = folder / FRAMEWORK_FILE
    if not framework_path.is_file():
        raise DefinitionsError(
            [DefinitionError(str(folder), "", f"no {FRAMEWORK_FILE} in the definitions folder")]
        )
    errors: list[DefinitionError] = []
    framework: Framework | None = None
    try:
        framework = load_framework(framework_path)
    except DefinitionsError as exc:
        errors.extend(exc.errors)
    definitions = Definitions(framework=framework)  # type: ignore[arg-type]
    for path in instrument_files(folder):
        try:
            instrument = load_instrument(path, framework)
        except DefinitionsError as exc:
            errors.extend(exc.errors)
            continue
        if instrument.id in definitions.instruments and not versions:
            other = definitions.files[instrument.id].name
            errors.append(
                DefinitionError(
                    path.name, "id", f"instrument id {instrument.id!r} is also used by {other}", 1
                )
            )
            continue
        definitions.instruments[instrument.id] = instrument
        definitions.files[instrument.id] = path
        definitions.versions.setdefault(instrument.id, {})[version_of(instrument)] = instrument
    if framework is not None:
        errors.extend(_check_crossed_breakdowns(framework_path, framework, definitions))
    try:
        if (folder / CODEBOOK_FILE).exists():
            definitions.codebook = load_codebook(folder / CODEBOOK_FILE, framework)
        definitions.redaction = load_redaction(folder)
    except DefinitionsError as exc:
        errors.extend(exc.errors)
    try:
        definitions.benchmarks = load_benchmarks(folder, definitions.instruments)
    except DefinitionsError as exc:
        errors.extend(exc.errors)
    if errors:
        raise DefinitionsError(errors)
    return definitions


def _check_crossed_breakdowns(
    path: Path, framework: Framework, definitions: Definitions
) -> list[DefinitionError]:
    """Each of the framework's ``crossed_breakdowns`` must cross two attributes that one
    instrument of its audience asks (any stored version of it): a breakdown no survey can
    fill would silently never appear. An audience whose instruments in the folder ask no
    attributes at all (none of them, or a roadshow's four questions alone) has nothing to
    break down, so a copy of the shipped framework serves a folder of other surveys."""
    errors = []
    for audience, breakdowns in framework.crossed_breakdowns.items():
        asked = {
            instrument.id: [a.id for a in instrument.attributes]
            for versions in definitions.versions.values()
            for instrument in versions.values()
            if instrument.audience == audience
        }
        if not any(asked.values()):
            continue
        for index, breakdown in enumerate(breakdowns):
            parts = breakdown.split(CROSS)
            if any(set(parts) <= set(attributes) for attributes in asked.values()):
                continue
            known = "; ".join(
                f"{iid} asks {', '.join(attributes) or 'no attributes'}"
                for iid, attributes in sorted(asked.items())
            )
            loc = ("crossed_breakdowns", audience, index)
            _, nodes = _read_yaml(path)  # only on an error: for its line number
            errors.append(
                DefinitionError(
                    path.name,
                    _format_loc(loc),
                    f"{breakdown!r}: no {audience} instrument asks both "
                    f"{' and '.join(parts)} ({known})",
                    _line_of(nodes(), loc),
                )
            )
    return errors


def validate_paths(
    paths: list[Path], untranslated: list[str] | None = None
) -> tuple[list[str], list[DefinitionError]]:
    """Validate folders and single files; returns (what was checked, every error). Strings a
    translation leaves in English are not errors (they fall back): they are appended to
    ``untranslated``, as ``"file: pl: questions.P01.hint"``.

    A single instrument file is checked against the ``framework.yaml`` beside it, else the
    shipped framework. A single ``framework.yaml`` is checked on its own.
    """
    checked: list[str] = []
    errors: list[DefinitionError] = []
    for path in paths:
        try:
            if path.is_dir():
                loaded = load_definitions(path)
                for instrument_id, instrument in loaded.instruments.items():
                    _note_untranslated(loaded.files[instrument_id], instrument, untranslated)
                themes = (
                    f", codebook with {len(loaded.codebook.themes)} themes"
                    if loaded.codebook
                    else ""
                )
                checked.append(
                    f"{path}: framework with {len(loaded.framework.outcomes)} outcomes, "
                    f"{len(loaded.instruments)} instruments{themes}"
                )
            elif not path.exists():
                errors.append(DefinitionError(str(path), "", "no such file or folder"))
            elif path.name == FRAMEWORK_FILE:
                framework = load_framework(path)
                checked.append(f"{path}: framework with {len(framework.outcomes)} outcomes")
            elif path.name == CODEBOOK_FILE:
                beside = path.parent / FRAMEWORK_FILE
                framework = load_framework(
                    beside if beside.is_file() else SHIPPED_DIR / FRAMEWORK_FILE
                )
                codebook = load_codebook(path, framework)
                checked.append(f"{path}: codebook with {len(codebook.themes)} themes")
            elif path.name == REDACTION_FILE:
                settings = load_redaction(path)
                checked.append(
                    f"{path}: {len(settings.names)} names, "
                    f"{len(settings.safeguarding)} safeguarding signals"
                )
            elif path.name == BENCHMARKS_FILE:
                benchmarks = load_benchmarks(path)
                checked.append(f"{path}: {len(benchmarks)} benchmarks")
            else:
                beside = path.parent / FRAMEWORK_FILE
                framework = load_framework(
                    beside if beside.is_file() else SHIPPED_DIR / FRAMEWORK_FILE
                )
                instrument = load_instrument(path, framework)
                _note_untranslated(path, instrument, untranslated)
                checked.append(
                    f"{path}: instrument {instrument.id} with {len(instrument.questions)} questions"
                )
        except DefinitionsError as exc:
            errors.extend(exc.errors)
    return checked, errors


def _note_untranslated(path: Path, instrument: Instrument, notes: list[str] | None) -> None:
    if notes is not None:
        notes.extend(f"{path.name}: {missing}" for missing in missing_strings(instrument))
