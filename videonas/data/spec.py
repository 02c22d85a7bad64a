"""DatasetSpec: one description of a dataset shared by Python, notebook parameters and the CLI/YAML config.

    spec = DatasetSpec.from_value({"format": "csv", "path": "k400/train.csv", "video_root": "k400"})
    ds = spec.open()        # always has "train" and "val" ("test" kept when present)

Formats: `embedded` (the generated dataset: profile, seed, multi_label), `folder` (`root/<class>/<video>` or
`root/<split>/<class>/<video>`), `split-lists` (class folders plus UCF-style list files), `hmdb` (class folders plus
HMDB-51's split files), `csv` (Kinetics/MiT rows: one CSV, or a folder of per-split CSVs), `charades` (multi-label
CSVs, scored with mAP) and `something` (Something-Something v2 JSON or v1 CSV). A video may be a frame folder (numbered
images, read at options.frame_rate). A `validation` split is read as `val`. When the data has no val split,
`val_fraction` of each class of train (or of the unsplit data) becomes val, chosen by `val_seed` and keeping clips of
one source video together: the same files every run, and the load report says so. `open()` checks classes and files
(`checks`). Relative paths in the options resolve against `path` (the CSV's folder for csv).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from videonas.data import checks, embedded, something, splits as val_splits, tables
from videonas.data.formats import (Dataset, charades_dataset, csv_dataset, csv_folder_dataset, folder_dataset,
                                   hmdb_dataset, something_dataset)

FORMATS = ("embedded", "folder", "split-lists", "hmdb", "csv", "charades", "something")
OPTIONS: dict[str, dict[str, Any]] = {  # the options each format takes, with their defaults
    "embedded": {"profile": "smoke", "seed": 0, "multi_label": False},
    "folder": {"frame_rate": None},
    "split-lists": {"lists": None, "frame_rate": None},
    "hmdb": {"splits": None, "split": 1, "frame_rate": None},
    "csv": {"video_root": None, "classes": None, "trimmed": True,
            "file_template": "{youtube_id}_{time_start:06d}_{time_end:06d}.mp4"},
    "charades": {"csvs": None, "video_root": None, "classes": None, "extension": ".mp4",
                 "frame_rate": tables.CHARADES_FRAME_RATE},
    "something": {"video_root": None, "extension": ".webm", "frame_rate": something.FRAME_RATE},
}
HMDB_SPLITS = "testTrainMulti_7030_splits"  # the official split files' folder, looked for in path and its parent
VAL_ALIASES = ("validation", "validate")
_FIELDS = ("format", "path", "options", "val_fraction", "val_seed", "name")


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """`format` (one of FORMATS); `path`: the dataset folder, or for csv the CSV file or a folder of per-split CSVs
    (None for embedded); `options`: the reader's options (OPTIONS[format], defaults filled in); `val_fraction`/
    `val_seed`: the stratified, group-aware val split made when the data has none; `name`: shown in reports (default:
    the folder or CSV name)."""

    format: str
    path: str | None = None
    options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    val_fraction: float = 0.2
    val_seed: int = 0
    name: str | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"DatasetSpec.format must be one of {list(FORMATS)}, got {self.format!r}")
        if not isinstance(self.options, Mapping):
            raise ValueError(f"DatasetSpec.options must be a mapping, got {self.options!r}")
        allowed = OPTIONS[self.format]
        unknown = sorted(set(self.options) - set(allowed))
        if unknown:
            raise ValueError(f"DatasetSpec.options: unknown key {unknown[0]!r} for format {self.format!r}; "
                             f"allowed: {sorted(allowed)}")
        options = {**allowed, **json.loads(json.dumps(dict(self.options), default=str))}  # a plain JSON copy
        _check_options(self.format, options)
        object.__setattr__(self, "options", MappingProxyType(options))
        if self.format == "embedded":
            if self.path is not None:
                raise ValueError(f"DatasetSpec.path must be None for format 'embedded' (use options.profile), "
                                 f"got {self.path!r}")
        elif not isinstance(self.path, (str, Path)) or not str(self.path):
            raise ValueError(f"DatasetSpec.path is required for format {self.format!r}, got {self.path!r}")
        else:
            object.__setattr__(self, "path", str(self.path))
            expected = Path(self.path).is_file() if self.format == "csv" else Path(self.path).is_dir()
            if self.format == "csv" and not expected and Path(self.path).is_dir():
                expected = "train" in tables.split_csvs(self.path)
            if not expected:
                kind = "file (nor a folder with train.csv)" if self.format == "csv" else "folder"
                raise ValueError(f"DatasetSpec.path {self.path!r}: no such {kind}")
        if isinstance(self.val_fraction, bool) or not isinstance(self.val_fraction, (int, float)) \
                or not 0 < self.val_fraction < 1:
            raise ValueError(f"DatasetSpec.val_fraction must be a number in (0, 1), got {self.val_fraction!r}")
        object.__setattr__(self, "val_fraction", float(self.val_fraction))
        if isinstance(self.val_seed, bool) or not isinstance(self.val_seed, int) or self.val_seed < 0:
            raise ValueError(f"DatasetSpec.val_seed must be a non-negative int, got {self.val_seed!r}")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError(f"DatasetSpec.name must be a non-empty string or None, got {self.name!r}")

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True))

    def __reduce__(self):  # the read-only options proxy does not pickle; workers get the same, already checked, spec
        return _rebuild, (self.to_dict(),)

    @classmethod
    def from_value(cls, value: Any) -> "DatasetSpec":
        """A DatasetSpec; a mapping of its fields (reader options nested under "options" or given at the top level);
        "embedded:smoke" / "embedded:default"; a path to a .csv file (csv) or to a folder (folder)."""
        if isinstance(value, DatasetSpec):
            return value
        if isinstance(value, Path):
            value = str(value)
        if isinstance(value, str):
            if value.startswith("embedded:"):
                return cls("embedded", options={"profile": value.split(":", 1)[1]})
            return cls("csv" if value.lower().endswith(".csv") else "folder", value)
        if not isinstance(value, Mapping):
            raise ValueError(f"dataset must be a DatasetSpec, a mapping or a string, got {value!r}")
        if "format" not in value:
            raise ValueError(f"dataset mapping needs a 'format' (one of {list(FORMATS)}), got keys {sorted(value)}")
        fields = {key: item for key, item in value.items() if key in _FIELDS}
        flat = {key: item for key, item in value.items() if key not in _FIELDS}
        nested = fields.pop("options", None) or {}
        if not isinstance(nested, Mapping):
            raise ValueError(f"DatasetSpec.options must be a mapping, got {nested!r}")
        both = sorted(set(flat) & set(nested))
        if both:
            raise ValueError(f"DatasetSpec.options: key {both[0]!r} given both at the top level and in options")
        return cls(**fields, options={**nested, **flat})

    def to_dict(self) -> dict:
        """Plain JSON that `from_value` turns back into an equal spec."""
        return {"format": self.format, "path": self.path, "options": dict(self.options),
                "val_fraction": self.val_fraction, "val_seed": self.val_seed, "name": self.name}

    def with_options(self, **changes: Any) -> "DatasetSpec":
        return dataclasses.replace(self, options={**self.options, **changes})

    @property
    def multi_label(self) -> bool:
        """Scored with mAP (multi-hot targets) rather than top-1."""
        return self.format == "charades" or (self.format == "embedded" and bool(self.options["multi_label"]))

    def open(self) -> Dataset:
        """The dataset index with "train" and "val" splits. Raises ValueError naming the dataset, split and first
        missing files when none of a split's files exist (e.g. a wrong file_template or video_root)."""
        options = self.options
        if self.format == "embedded":
            dataset = embedded.embedded_dataset(options["profile"], seed=options["seed"],
                                                multi_label=options["multi_label"])
        elif self.format == "folder":
            dataset = folder_dataset(self.path, name=self.name)
        elif self.format == "split-lists":
            dataset = folder_dataset(self.path, name=self.name, frame_rate=options["frame_rate"], split_lists={
                split: self._file("lists", list_path) for split, list_path in options["lists"].items()})
        elif self.format == "hmdb":
            found = [folder for folder in (Path(self.path) / HMDB_SPLITS, Path(self.path).parent / HMDB_SPLITS)
                     if folder.is_dir()]
            splits_folder = self._folder("splits", options["splits"] or (str(found[0]) if found else HMDB_SPLITS))
            dataset = hmdb_dataset(self.path, splits_folder, split=options["split"], name=self.name,
                                   frame_rate=options["frame_rate"])
        elif self.format == "csv":
            root = options["video_root"]
            reader = csv_folder_dataset if Path(self.path).is_dir() else csv_dataset
            dataset = reader(self.path, video_root=self._folder("video_root", root) if root else None,
                             classes=options["classes"], file_template=options["file_template"],
                             trimmed=options["trimmed"], name=self.name)
        elif self.format == "something":
            root = options["video_root"]
            dataset = something_dataset(self.path, video_root=self._folder("video_root", root) if root else None,
                                        extension=options["extension"], frame_rate=options["frame_rate"],
                                        name=self.name)
        else:
            root = options["video_root"] or ("videos" if (Path(self.path) / "videos").is_dir() else ".")
            csvs = options["csvs"] or _discover_csvs(Path(self.path))
            dataset = charades_dataset({split: self._file("csvs", path) for split, path in csvs.items()},
                                       video_root=self._folder("video_root", root), classes=options["classes"],
                                       extension=options["extension"], name=self.name or Path(self.path).name,
                                       frame_rate=options["frame_rate"])
        if self.name is not None:
            dataset.name = self.name
        dataset = with_train_val(dataset, fraction=self.val_fraction, seed=self.val_seed)
        if self.format != "embedded":
            checks.check_classes(dataset)
            checks.check_files(dataset, self.format)
        return dataset

    def _resolve(self, value: str) -> Path:
        base = Path(self.path).parent if self.format == "csv" and Path(self.path).is_file() else Path(self.path)
        return base / value if not Path(value).is_absolute() else Path(value)

    def _file(self, option: str, value: str) -> Path:
        path = self._resolve(value)
        if not path.is_file():
            raise ValueError(f"DatasetSpec.options.{option}: {value!r} is not a file ({str(path)!r})")
        return path

    def _folder(self, option: str, value: str) -> Path:
        path = self._resolve(value)
        if not path.is_dir():
            raise ValueError(f"DatasetSpec.options.{option}: {value!r} is not a folder ({str(path)!r})")
        return path


