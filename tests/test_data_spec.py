"""DatasetSpec end to end: a small dataset of every format, built from generated videos (constant and variable frame
rate, rotated, truncated, a broken link, a missing file), opened and loaded; splits, labels, orientation and the load
report's counts and reasons."""

import json
import pickle
import shutil

import av
import numpy as np
import pytest

from videonas.data import ClipSpec, DatasetSpec, embedded_dataset, load_clips
from videonas.data.samples import indexed_frames, marker_corner, read_indices, write_video

VFR_TIMES = [0.0, 0.1, 0.15, 0.5, 0.55, 0.6, 1.0, 1.7, 1.75, 2.0, 2.3, 2.35, 2.4, 3.2, 3.9]
SPEC = ClipSpec(num_frames=4, image_size=16, fps=2.0)


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """Source videos: cfr (20 frames at 10 fps), vfr, rotated (90 degrees), truncated (header 5 s, ~3 s of data)."""
    root = tmp_path_factory.mktemp("library")
    write_video(root / "cfr.mp4", indexed_frames(20), fps=10)
    write_video(root / "vfr.mp4", indexed_frames(len(VFR_TIMES)), times=VFR_TIMES)
    write_video(root / "rotated.mp4", indexed_frames(20), fps=10, rotation=90)
    full = write_video(root / "full.mp4", indexed_frames(50), fps=10, faststart=True)
    with av.open(str(full)) as container:
        positions = [packet.pos for packet in container.demux(video=0) if packet.pos is not None]
    (root / "truncated.mp4").write_bytes(full.read_bytes()[:positions[30]])
    return root


def place(library, path, source):
    path.parent.mkdir(parents=True, exist_ok=True)
    if source == "broken":
        path.symlink_to(path.parent / "deleted.mp4")
    else:
        shutil.copy(library / f"{source}.mp4", path)
    return path


def load_all(dataset):
    clips = {split: load_clips(dataset, split, SPEC, cache_dir=dataset.root + "_cache") for split in dataset.splits}
    reports = [clip.report for clip in clips.values()]
    reasons = {}
    for report in reports:
        for reason, count in report.reasons().items():
            reasons[reason] = reasons.get(reason, 0) + count
    damaged = [problem for report in reports for _, problem in report.damaged]
    return clips, sum(report.loaded for report in reports), reasons, damaged


def test_flat_folder_gets_a_stratified_seeded_val_split_and_a_full_load_report(library, tmp_path):
    root = tmp_path / "flat"
    for index, source in enumerate(["cfr", "vfr", "rotated", "cfr", "cfr"]):
        place(library, root / "run" / f"r{index}.mp4", source)
    for index, source in enumerate(["cfr", "truncated", "cfr", "cfr", "broken"]):
        place(library, root / "jump" / f"j{index}.mp4", source)
    spec = DatasetSpec.from_value(str(root))
    assert spec.format == "folder" and not spec.multi_label
    dataset = spec.open()
    assert dataset.splits == ["train", "val"] and dataset.class_names == ["jump", "run"]
    val = dataset.records("val")
    assert len(val) == 2 and sorted(r.labels for r in val) == [(0,), (1,)]  # 20% of 5 per class
    assert len(dataset.records("train")) == 8
    assert [r.path for r in spec.open().records("val")] == [r.path for r in val]  # deterministic
    other = [DatasetSpec.from_value({"format": "folder", "path": str(root), "val_seed": seed}).open() for seed in
             range(1, 6)]
    assert any([r.path for r in o.records("val")] != [r.path for r in val] for o in other)
    clips, loaded, reasons, damaged = load_all(dataset)
    assert loaded == 9 and reasons == {"broken link": 1}
    assert len(damaged) == 1 and "content ends at" in damaged[0]  # the truncated file: loaded, and listed
    assert "20%" in clips["val"].report.split and "seed 0" in clips["val"].report.split
    for split, split_clips in clips.items():
        assert split_clips.labels.tolist() == [0 if "/jump/" in p else 1 for p in split_clips.paths]
    rotated = [(c, i) for c in clips.values() for i, p in enumerate(c.paths) if p.endswith("r2.mp4")]
    assert rotated and marker_corner(np.asarray(rotated[0][0].rgb[rotated[0][1], 0])) == "bottom-left"


def test_split_folders_validation_is_val_and_test_is_kept(library, tmp_path):
    root = tmp_path / "splits"
    for split, count in (("train", 3), ("validation", 2), ("test", 1)):
        for label in ("a", "b"):
            for index in range(count):
                place(library, root / split / label / f"{label}{index}.mp4", "cfr")
    dataset = DatasetSpec("folder", str(root)).open()
    assert {split: len(dataset.records(split)) for split in dataset.splits} == {"test": 2, "train": 6, "val": 4}
    assert dataset.notes == {}


