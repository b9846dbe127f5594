"""The configuration reference of the docs is the schema's: it cannot drift."""

from __future__ import annotations

from pathlib import Path

from gammax.analysis.config import documented_keys, reference_rst, schema_keys

REFERENCE = Path(__file__).parents[2] / "docs" / "config_reference.rst"


def test_documented_keys_are_the_schema_keys():
    text = REFERENCE.read_text()
    documented = documented_keys(text)
    keys = schema_keys()
    assert documented == keys, (sorted(keys - documented), sorted(documented - keys))
    assert len(keys) > 60


def test_reference_tables_are_generated_from_the_schema():
    # defaults, types and documentation lines as the schema says (regenerate on change)
    assert REFERENCE.read_text().endswith(reference_rst())
