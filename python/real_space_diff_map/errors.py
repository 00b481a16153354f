"""Exceptions raised by real_space_diff_map.

Bad parameters raise ``ValueError``. Files that cannot be read or written, or that are not valid
maps or models, raise a :class:`FileError`, an ``OSError`` whose ``filename`` names the file and
whose message is the one the command line prints (``"model.pdb: no ATOM or HETATM records"``).
A missing file is also a ``FileNotFoundError``, a refused one also a ``PermissionError``.
"""

from __future__ import annotations

import errno as _errno
from typing import Optional


class FileError(OSError):
    """A file could not be read or written, or is not a valid map or model."""

    def __init__(self, message: str, filename: Optional[str] = None, errno: Optional[int] = None) -> None:
        super().__init__(message)
        self.filename = filename
        self.errno = errno
        self.strerror = message

    def __str__(self) -> str:
        return str(self.args[0])


class MapFileError(FileError):
    """A map file is malformed or unsupported (truncated, bad header, an unsupported mode)."""


class ModelFileError(FileError):
    """A model file is malformed or unusable (no atoms, broken records)."""


class LimitError(FileError):
    """A file asks for more than the limits allow (its map or grid would not fit in ``max_memory``),
    or is not a regular file (a FIFO, a device)."""


class MissingFileError(FileError, FileNotFoundError):
    """An input file does not exist."""


class FilePermissionError(FileError, PermissionError):
    """The system refused to open or write a file."""


class RealSpaceDiffMapWarning(UserWarning):
    """Something odd but not fatal in the inputs or the fit (the report's ``warnings``)."""


_BY_ERRNO = {
    _errno.ENOENT: MissingFileError,
    _errno.EACCES: FilePermissionError,
    _errno.EPERM: FilePermissionError,
}


def _file_error(kind: str, message: str, filename: str, errno: Optional[int]) -> FileError:
    """The exception for a file error of the compiled core (kind "io", "map" or "model")."""
    if kind == "map":
        return MapFileError(message, filename)
    if kind == "model":
        return ModelFileError(message, filename)
    if kind == "limit":
        return LimitError(message, filename)
    return _BY_ERRNO.get(errno, FileError)(message, filename, errno)
