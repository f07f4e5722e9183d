"""Files and requests the upload tests share."""

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from apps.accounts.models import Shop

HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,Country\n"
GOOD_ROWS = "1,A,2,4/19/2011 16:19,1.50,USA\n1,B,1,4/19/2011 16:19,3.00,USA\n1,C,5,4/19/2011 16:19,0.50,USA\n"
# Rows 5 and 6 of the file are bad: a quantity in words, an unknown country.
SOME_BAD = HEADER + GOOD_ROWS + "2,B,two,4/19/2011 16:19,1.50,USA\n3,C,1,4/19/2011 16:19,2.00,Atlantis\n"
# The same file, corrected.
CORRECTED = HEADER + GOOD_ROWS + "2,B,2,4/19/2011 16:19,1.50,USA\n3,C,1,4/19/2011 16:19,2.00,France\n"


def post_file(client: Client, shop_code: str, content: bytes, name: str = "sales.csv", *, json: bool = True, **extra):
    """POST a file to /uploads/ as the page's script does (Accept: application/json)."""
    shop = Shop.objects.get(code=shop_code)
    data = {"shop": shop.pk, "file": SimpleUploadedFile(name, content), **extra}
    headers = {"Accept": "application/json"} if json else {}
    return client.post("/uploads/", data, headers=headers)
