"""The domain of Improvement Pulse: the outcome framework and survey instruments.

Pure Python (pydantic + PyYAML); imported by ``analysis`` and ``survey_app``, never the
reverse.
"""

from .benchmarks import Benchmark, Comparison, compare, comparisons_for, normalise
from .codebook import Codebook, RedactionSettings, Theme, compile_patterns
from .loader import (
    SHIPPED_DIR,
    DefinitionError,
    Definitions,
    DefinitionsError,
    definitions_dir,
    load_benchmarks,
    load_codebook,
    load_definitions,
    load_framework,
    load_instrument,
    load_redaction,
    parse_instrument_text,
    validate_paths,
)
from .schema import (
    AUDIENCES,
    INDEXES,
    Attribute,
    Framework,
    Instrument,
    Measure,
    Outcome,
    Priority,
    Question,
    Scale,
    Workstream,
)
from .versioning import InstrumentDiff, QuestionChange, canonical_json, diff_instruments, version_of

__all__ = [
    "AUDIENCES",
    "INDEXES",
    "SHIPPED_DIR",
    "Attribute",
    "Benchmark",
    "Codebook",
    "Comparison",
    "DefinitionError",
    "Definitions",
    "DefinitionsError",
    "Framework",
    "Instrument",
    "InstrumentDiff",
    "Measure",
    "Outcome",
    "Priority",
    "Question",
    "QuestionChange",
    "RedactionSettings",
    "Scale",
    "Theme",
    "Workstream",
    "canonical_json",
    "compare",
    "comparisons_for",
    "compile_patterns",
    "definitions_dir",
    "diff_instruments",
    "load_benchmarks",
    "load_codebook",
    "load_definitions",
    "load_framework",
    "load_instrument",
    "load_redaction",
    "normalise",
    "parse_instrument_text",
    "validate_paths",
    "version_of",
]
