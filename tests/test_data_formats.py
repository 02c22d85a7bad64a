import json
import shutil
from pathlib import Path

import pytest

from videonas.data import (Dataset, DatasetSpec, VideoRecord, charades_dataset, csv_dataset, csv_folder_dataset,
                           files, folder_dataset, hmdb_dataset, parse_actions, something_dataset, splits)


def test_folder_per_class_with_split_list_unicode_and_spaces(video_dir, tmp_path, caplog):
    root = tmp_path / "ucf été"
    (root / "b jump").mkdir(parents=True)
    (root / "a run").mkdir()
    (root / "c empty").mkdir()
    shutil.copy(video_dir / "h264.mp4", root / "b jump" / "v 1.mp4")
    shutil.copy(video_dir / "h264.mp4", root / "a run" / "v 2.mp4")
    (tmp_path / "trainlist01.txt").write_text("a run/v 2.mp4 1\n")
    ds = folder_dataset(root, split_lists={"train": tmp_path / "trainlist01.txt"})
    assert ds.class_names == ["a run", "b jump", "c empty"]
    assert [r.labels for r in ds.records("train")] == [(0,)]
    assert "no videos" in caplog.text
    ds.save_classes(tmp_path / "classes.json")
    assert json.loads((tmp_path / "classes.json").read_text())["class_names"] == ds.class_names
    with pytest.raises(ValueError, match="does not exist"):
        folder_dataset(tmp_path / "missing")


def test_csv_kinetics_style_and_unknown_label(tmp_path):
    path = tmp_path / "k.csv"
    path.write_text("label,youtube_id,time_start,time_end,split\nrun,abc,10,20,train\njump,xyz,0,10,val\n")
    ds = csv_dataset(path, video_root=tmp_path, trimmed=False)
    assert ds.class_names == ["jump", "run"]
    record = ds.records("train")[0]
    assert record.path.endswith("abc_000010_000020.mp4") and (record.start, record.end) == (10.0, 20.0)
    with pytest.raises(ValueError, match="row 3: unknown label 'jump'"):
        csv_dataset(path, video_root=tmp_path, classes=["run"])


def test_charades_multi_hot_restricted_to_window(tmp_path):
    path = tmp_path / "charades_train.csv"
    path.write_text('id,actions,length\nAB12,"c012 1.2 5.0;c045 0.0 3.1",30\n')
    assert parse_actions("c012 1.2 5.0") == [("c012", 1.2, 5.0)]
    ds = charades_dataset({"train": path}, video_root=tmp_path)
    record = ds.records("train")[0]
    assert ds.multi_label and ds.class_names == ["c012", "c045"]
    assert record.target(2, (4.0, 6.0)).tolist() == [1.0, 0.0]
    assert record.target(2, (0.0, 2.0)).tolist() == [1.0, 1.0]


def test_subset_reindexes_classes_and_restricts_multi_label_targets():
    records = [VideoRecord("a.mp4", (0,)), VideoRecord("b.mp4", (2,)),
               VideoRecord("c.mp4", (0, 1), segments=((0, 0.0, 1.0), (1, 1.0, 2.0)))]
    dataset = Dataset(name="d", class_names=["cat", "dog", "eel"], splits={"train": records}, multi_label=True,
                      class_kinds={"cat": "scene", "dog": "motion", "eel": "motion"})
    subset = dataset.subset(["eel", "dog"])
    assert subset.class_names == ["dog", "eel"] and subset.class_kinds == {"dog": "motion", "eel": "motion"}
    kept = subset.records("train")
    assert [r.path for r in kept] == ["b.mp4", "c.mp4"]  # a.mp4 had only "cat"
    assert kept[0].labels == (1,) and kept[1].labels == (0,) and kept[1].segments == ((0, 1.0, 2.0),)
    assert subset.fingerprint() != dataset.fingerprint()
    with pytest.raises(ValueError, match="'fox'"):
        dataset.subset(["cat", "fox"])


def test_csv_id_with_extension_and_split_folder_alias(tmp_path):
    (tmp_path / "validation").mkdir()
    (tmp_path / "validation" / "clip.mp4").write_bytes(b"x")
    path = tmp_path / "mit.csv"
    path.write_text("label,id,split\nrun,clip.mp4,val\nrun,other,train\n")
    ds = csv_dataset(path)  # video_root defaults to the CSV's folder
    assert ds.records("val")[0].path == str(tmp_path / "validation" / "clip.mp4")
    assert ds.records("train")[0].path == str(tmp_path / "train" / "other_000000_000000.mp4")  # missing: canonical


