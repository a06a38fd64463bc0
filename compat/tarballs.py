"""Files and directories as tar bytes owned by the build user, for Engine.put_tree."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def tar_directory(directory: Path, arcname: str) -> bytes:
    """A directory as tar bytes, owned by the build user, for Engine.put_tree."""
    buffer = io.BytesIO()

    def owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 1000
        info.uname = info.gname = "builder"
        return info

    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(directory, arcname=arcname, filter=owned)
    return buffer.getvalue()


def tar_files(files: dict[str, bytes]) -> bytes:
    """Files (relative name -> content) as tar bytes, owned by the build user, for Engine.put_tree."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.uid, info.gid, info.uname, info.gname = len(data), 1000, 1000, "builder", "builder"
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
