"""An upload handler that streams each file to a temporary file on disk in chunks, hashes
it on the way, and stops a body over the size limit before it is read.

Django's TemporaryFileUploadHandler already writes to disk above FILE_UPLOAD_MAX_MEMORY_SIZE;
this one always does (so the size of the web process does not depend on the file's) and
computes the SHA-256 while the bytes pass, so the file is not read a second time to hash it.
"""

import hashlib
import os
import tempfile

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload, TemporaryFileUploadHandler
from django.http import QueryDict
from django.template.defaultfilters import filesizeformat
from django.utils.datastructures import MultiValueDict

from salesapp.folders import temp_dir

# Multipart boundaries, headers and the small form fields around one file.
BODY_OVERHEAD = 64 * 1024


class UploadTempFile(TemporaryUploadedFile):
    """Django's temporary upload file, in TEMP_DIR (DATA_DIR/tmp, made on first use; on the
    stored files' disk, so storing the upload is a rename). Django's own FILE_UPLOAD_TEMP_DIR
    stays unset: its system check wants the folder made before any process needs it."""

    def __init__(self, name, content_type, size, charset, content_type_extra=None):
        file = tempfile.NamedTemporaryFile(suffix=".upload" + os.path.splitext(name)[1], dir=temp_dir())  # noqa: SIM115
        UploadedFile.__init__(self, file, name, content_type, size, charset, content_type_extra)


class StreamingUploadHandler(TemporaryFileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        limit = settings.UPLOAD_MAX_BYTES
        if content_length and content_length > limit + BODY_OVERHEAD:
            # Refuse before reading the body; the view answers with this message (413).
            self.request.upload_refused = (
                f"The upload is {filesizeformat(content_length)}; the limit is {filesizeformat(limit)} per file."
            )
            return QueryDict(encoding=encoding), MultiValueDict()  # "handled": the body is never read
        return None

    def new_file(self, *args, **kwargs) -> None:
        FileUploadHandler.new_file(self, *args, **kwargs)  # TemporaryFileUploadHandler's, with our file:
        self.file = UploadTempFile(self.file_name, self.content_type, 0, self.charset, self.content_type_extra)
        self._sha256 = hashlib.sha256()
        self._received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._received += len(raw_data)
        if self._received > settings.UPLOAD_MAX_BYTES:
            limit = filesizeformat(settings.UPLOAD_MAX_BYTES)
            self.request.upload_refused = f"'{self.file_name}' is too big: the limit is {limit}."
            # The temporary file is deleted when the parser closes it; the rest is not read.
            raise StopUpload(connection_reset=True)
        self._sha256.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int):
        file = super().file_complete(file_size)
        file.sha256 = self._sha256.hexdigest()
        return file