def test_charades_id_with_extension_is_not_doubled(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('id,actions,length\nAB12.mp4,"c001 0 1",3\nCD34,,3\n')
    records = charades_dataset({"train": path}, video_root=tmp_path).records("train")
    assert [r.path for r in records] == [str(tmp_path / "AB12.mp4"), str(tmp_path / "CD34.mp4")]
    assert records[1].labels == ()


def test_broken_link_and_listed_missing_file_stay_records(video_dir, tmp_path):
    (tmp_path / "run").mkdir()
    shutil.copy(video_dir / "h264.mp4", tmp_path / "run" / "a.mp4")
    (tmp_path / "run" / "b.mp4").symlink_to(tmp_path / "deleted.mp4")
    ds = folder_dataset(tmp_path)
    assert [r.path for r in ds.records("all")] == [str(tmp_path / "run" / "a.mp4"), str(tmp_path / "run" / "b.mp4")]
    (tmp_path / "list.txt").write_text("run/a.mp4\nrun/c.mp4\n")
    listed = folder_dataset(tmp_path, split_lists={"train": tmp_path / "list.txt"}).records("train")
    assert [r.path for r in listed][1] == str(tmp_path / "run" / "c.mp4")
    (tmp_path / "bad.txt").write_text("walk/c.mp4\n")
    with pytest.raises(ValueError, match=r"line 1: 'walk/c.mp4' is not '<class folder>/<video>'"):
        folder_dataset(tmp_path, split_lists={"train": tmp_path / "bad.txt"})


def test_any_extension_ffmpeg_reads_is_a_video_and_the_rest_is_reported(video_dir, tmp_path):
    from conftest import write_video

    run = tmp_path / "run"
    run.mkdir()
    write_video(run / "a.flv", codec="flv")
    write_video(run / "b.ts")
    shutil.copy(video_dir / "h264.mp4", run / "c")  # no extension
    shutil.copy(video_dir / "h264.mp4", run / "d.video")  # an extension FFmpeg does not know
    (run / "README.txt").write_text("notes\n" * 20)
    (run / ".DS_Store").write_bytes(b"\0" * 64)
    (run / "extras").mkdir()
    import cv2
    import numpy as np

    cv2.imwrite(str(run / "thumb.jpg"), np.zeros((8, 8, 3), np.uint8))
    ds = folder_dataset(tmp_path)
    assert sorted(Path(r.path).name for r in ds.records("all")) == ["a.flv", "b.ts", "c", "d.video"]
    text, report = ds.load_report()
    assert report["skipped_by_reason"] == {"folder without images": 1, "hidden file": 1,
                                           "not a video (FFmpeg cannot open it)": 1,
                                           "not a video (FFmpeg reads it as jpeg)": 1}
    assert "skipped 4" in text
    assert [str(run / "thumb.jpg"), "not a video (FFmpeg reads it as jpeg)"] in report["skipped"]
    assert report["splits"]["all"] == {"videos": 4, "per_class": {"run": 4}, "note": ""}


def test_hmdb_split_files_train_test_and_unused(video_dir, tmp_path):
    splits = tmp_path / "testTrainMulti_7030_splits"
    splits.mkdir()
    (tmp_path / "hmdb" / "wave").mkdir(parents=True)
    for name in ("x_wave_f_1.avi", "x_wave_f_2.avi", "y_wave_f_0.avi", "z_wave_f_0.avi"):
        shutil.copy(video_dir / "h264.mp4", tmp_path / "hmdb" / "wave" / name)
    (splits / "wave_test_split2.txt").write_text("x_wave_f_1.avi 1 \nx_wave_f_2.avi 1 \ny_wave_f_0.avi 2 \n"
                                                 "z_wave_f_0.avi 0 \n")
    (splits / "wave_test_split1.txt").write_text("x_wave_f_1.avi 2\n")
    ds = hmdb_dataset(tmp_path / "hmdb", splits, split=2)
    assert ds.class_names == ["wave"] and ds.name == "hmdb_split2"
    assert [(Path(r.path).name, r.group) for r in ds.records("train")] == [("x_wave_f_1.avi", "x_wave_f"),
                                                                             ("x_wave_f_2.avi", "x_wave_f")]
    assert [Path(r.path).name for r in ds.records("test")] == ["y_wave_f_0.avi"]
    assert ds.skipped == [(str(tmp_path / "hmdb" / "wave" / "z_wave_f_0.avi"), "not used in split 2 (0)")]
    (splits / "wave_test_split3.txt").write_text("x_wave_f_1.avi train\n")
    with pytest.raises(ValueError, match=r"wave_test_split3.txt' line 1: expected '<video name> 0\|1\|2'"):
        hmdb_dataset(tmp_path / "hmdb", splits, split=3)


def test_validation_split_keeps_each_source_video_on_one_side():
    records = [VideoRecord(f"{label}/v_{label}_g{group:02d}_c{clip:02d}.avi", (index,),
                           group=files.ucf_group(f"v_{label}_g{group:02d}_c{clip:02d}.avi"))
               for index, label in enumerate(("Jump", "Run")) for group in range(1, 11)
               for clip in range(1, group % 4 + 2)]
    assert records[0].group == "v_Jump_g01"
    for seed in range(8):
        train, val, grouped = splits.stratified(records, 0.2, seed)
        assert not {r.group for r in train} & {r.group for r in val} and grouped == 16
        assert {r.labels for r in val} == {(0,), (1,)} and 0.1 < len(val) / len(records) < 0.35
    plain = [VideoRecord(f"{i}.mp4", (0,)) for i in range(10)]
    assert len(splits.stratified(plain, 0.2, 0)[1]) == 2


def test_start_up_checks_name_the_class_column_key_or_split(video_dir, tmp_path):
    def folder(root, layout):
        for relative, source in layout.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(video_dir / source, root / relative)
        return root

    empty = folder(tmp_path / "empty", {f"{c}/{i}.mp4": "h264.mp4" for c in ("jump", "run") for i in range(3)})
    (empty / "swim").mkdir()
    with pytest.raises(ValueError, match=r"class 'swim' has no videos"):
        DatasetSpec("folder", str(empty)).open()
    val_only = folder(tmp_path / "split", {"train/jump/a.mp4": "h264.mp4", "val/jump/b.mp4": "h264.mp4",
                                           "val/fly/c.mp4": "h264.mp4"})
    with pytest.raises(ValueError, match=r"class 'fly' has no train videos but 1 in val"):
        DatasetSpec("folder", str(val_only)).open()
    broken = folder(tmp_path / "broken", {"train/jump/a.mp4": "h264.mp4", "val/jump/b.mp4": "zero.mp4",
                                          "val/jump/c.mp4": "random.mp4", "val/jump/d.mp4": "audio.mp4"})
    with pytest.raises(ValueError, match=r"split 'val': none of its 3 videos gives a frame \(1 cannot be opened, "
                                         r"1 empty, 1 no video stream\)"):
        DatasetSpec("folder", str(broken)).open()
    for header, missing in (("actions,length", "column 'id'"), ("id,length", "column 'actions'"),
                            ("length", "columns 'id', 'actions'")):
        (tmp_path / "Charades_train.csv").write_text(f"{header}\n")
        with pytest.raises(ValueError, match=f"Charades CSV .*: missing {missing}"):
            DatasetSpec("charades", str(tmp_path)).open()
    (tmp_path / "k.csv").write_text("label,youtube_id,split\nrun,a,train\n")
    with pytest.raises(ValueError, match=r"unknown key 'youtubeid'; available keys: id, label, time_end, time_start, "
                                         r"youtube_id"):
        DatasetSpec("csv", str(tmp_path / "k.csv"), options={"file_template": "{youtubeid}.mp4"}).open()
    with pytest.raises(ValueError, match=r"options.frame_rate"):
        folder_dataset(folder(tmp_path / "frames", {"run/clip/00001.jpg": "h264.mp4", "run/b.mp4": "h264.mp4"}))


def test_kinetics_per_split_csvs_and_something_v2_json(video_dir, tmp_path):
    header = "label,youtube_id,time_start,time_end,split\n"
    (tmp_path / "train.csv").write_text(header + "run,a,0,2,train\nrun,b,0,2,train\njump,c,0,2,train\n")
    (tmp_path / "validate.csv").write_text(header + "jump,d,0,2,validate\n")
    (tmp_path / "test.csv").write_text("youtube_id,time_start,time_end,split\ne,0,2,test\nf,0,2,test\n")
    ds = csv_folder_dataset(tmp_path)
    assert ds.splits == ["train", "val"] and ds.class_names == ["jump", "run"]
    assert ds.records("val")[0].path == str(tmp_path / "validate" / "d_000000_000002.mp4")
    assert [reason for _, reason in ds.skipped] == ["test row without a label"] * 2
    (tmp_path / "validate.csv").write_text(header + "swim,d,0,2,validate\n")
    shutil.copy(video_dir / "h264.mp4", tmp_path / "d_000000_000002.mp4")
    with pytest.raises(ValueError, match=r"class 'swim' has no train videos but 1 in val"):
        DatasetSpec("csv", str(tmp_path)).open()
    v2 = tmp_path / "ssv2"
    v2.mkdir()
    labels = {"Pushing something": "1", "Holding something": "0"}
    (v2 / "something-something-v2-labels.json").write_text(json.dumps(labels))
    (v2 / "something-something-v2-train.json").write_text(json.dumps([
        {"id": "7", "label": "pushing a cup", "template": "Pushing [something]"},
        {"id": "8", "label": "Holding something"}]))
    (v2 / "something-something-v2-test-answers.csv").write_text("7;nonsense\n")
    ds = something_dataset(v2)
    assert ds.class_names == ["Holding something", "Pushing something"]  # the official index order
    assert [(Path(r.path).name, r.labels) for r in ds.records("train")] == [("7.webm", (1,)), ("8.webm", (0,))]
    (v2 / "something-something-v2-validation.json").write_text(json.dumps([{"id": "9", "template": "Lifting [it]"}]))
    with pytest.raises(ValueError, match=r"video '9': class 'Lifting it' is not in"):
        something_dataset(v2)
    (v2 / "something-something-v2-validation.json").write_text(json.dumps([{"label": "Holding something"}]))
    with pytest.raises(ValueError, match=r"entry 0: needs an 'id'"):
        something_dataset(v2)
