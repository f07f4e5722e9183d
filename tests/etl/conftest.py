"""Fixtures for tests/etl: the demo schema contract, frozen without touching the database."""

from types import MappingProxyType

import pyarrow as pa
import pytest

from apps.demo.seed import SCHEMA_FIELDS
from apps.etl.countries import alias_rows
from apps.etl.pipeline.spec import FieldSpec, SchemaSpec


@pytest.fixture
def spec() -> SchemaSpec:
    """The schema and country aliases `seed_demo` and the migrations put in the database."""
    return SchemaSpec(
        version=1,
        fields=tuple(
            FieldSpec(name, data_type, required, tuple(aliases.splitlines()))
            for name, data_type, required, aliases in SCHEMA_FIELDS
        ),
        country_aliases=MappingProxyType(dict(alias_rows())),
    )


@pytest.fixture
def text_table():
    """An Arrow table of text cells as `extract` yields them, numbered from file row 2."""

    def build(**columns: list[str]) -> pa.Table:
        size = len(next(iter(columns.values())))
        return pa.table({**columns, "source_row": pa.array(range(2, size + 2), pa.int64())})

    return build