def _rebuild(fields: dict) -> DatasetSpec:
    spec = object.__new__(DatasetSpec)
    for key, value in fields.items():
        object.__setattr__(spec, key, MappingProxyType(value) if key == "options" else value)
    return spec


def _check_options(fmt: str, options: dict[str, Any]) -> None:
    def fail(key: str, expected: str) -> None:
        raise ValueError(f"DatasetSpec.options.{key} for format {fmt!r} must be {expected}, got {options[key]!r}")

    for key, value in options.items():
        if key == "profile":
            if value not in embedded.PROFILES:
                fail(key, f"one of {sorted(embedded.PROFILES)}")
        elif key == "seed" and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            fail(key, "a non-negative int")
        elif key in ("multi_label", "trimmed") and not isinstance(value, bool):
            fail(key, "true or false")
        elif key == "frame_rate" and value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
            fail(key, "a positive number of frames per second (for frame folders) or None")
        elif key == "split" and (isinstance(value, bool) or value not in (1, 2, 3)):
            fail(key, "1, 2 or 3 (HMDB-51's three splits)")
        elif key == "splits" and value is not None and (not isinstance(value, str) or not value):
            fail(key, f"the folder of HMDB-51's split files ({HMDB_SPLITS}) or None")
        elif key in ("file_template", "extension") and (not isinstance(value, str) or not value):
            fail(key, "a non-empty string")
        elif key == "video_root" and value is not None and (not isinstance(value, str) or not value):
            fail(key, "a folder path or None")
        elif key == "classes" and value is not None and (
                isinstance(value, str) or not isinstance(value, list) or not all(isinstance(c, str) for c in value)):
            fail(key, "a list of class names or None")
        elif key in ("lists", "csvs") and (value is not None or key == "lists") and (
                not isinstance(value, dict) or not value
                or not all(isinstance(s, str) and isinstance(p, str) for s, p in value.items())):
            fail(key, "a mapping of split name to file, e.g. {'train': 'trainlist01.txt', 'val': 'testlist01.txt'}")
    if fmt in ("charades", "something") and not options["extension"].startswith("."):
        fail("extension", "a file extension starting with '.'")