def test_split_lists_count_a_listed_missing_file(library, tmp_path):
    root = tmp_path / "ucf"
    for label in ("Jump", "Run"):
        for index in range(3):
            place(library, root / label / f"v_{label}_{index}.avi.mp4", "vfr" if index == 0 else "cfr")
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "trainlist01.txt").write_text("Jump/v_Jump_0.avi.mp4 1\nJump/v_Jump_1.avi.mp4 1\n"
                                           "Run/v_Run_0.avi.mp4 2\nRun/v_Run_1.avi.mp4 2\nRun/v_Run_9.avi.mp4 2\n")
    (lists / "testlist01.txt").write_text("Jump/v_Jump_2.avi.mp4\nRun/v_Run_2.avi.mp4\n")
    spec = DatasetSpec.from_value({"format": "split-lists", "path": str(root),
                                   "lists": {"train": "../lists/trainlist01.txt", "test": "../lists/testlist01.txt"}})
    dataset = spec.open()
    assert {split: len(dataset.records(split)) for split in dataset.splits} == {"test": 2, "train": 3, "val": 2}
    _, loaded, reasons, _ = load_all(dataset)
    assert loaded == 6 and reasons == {"does not exist": 1}


def test_kinetics_csv_defaults_find_the_split_folder_layout(library, tmp_path):
    root = tmp_path / "k400"
    rows = ["label,youtube_id,time_start,time_end,split"]
    for split, count in (("train", 4), ("val", 2)):
        for label in ("abseiling", "zumba"):
            for index in range(count):
                video_id = f"{label[:3]}{split}{index}"
                rows.append(f"{label},{video_id},{10 * index},{10 * index + 10},{split}")
                place(library, root / split / f"{video_id}_{10 * index:06d}_{10 * index + 10:06d}.mp4",
                      "vfr" if index == 1 else "cfr")
    rows.append("zumba,gone,0,10,train")
    (root / "kinetics.csv").write_text("\n".join(rows) + "\n")
    dataset = DatasetSpec.from_value(str(root / "kinetics.csv")).open()
    assert {split: len(dataset.records(split)) for split in dataset.splits} == {"train": 9, "val": 4}
    clips, loaded, reasons, _ = load_all(dataset)
    assert loaded == 12 and reasons == {"does not exist": 1}
    assert clips["val"].labels.tolist() == [0, 0, 1, 1]
    (root / "wrong.csv").write_text("label,youtube_id,time_start,time_end,split\nzumba,nope,0,10,train\n")
    with pytest.raises(ValueError, match=r"dataset 'wrong' split 'train': none of its 1 video files exist.*"
                                         r"nope_000000_000010\.mp4"):
        DatasetSpec("csv", str(root / "wrong.csv")).open()


def test_charades_targets_follow_real_timestamps(library, tmp_path):
    root = tmp_path / "charades"
    header = "id,subject,scene,actions,length\n"
    train = [f'T{i},s,k,"c001 0.0 1.0;c002 1.0 2.0;c003 1.5 2.0",2.0' for i in range(5)]  # c003: in train too
    (root / "videos").mkdir(parents=True)
    for index in range(5):
        place(library, root / "videos" / f"T{index}.mp4", "cfr")
    place(library, root / "videos" / "VFR.mp4", "vfr")
    (root / "Charades_v1_train.csv").write_text(header + "\n".join(train) + "\n")
    (root / "Charades_v1_test.csv").write_text(header + 'VFR,s,k,"c003 2.8 4.0",4.0\n')
    spec = DatasetSpec.from_value({"format": "charades", "path": str(root), "val_fraction": 0.4})
    assert spec.multi_label and spec.options["csvs"] is None
    dataset = spec.open()
    assert {split: len(dataset.records(split)) for split in dataset.splits} == {"test": 1, "train": 3, "val": 2}
    assert dataset.multi_label and dataset.class_names == ["c001", "c002", "c003"]
    clips = load_clips(dataset, "test", ClipSpec(num_frames=4, image_size=16, fps=4.0), cache_dir=tmp_path / "c")
    # the VFR file's content lasts 4 s: the centred clip covers about 1.5-2.5 s, where c003 (2.8-4.0) has not begun
    assert clips.labels.tolist() == [[0.0, 0.0, 0.0]]
    assert read_indices(np.asarray(clips.rgb[0])) == [6, 8, 9, 9]  # on screen at about 1.54, 1.79, 2.04, 2.29 s
    late = load_clips(dataset, "test", ClipSpec(num_frames=4, image_size=16, fps=4.0, start=3.0),
                      cache_dir=tmp_path / "c")
    assert late.labels.tolist() == [[0.0, 0.0, 1.0]]
    assert read_indices(np.asarray(late.rgb[0])) == [12, 13, 13, 13]  # clamped to about 2.98-3.73 s


