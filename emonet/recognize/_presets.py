"""Bundled models, named as keras-hub names its presets: a folder per preset.

A preset folder holds ``preset.json``, one model file per member (``.keras``, or the
quantized ``.tflite`` of :func:`emonet.models.quantize_model`) and, for
several members, the ``ensemble.json`` of ``emonet-fit-ensemble``. The bundled ones live
in ``emonet/pretrained/`` (package data); any folder of the same layout can be loaded.

A preset names its files relative to its folder, and they must stay inside it: a member
or ensemble given as an absolute path, climbing out with ``..``, or a link that leads out
of the folder is refused, so that a preset from elsewhere loads only its own files.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
from pathlib import Path
from typing import Any

from emonet._choices import tta_mode
from emonet._constants import KERAS_SUFFIX, LITE_SUFFIX
from emonet._io import atomic_write_text

__all__ = ["lite_only", "list_presets", "preset_path", "save_preset", "load_preset_config"]

PRESET_FILE = "preset.json"
PRESET_FORMAT = "emonet-preset"
PRESET_VERSION = 1
#: The preset ``Recognizer()`` loads when none is named.
DEFAULT_PRESET = "default"


def _bundled_root() -> Path:
    return Path(str(importlib.resources.files("emonet") / "pretrained"))


def list_presets() -> dict[str, str]:
    """The presets bundled with emonet, with a one-line description each.

    Returns
    -------
    dict of str to str
        Preset name to description, sorted by name.

    Examples
    --------
    >>> import emonet
    >>> "default" in emonet.list_presets()
    True
    """
    root = _bundled_root()
    presets = {}
    if root.is_dir():
        for folder in sorted(root.iterdir()):
            if (folder / PRESET_FILE).is_file():
                presets[folder.name] = load_preset_config(folder).get("description", "")
    return presets


def preset_path(preset: str | os.PathLike[str]) -> Path:
    """The folder of a bundled preset's name, or of a preset folder given as a path.

    Raises
    ------
    ValueError
        If ``preset`` is neither a bundled preset nor a folder with ``preset.json``.
    """
    if isinstance(preset, str) and os.sep not in preset and "/" not in preset:
        folder = _bundled_root() / preset
        if (folder / PRESET_FILE).is_file():
            return folder
    folder = Path(preset)
    if (folder / PRESET_FILE).is_file():
        return folder
    names = ", ".join(list_presets()) or "none installed"
    raise ValueError(
        f"unknown preset {str(preset)!r}: name a bundled preset ({names}) or a folder "
        f"holding {PRESET_FILE}"
    )


def lite_only(
    preset: str | os.PathLike[str] | None = None,
    models: list[str | os.PathLike[str]] | None = None,
) -> bool:
    """Whether the networks of a preset, or of ``models``, are all int8 LiteRT files.

    Those run on the LiteRT interpreter alone: a program that runs nothing else needs no
    Keras backend, and may import Keras on NumPy (``import_tensorflow(lite_only=True)``),
    in half TensorFlow's time.

    Parameters
    ----------
    preset : str or path, optional
        A bundled preset's name or a preset folder; default :data:`DEFAULT_PRESET`.
    models : list of paths, optional
        Model files, instead of a preset (as :class:`Recognizer` takes them).

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        If the preset is unknown or its ``preset.json`` damaged.

    Examples
    --------
    >>> from emonet.recognize import lite_only
    >>> lite_only("fast"), lite_only(models=["mine.keras", "mine_int8.tflite"])
    (True, False)
    """
    if models:
        names = [os.fspath(model) for model in models]
    else:
        folder = preset_path(DEFAULT_PRESET if preset is None else preset)
        names = load_preset_config(folder)["members"]
    return all(str(name).endswith(LITE_SUFFIX) for name in names)


def load_preset_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check a preset folder's ``preset.json``.

    Returns
    -------
    dict
        ``name``, ``description``, ``members`` (file names), ``ensemble`` (file name or
        ``None``), ``tta`` (a name of :data:`emonet.models.TTA_MODES`; ``true`` and
        ``false`` are read as ``"flip"`` and ``"none"``) and ``metrics``.

    Raises
    ------
    ValueError
        If the file is damaged, names files that are missing, or names a file outside
        the preset folder (an absolute path, ``..``, a link leading out): one line naming
        ``preset.json`` and the entry.
    """
    folder = Path(folder)
    path = folder / PRESET_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable preset file ({error})") from None
    if not isinstance(config, dict) or config.get("format") != PRESET_FORMAT:
        raise ValueError(f"{path}: not an emonet preset file")
    if config.get("format_version") != PRESET_VERSION:
        raise ValueError(
            f"{path}: preset version {config.get('format_version')!r}; this emonet reads "
            f"version {PRESET_VERSION}: upgrade emonet"
        )
    members = config.get("members")
    if not isinstance(members, list) or not members:
        raise ValueError(f"{path}: 'members' must list at least one model file")
    files = [("member", name) for name in members]
    if config.get("ensemble"):  # null (or false, "") for a single member
        files.append(("ensemble", config["ensemble"]))
    else:
        config["ensemble"] = None
    for entry, name in files:
        _check_inside(folder, path, entry, name)
    missing = [name for _, name in files if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"{path}: names missing files: {', '.join(map(str, missing))}")
    config.setdefault("description", "")
    try:
        config["tta"] = tta_mode(config.get("tta", False))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
    config.setdefault("metrics", {})
    return config


