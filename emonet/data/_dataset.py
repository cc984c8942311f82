"""The in-memory dataset every reader returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emonet._constants import FACE_SIZE, LABELS, NUM_CLASSES, USAGES


def check_usages(usage: str | list[str]) -> list[str]:
    """``usage`` as a list of FER2013 usages (``""`` allowed for unspecified).

    Raises
    ------
    ValueError
        If a usage is not one of ``emonet.USAGES``.
    """
    wanted = [usage] if isinstance(usage, str) else list(usage)
    for u in wanted:
        if u not in USAGES and u != "":
            raise ValueError(f"unknown usage {u!r}: expected one of {USAGES}")
    return wanted


class DataError(ValueError):
    """Input that emonet cannot read: the message names the file (and line) and what
    was expected."""


@dataclass(frozen=True)
class Skipped:
    """A face left out of a dataset, and why."""

    id: str
    reason: str


@dataclass
class Dataset:
    """Faces with their labels, FER2013 usage and ids.

    Attributes
    ----------
    images : (N, 48, 48) ndarray of uint8
        Grayscale faces.
    labels : (N,) ndarray of int64
        Indices into :data:`emonet.LABELS`; -1 where unknown.
    usage : (N,) ndarray of str
        FER2013 split of each face (``"Training"``, ``"PublicTest"``, ``"PrivateTest"``),
        or ``""`` where the source does not say.
    ids : (N,) ndarray of str
        A unique, stable name for each face: the file's path below the folder given to
        the reader (``"val/happy/PublicTest_10001.jpg"``), or the zero-based data row of
        ``fer2013.csv`` (``"28709"``).
    skipped : list of Skipped
        Faces the reader could not use (unreadable or too small an image), with reasons.

    Raises
    ------
    ValueError
        If the arrays disagree in length, the images are not 48x48 values in 0..255, or
        a label is outside -1..6.
    """

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    ids: np.ndarray
    skipped: list[Skipped] = field(default_factory=list)

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        if images.size == 0:
            images = np.empty((0, FACE_SIZE, FACE_SIZE), np.uint8)
        if images.shape[-2:] != (FACE_SIZE, FACE_SIZE):
            raise ValueError(f"Dataset.images must be 48x48 faces, got shape {images.shape}")
        if images.dtype != np.uint8 and not (
            images.dtype.kind in "iu"
            and (images.size == 0 or 0 <= images.min() <= images.max() <= 255)
        ):
            # a cast would wrap 300 to 44 and truncate 0.5 to 0: refuse instead
            raise ValueError(
                f"Dataset.images must be uint8 (or integers in 0..255), got {images.dtype}"
            )
        self.images = images.astype(np.uint8, copy=False).reshape(-1, FACE_SIZE, FACE_SIZE)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if self.labels.size and not -1 <= self.labels.min() <= self.labels.max() < NUM_CLASSES:
            raise ValueError(
                f"Dataset.labels must lie in -1..{NUM_CLASSES - 1}, got "
                f"{self.labels.min()}..{self.labels.max()}"
            )
        self.usage = np.asarray(self.usage, dtype=str).reshape(-1)
        self.ids = np.asarray(self.ids, dtype=str).reshape(-1)
        n = len(self.images)
        for name in ("labels", "usage", "ids"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"Dataset.{name} has {len(getattr(self, name))} entries for {n} images"
                )

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        counts = ", ".join(f"{u or 'unspecified'}: {int(c)}" for u, c in self.usage_counts())
        return f"Dataset({len(self)} faces; {counts}; {len(self.skipped)} skipped)"

    def usage_counts(self) -> list[tuple[str, int]]:
        """Number of faces per usage, in FER2013 order."""
        values, counts = np.unique(self.usage, return_counts=True)
        found = dict(zip(values.tolist(), counts.tolist(), strict=True))
        order = [u for u in USAGES if u in found] + sorted(set(found) - set(USAGES))
        return [(u, found[u]) for u in order]

    def select(self, usage: str | list[str]) -> Dataset:
        """The faces of one usage (or several).

        Parameters
        ----------
        usage : str or list of str
            ``"Training"``, ``"PublicTest"``, ``"PrivateTest"`` (or ``""``).

        Returns
        -------
        Dataset
            A new dataset with copies of the selected rows.

        Raises
        ------
        ValueError
            If a usage is not a FER2013 usage.

        Examples
        --------
        >>> import numpy as np
        >>> from emonet.data import Dataset
        >>> d = Dataset(np.zeros((2, 48, 48), np.uint8), [3, 6], ["Training", "PublicTest"],
        ...             ["a", "b"])
        >>> d.select("PublicTest").ids.tolist()
        ['b']
        """
        keep = np.isin(self.usage, check_usages(usage))
        return Dataset(
            self.images[keep],
            self.labels[keep],
            self.usage[keep],
            self.ids[keep],
            list(self.skipped),
        )

    @property
    def label_names(self) -> np.ndarray:
        """Label name of each face (``"unknown"`` where the label is -1)."""
        names = np.array(LABELS + ("unknown",))
        return names[self.labels]