def _discover_csvs(folder: Path) -> dict[str, str]:
    """CSV files of a Charades-style folder by the split word in their name (Charades_v1_train.csv -> train)."""
    found = {}
    for path in sorted(folder.glob("*.csv")):
        words = path.stem.lower().replace("-", "_").split("_")
        split = next((word for word in ("train", "val", *VAL_ALIASES, "test") if word in words), None)
        if split is not None:
            found.setdefault("val" if split in VAL_ALIASES else split, path.name)
    if "train" not in found:
        raise ValueError(f"DatasetSpec.path {str(folder)!r}: no '*train*.csv' found; give options.csvs "
                         f"({{'train': ..., 'val': ...}})")
    return found


def with_train_val(dataset: Dataset, *, fraction: float, seed: int) -> Dataset:
    """The dataset with "train" and "val": a validation split is renamed val; without one, `fraction` of each
    class of train (or of the unsplit "all") becomes val, chosen by `seed` (stratified by first label, clips of one
    source video on one side: `splits.stratified`)."""
    splits = {split: dataset.records(split) for split in dataset.splits}
    for alias in VAL_ALIASES:
        if alias in splits:
            if "val" in splits:
                raise ValueError(f"dataset {dataset.name!r} has both a 'val' and a {alias!r} split; keep one")
            splits["val"] = splits.pop(alias)
    notes = dict(dataset.notes)
    if "val" not in splits:
        source = "train" if "train" in splits else "all" if "all" in splits else None
        if source is None:
            raise ValueError(f"dataset {dataset.name!r} needs a 'train' split or unsplit videos to take val from, "
                             f"has {sorted(splits)}")
        splits["train"], splits["val"], grouped = val_splits.stratified(splits.pop(source), fraction, seed)
        kept = f", clips of one source video on one side ({grouped} sources of several)" if grouped else ""
        notes["val"] = (f"val: {fraction:.0%} of each class of {source!r} ({len(splits['val'])} videos, stratified"
                        f"{kept}, seed {seed}); train: the other {len(splits['train'])}")
        notes["train"] = notes["val"]
    if "train" not in splits:
        raise ValueError(f"dataset {dataset.name!r} has no 'train' split (has {sorted(splits)})")
    splits.pop("all", None)
    return dataset.with_splits(splits, notes)