def test_embedded_spec_is_the_embedded_dataset_unchanged():
    spec = DatasetSpec.from_value("embedded:smoke")
    assert spec.options == {"profile": "smoke", "seed": 0, "multi_label": False} and not spec.multi_label
    opened, direct = spec.open(), embedded_dataset("smoke", seed=0)
    assert opened.fingerprint() == direct.fingerprint() and opened.class_kinds == direct.class_kinds
    assert all(opened.records(split) == direct.records(split) for split in ("train", "val", "test"))
    assert sorted(opened.splits) == ["test", "train", "val"] and opened.notes == {}
    assert DatasetSpec.from_value({"format": "embedded", "profile": "smoke", "multi_label": True}).multi_label
    assert DatasetSpec.from_value("embedded:default").options["profile"] == "default"


def test_from_value_forms_and_plain_json_round_trip(tmp_path):
    (tmp_path / "a.csv").write_text("label,file\nx,v.mp4\n")
    specs = [DatasetSpec.from_value("embedded:smoke"), DatasetSpec.from_value(str(tmp_path)),
             DatasetSpec.from_value(tmp_path / "a.csv"),
             DatasetSpec.from_value({"format": "csv", "path": str(tmp_path / "a.csv"), "trimmed": False,
                                     "classes": ("x",), "val_fraction": 0.1, "val_seed": 3, "name": "k"}),
             DatasetSpec.from_value({"format": "split-lists", "path": str(tmp_path),
                                     "options": {"lists": {"train": "t.txt"}}})]
    assert [spec.format for spec in specs] == ["embedded", "folder", "csv", "csv", "split-lists"]
    assert specs[3].options["classes"] == ["x"] and specs[3].options["trimmed"] is False
    for spec in specs:
        plain = json.loads(json.dumps(spec.to_dict()))
        assert DatasetSpec.from_value(plain) == spec and hash(DatasetSpec.from_value(plain)) == hash(spec)
        assert pickle.loads(pickle.dumps(spec)) == spec
        assert DatasetSpec.from_value(spec) is spec
    assert specs[3].with_options(trimmed=True).options["trimmed"] is True
    with pytest.raises(TypeError):
        specs[0].options["seed"] = 1  # frozen, options included


@pytest.mark.parametrize("value,match", [
    ({"format": "kinetics", "path": "."}, r"DatasetSpec.format must be one of .* got 'kinetics'"),
    ({"format": "folder", "path": ".", "video_root": "v"}, r"unknown key 'video_root' for format 'folder'"),
    ({"format": "folder", "path": ".", "val_fraction": 1.5}, r"DatasetSpec.val_fraction .* got 1.5"),
    ({"format": "folder", "path": ".", "val_fraction": 0}, r"DatasetSpec.val_fraction .* got 0"),
    ({"format": "folder", "path": ".", "val_seed": -1}, r"DatasetSpec.val_seed .* got -1"),
    ({"format": "csv"}, r"DatasetSpec.path is required for format 'csv', got None"),
    ({"format": "folder", "path": "/no/such/folder"}, r"DatasetSpec.path '/no/such/folder': no such folder"),
    ({"format": "csv", "path": "."}, r"DatasetSpec.path '.': no such file"),
    ({"format": "split-lists", "path": "."}, r"options.lists .* got None"),
    ({"format": "embedded", "profile": "huge"}, r"options.profile .* got 'huge'"),
    ({"format": "embedded", "path": "x"}, r"DatasetSpec.path must be None for format 'embedded'"),
    ({"format": "charades", "path": ".", "extension": "mp4"}, r"options.extension .* got 'mp4'"),
    ({"path": "."}, r"needs a 'format'"),
    ("embedded:large", r"options.profile .* got 'large'"),
    (42, r"dataset must be a DatasetSpec, a mapping or a string, got 42"),
])
def test_bad_specs_name_the_field_and_value(value, match):
    with pytest.raises(ValueError, match=match):
        DatasetSpec.from_value(value)


def test_open_checks_option_files(tmp_path):
    (tmp_path / "a").mkdir()
    spec = DatasetSpec("split-lists", str(tmp_path), options={"lists": {"train": "missing.txt"}})
    with pytest.raises(ValueError, match=r"DatasetSpec.options.lists: 'missing.txt' is not a file"):
        spec.open()
    with pytest.raises(ValueError, match=r"no '\*train\*.csv' found"):
        DatasetSpec("charades", str(tmp_path)).open()
