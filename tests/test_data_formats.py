import json
import shutil

import pytest

from videonas.data import Dataset, VideoRecord, charades_dataset, csv_dataset, folder_dataset, parse_actions


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
