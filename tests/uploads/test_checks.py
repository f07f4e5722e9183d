"""Bad input is refused with a clear message before anything is stored: binaries renamed
.csv, text renamed .xlsx; real CSV (UTF-8 or UTF-16) and workbooks pass."""

import codecs
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files import File

from apps.accounts.access import scope_for
from apps.accounts.models import Shop
from apps.uploads.models import Upload
from apps.uploads.services import upload_create

from .helpers import SOME_BAD, post_file


def _create(user, content: bytes, name: str) -> Upload:
    return upload_create(
        scope=scope_for(user),
        user=user,
        shop=Shop.objects.get(code="US-NYC"),
        file=File(io.BytesIO(content), name=name),
        name=name,
        enqueue=False,
    )


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"\x89PNG\r\n\x1a\n....", "sales.csv", "'sales.csv' is not a text file: it looks like a PNG image."),
        (b"PK\x03\x04 zipped", "sales.csv", "'sales.csv' is not a text file: it looks like a ZIP archive"),
        (b"MZ\x90\x00 program", "sales.txt", "'sales.txt' is not a text file: it looks like a Windows program."),
        (b"a,b\n1,\x00\x00\x002\n", "sales.csv", "'sales.csv' is not a text file: it holds binary (NUL) bytes."),
        (b"a,b\n1,2\n", "sales.xlsx", "'sales.xlsx' is not an Excel workbook"),
        (b"a,b\n1,2\n", "sales.xls", "'sales.xls' is not an Excel workbook"),
    ],
)
def test_file_whose_bytes_do_not_fit_its_name_is_refused_and_nothing_is_stored(cast, data_dir, content, name, message):
    with pytest.raises(ValidationError) as refused:
        _create(cast["mgr_us_nyc"], content, name)

    assert refused.value.messages[0].startswith(message)
    assert not Upload.objects.exists()
    assert not (data_dir / "files" / "raw").exists()


def test_utf16_csv_with_its_nul_bytes_is_accepted(cast):
    content = codecs.BOM_UTF16_LE + SOME_BAD.encode("utf-16-le")

    assert _create(cast["mgr_us_nyc"], content, "sales.csv").status == Upload.Status.QUEUED


def test_real_workbook_is_accepted(cast, sample):
    content = sample("online_retail_sample_sfc.xlsx").read_bytes()

    assert _create(cast["mgr_us_nyc"], content, "sales.xlsx").status == Upload.Status.QUEUED


def test_binary_renamed_csv_gets_a_json_error_from_the_page_endpoint(client_of):
    response = post_file(client_of("mgr_us_nyc"), "US-NYC", b"%PDF-1.7 ...", "sales.csv")

    assert response.status_code == 400
    assert response.json() == {
        "errors": ["'sales.csv' is not a text file: it looks like a PDF document. Upload CSV/TSV text or XLSX."]
    }
