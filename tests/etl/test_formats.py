"""One registry of the file formats (apps/etl/pipeline/extract.py): what the upload checks
accept is what the extract stage reads, and what one refuses the other refuses too."""

import pytest
from django.core.exceptions import ValidationError

from apps.etl.pipeline.engine import work_connection
from apps.etl.pipeline.extract import ACCEPTED_SUFFIXES, FORMATS, extract, format_of
from apps.etl.pipeline.extracted import ExtractError
from apps.uploads.checks import check_content, check_name
from tests.etl.stages import demo_spec

READ_BY_SUFFIX = {
    ".csv": "online_retail_sample_sfc.csv",
    ".tsv": "online_retail_sample_sfc.csv",
    ".txt": "online_retail_sample_sfc.csv",
    ".xlsx": "online_retail_sample_sfc.xlsx",
    ".xlsm": "online_retail_sample_sfc.xlsx",
}


def test_the_registry_names_each_suffix_once():
    suffixes = [s for f in FORMATS for s in f.suffixes]
    assert len(suffixes) == len(set(suffixes)) and set(suffixes) == ACCEPTED_SUFFIXES


@pytest.mark.parametrize("suffix", sorted(READ_BY_SUFFIX))
def test_a_file_the_checks_accept_is_read_by_the_stage(suffix, sample, tmp_path):
    # A real file under each accepted suffix: the first bytes pass, and its rows are read.
    source = sample(READ_BY_SUFFIX[suffix]).read_bytes()
    name = f"sales{suffix.upper()}"  # suffixes are told apart whatever their case
    check_name(name)
    check_content(name, source[:8192])
    path = tmp_path / name
    path.write_bytes(source)
    con = work_connection(temp_dir=tmp_path)

    extracted = extract(con, path, file_name=name, work_dir=tmp_path, header_score=demo_spec().header_score)

    assert extracted.rows_read == 232


def test_every_accepted_suffix_has_a_reader():
    assert set(READ_BY_SUFFIX) | {".xls"} == ACCEPTED_SUFFIXES
    assert all(format_of(f"x{suffix}").reader for suffix in ACCEPTED_SUFFIXES)


@pytest.mark.parametrize("name", ["sales.ods", "sales.xlsb", "sales.numbers", "sales.pdf", "sales"])
def test_a_file_the_checks_refuse_the_stage_refuses_too(name, tmp_path):
    # The reader underneath (calamine) opens .ods and .xlsb, but the product does not accept
    # them: no format in the registry, so neither the upload nor the stage takes them.
    with pytest.raises(ValidationError, match="is not a CSV or Excel file"):
        check_name(name)
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(ExtractError, match="Unsupported file type"):
        extract(work_connection(temp_dir=tmp_path), path, file_name=name, work_dir=tmp_path, header_score=len)
