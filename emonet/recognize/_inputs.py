"""Which files of the paths a user names are photos and which are videos.

Shared by :meth:`Recognizer.predict` (a folder given to it) and ``emonet-predict``, so
that both read the same files of a folder. Light: no Keras, no dlib.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from emonet._image import IMAGE_EXTENSIONS

__all__ = ["PHOTO_EXTENSIONS", "VIDEO_EXTENSIONS", "find_inputs"]

#: Suffixes of the files read as photos (any case).
PHOTO_EXTENSIONS: tuple[str, ...] = IMAGE_EXTENSIONS
#: Suffixes of the files read as videos, frame by frame (any case).
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".wmv",
)

PathLike = str | bytes | os.PathLike


def find_inputs(
    paths: PathLike | Iterable[PathLike],
) -> tuple[list[Path], list[Path], list[str]]:
    """The photo and video files that ``paths`` name; folders are searched recursively.

    A file is a photo or a video by its suffix (:data:`PHOTO_EXTENSIONS`,
    :data:`VIDEO_EXTENSIONS`, any case). A folder gives its photos and videos in sorted
    order, its other files left out without a word; a file named directly that is neither
    is skipped with a message. A file named twice (itself and its folder, or through a
    link) comes once, where it is first named.

    Parameters
    ----------
    paths : path or iterable of paths
        Files and folders (``str``, ``bytes`` or path-like).

    Returns
    -------
    photos : list of pathlib.Path
    videos : list of pathlib.Path
        Each in the order the paths name them.
    skipped : list of str
        One message per path that gave nothing: a folder without photos or videos, a
        file of another type.

    Raises
    ------
    FileNotFoundError
        If a path does not exist, naming it.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from emonet.recognize import find_inputs
    >>> folder = Path(tempfile.mkdtemp())
    >>> for name in ("b.jpg", "sub/a.PNG", "clip.mp4", "notes.txt"):
    ...     (folder / name).parent.mkdir(exist_ok=True)
    ...     _ = (folder / name).write_bytes(b"")
    >>> photos, videos, skipped = find_inputs([folder, folder / "notes.txt"])
    >>> [p.relative_to(folder).as_posix() for p in photos], [v.name for v in videos]
    (['b.jpg', 'sub/a.PNG'], ['clip.mp4'])
    >>> skipped
    ['.../notes.txt: not an image or video file (.txt)']
    """
    if isinstance(paths, str | bytes | os.PathLike):
        paths = [paths]
    known = (*PHOTO_EXTENSIONS, *VIDEO_EXTENSIONS)
    files: list[Path] = []
    skipped: list[str] = []
    for name in paths:
        path = Path(os.fsdecode(name))
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in known)
            if not found:
                skipped.append(f"{path}: no image or video files in this folder")
            files += found
        elif path.is_file():
            if path.suffix.lower() in known:
                files.append(path)
            else:
                skipped.append(
                    f"{path}: not an image or video file ({path.suffix or 'no suffix'})"
                )
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    # a file named twice (itself and its folder, or through a link) is read once
    first = {_same_file_key(path): path for path in reversed(files)}
    files = [path for path in files if first[_same_file_key(path)] is path]
    videos = [path for path in files if _is_video(path)]
    photos = [path for path in files if not _is_video(path)]
    return photos, videos, skipped


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def _same_file_key(path: Path) -> Path:
    # links followed, so that two names of one file compare equal
    return Path(os.path.realpath(path))