def _check_inside(folder: Path, path: Path, entry: str, name: Any) -> None:
    """Refuse a file name of ``preset.json`` that is not a file of the preset folder."""
    if not isinstance(name, str) or not name.strip() or "\0" in name:
        raise ValueError(
            f"{path}: {entry} {name!r} is not a file name; name a file in the preset folder"
        )
    relative = Path(name)
    inside = not relative.is_absolute() and ".." not in relative.parts
    if inside:
        # a link inside the folder may lead out of it
        try:
            root = folder.resolve()
            inside = (root / relative).resolve().is_relative_to(root)
        except (OSError, RuntimeError):  # a loop of links
            inside = False
    if not inside:
        raise ValueError(
            f"{path}: {entry} {name!r} lies outside the preset folder {folder}; a preset "
            "names files relative to its folder and inside it: copy the file into the "
            "folder (emonet.recognize.save_preset does) and name it so"
        )


def save_preset(
    folder: str | os.PathLike[str],
    members: list[str | os.PathLike[str]],
    ensemble: str | os.PathLike[str] | None = None,
    *,
    name: str | None = None,
    description: str = "",
    tta: bool | str = False,
    metrics: dict[str, Any] | None = None,
) -> Path:
    """Write a preset folder: copies of the member models, the ensemble and ``preset.json``.

    Parameters
    ----------
    folder : str or path-like
        The preset folder to write (``emonet/pretrained/NAME`` to bundle it).
    members : list of paths
        ``.keras`` files of :func:`emonet.models.save_model` (or ``emonet-train``), or
        ``.tflite`` files of :func:`emonet.models.quantize_model` (or
        ``emonet-quantize``).
    ensemble : path, optional
        An ``ensemble.json`` of ``emonet-fit-ensemble`` whose models are ``members``, in
        that order. Required for more than one member.
    name : str, optional
        Default: the folder's name.
    description : str
        One line for :func:`list_presets`.
    tta : bool or {"none", "flip", "multiscale"}
        The recognizer's test-time augmentation by default: none, each face averaged
        with its mirror image (``True``), or both at three zooms.
    metrics : dict, optional
        Measured figures to keep with the preset (e.g. PublicTest accuracy).

    Returns
    -------
    pathlib.Path
        The folder.
    """
    folder = Path(folder)
    tta = tta_mode(tta)
    if len(members) > 1 and ensemble is None:
        raise ValueError("a preset of several models needs their ensemble.json")
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for member in members:
        member = Path(member)
        if member.suffix not in (KERAS_SUFFIX, LITE_SUFFIX):
            raise ValueError(
                f"{member}: a preset member must be a {KERAS_SUFFIX} or {LITE_SUFFIX} model file"
            )
        target = folder / member.name
        if target.name in names:
            raise ValueError(f"two members are named {target.name}; rename one")
        if member.resolve() != target.resolve():
            shutil.copyfile(member, target)
        names.append(target.name)
    config = {
        "format": PRESET_FORMAT,
        "format_version": PRESET_VERSION,
        "name": name or folder.name,
        "description": description,
        "members": names,
        "ensemble": None,
        "tta": tta,
        "metrics": metrics or {},
    }
    if ensemble is not None:
        ensemble = Path(ensemble)
        if ensemble.resolve() != (folder / "ensemble.json").resolve():
            shutil.copyfile(ensemble, folder / "ensemble.json")
        config["ensemble"] = "ensemble.json"
    atomic_write_text(folder / PRESET_FILE, json.dumps(config, indent=2) + "\n")
    load_preset_config(folder)  # what we wrote must read back
    return folder
