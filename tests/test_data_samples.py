import av
import numpy as np
import pytest

from videonas.data.samples import index_colour, indexed_frames, marker_corner, read_indices, write_video


def test_indices_and_marker_survive_encoding(tmp_path):
    frames = indexed_frames(40, size=(48, 32))
    assert read_indices(frames) == list(range(40)) and marker_corner(frames[0]) == "top-left"
    assert marker_corner(np.rot90(frames[0], 2)) == "bottom-right"
    path = write_video(tmp_path / "v.mkv", frames, times=[0.5 * i ** 1.5 for i in range(40)])
    with av.open(str(path)) as container:
        decoded = [(frame.time, frame.to_ndarray(format="rgb24")) for frame in container.decode(video=0)]
    assert [time for time, _ in decoded] == pytest.approx([round(0.5 * i ** 1.5, 3) for i in range(40)])
    assert read_indices(np.stack([image for _, image in decoded])) == list(range(40))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="index must be in"):
        index_colour(196)
    with pytest.raises(ValueError, match="times must be increasing"):
        write_video("unused.mp4", indexed_frames(2), times=[0.0, 0.0])
