"""An upload's body: the multipart parts named `file`, each within the upload limit (413 naming it), of a type ingest reads."""
from __future__ import annotations

from pathlib import Path

from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from backend.corpus.upload import MB, check_upload
from backend.gateway.http_errors import ApiError
from backend.ingest.loaders import SUPPORTED_EXTENSIONS
from backend.models import InputError

FIELD = "file"
MAX_FILES = 100  # one request is one ingest run; a bigger batch is several requests


class _PartTooLarge(Exception):
    def __init__(self, filename: str):
        super().__init__(filename)
        self.filename = filename


class _LimitedParser(MultiPartParser):
    """Starlette's multipart parser, stopping as soon as one file part passes `max_file_bytes`: an oversized file is
    refused while it arrives, never spooled to disk whole first."""

    def __init__(self, request: Request, max_file_bytes: int):
        super().__init__(request.headers, request.stream(), max_files=MAX_FILES, max_fields=MAX_FILES)
        self.max_file_bytes = max_file_bytes
        self._file_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._current_part.file
        if upload is not None:
            self._file_bytes += end - start
            if self._file_bytes > self.max_file_bytes:
                raise _PartTooLarge(upload.filename or "(no name)")
        super().on_part_data(data, start, end)


async def read_upload_form(request: Request, upload_max_mb: float) -> FormData:
    """The parsed multipart body (close it when done): 400 when it is not multipart, 413 naming an oversized file."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(400, f"{FIELD}: send multipart/form-data with one part named '{FIELD}' per file", FIELD)
    try:
        return await _LimitedParser(request, int(upload_max_mb * MB)).parse()
    except _PartTooLarge as exc:
        raise ApiError(413, f"{FIELD} {exc.filename!r}: over the upload limit of {upload_max_mb:g} MB "
                            "(GROUNDWORK_UPLOAD_MAX_MB)", FIELD) from None
    except MultiPartException as exc:
        raise ApiError(400, f"{FIELD}: the multipart body cannot be read ({exc.message})", FIELD) from None


def upload_parts(form: FormData, upload_max_mb: float) -> list[tuple[str, UploadFile]]:
    """(file name, part) for every `file` part: 400 naming the field for any other part, a part that is not a
    file, no file at all, a file name that cannot be stored, or a type no loader reads. Nothing is stored yet."""
    parts: list[tuple[str, UploadFile]] = []
    for name, value in form.multi_items():
        if name != FIELD:
            raise InputError(f"{name or '(no name)'}: unknown form field; send each file as a part named '{FIELD}'",
                             field=name or FIELD)
        if not isinstance(value, UploadFile):
            raise InputError(f"{FIELD}: a part named '{FIELD}' must be a file (give it a filename)", field=FIELD)
        try:
            clean = check_upload(value.filename or "", value.size or 0, upload_max_mb)
        except InputError as exc:
            raise InputError(f"{FIELD}: {exc}", field=FIELD) from None
        extension = Path(clean).suffix.lower()
        if extension not in SUPPORTED_EXTENSIONS:
            kind = f"'{extension}'" if extension else "(no extension)"
            raise InputError(f"{FIELD} {clean!r}: unsupported file type {kind} (supported: "
                             f"{', '.join(SUPPORTED_EXTENSIONS)})", field=FIELD)
        parts.append((clean, value))
    if not parts:
        raise InputError(f"{FIELD}: no file sent; send each file as a multipart part named '{FIELD}'", field=FIELD)
    return parts
