"""Helpers to run the pure stages on small files, as pipeline_run does, without the ORM."""

from pathlib import Path
from types import MappingProxyType

from apps.demo.seed import SCHEMA_FIELDS
from apps.etl.countries import alias_rows
from apps.etl.pipeline.clean import drop_duplicates, finish
from apps.etl.pipeline.engine import work_connection
from apps.etl.pipeline.extract import extract
from apps.etl.pipeline.mapping import create_mapped, map_columns
from apps.etl.pipeline.spec import FieldSpec, SchemaSpec
from apps.etl.pipeline.typed_read import planner
from apps.etl.pipeline.validate import validate


def demo_spec(**changes) -> SchemaSpec:
    """The demo schema contract; `changes` replace fields by name (a FieldSpec) or add them."""
    fields = {n: FieldSpec(n, t, r, tuple(a.splitlines())) for n, t, r, a in SCHEMA_FIELDS}
    fields.update(changes)
    return SchemaSpec(1, tuple(fields.values()), MappingProxyType(dict(alias_rows())), 50.0)


def run(
    path: Path,
    tmp_path: Path,
    *,
    spec: SchemaSpec | None = None,
    region_order: str = "DMY",
    sheet=None,
    on_disk=False,
    typed_read=False,
    work_name="work",
):
    """Extract, map, dedupe, validate and clean one file; the connection and every result.

    `typed_read`: a CSV's numbers and dates may be typed by the reader, as pipeline_run has them."""
    spec = spec or demo_spec()
    work = tmp_path / work_name
    work.mkdir(exist_ok=True)
    con = work_connection(temp_dir=work, on_disk=on_disk)  # on disk: as for files past ETL_IN_MEMORY_MAX_BYTES
    plan = planner(spec, lambda columns: map_columns(columns, spec).mapping, date_order=region_order)
    extracted = extract(
        con,
        path,
        file_name=path.name,
        work_dir=work,
        header_score=spec.header_score,
        sheet=sheet,
        plan=plan if typed_read else None,
    )
    mapped = map_columns(extracted.columns, spec)
    present = list(mapped.mapping)
    hashed = extracted.typed.key_columns if extracted.typed else ()
    unique, dropped = drop_duplicates(con, create_mapped(con, mapped, hashed=hashed), columns=present)
    typed = extracted.typed.fields if extracted.typed else None
    checked = validate(
        con,
        unique,
        spec,
        present=present,
        default_date_order=region_order,
        typed=typed,
        cell_texts=extracted.cell_texts,
        default_country="GB",
    )
    cleaned = finish(con, checked.table, present=present, default_country="GB", country_type=checked.country_type)
    return {
        "con": con,
        "extracted": extracted,
        "mapped": mapped,
        "dropped": dropped,
        "checked": checked,
        "cleaned": cleaned,
    }


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()
