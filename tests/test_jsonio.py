"""Strict JSON: no file the project writes holds bare NaN or Infinity."""

from __future__ import annotations

import json
import math

import numpy
import pytest

from videonas import jsonio


def _strict_loads(text):
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_floats_become_null_everywhere():
    value = {"a": float("nan"), "b": [1.5, float("inf"), (float("-inf"), 2)], "c": {"d": numpy.float32("nan")}}
    text = jsonio.dumps(value, sort_keys=True)
    assert _strict_loads(text) == {"a": None, "b": [1.5, None, [None, 2]], "c": {"d": None}}


def test_numpy_values_become_plain_json_and_allow_nan_cannot_be_reenabled():
    text = jsonio.dumps({"x": numpy.arange(3), "y": numpy.int64(7), "z": numpy.array([0.5, numpy.nan])},
                        allow_nan=True)
    assert _strict_loads(text) == {"x": [0, 1, 2], "y": 7, "z": [0.5, None]}
    assert jsonio.strict(2.5) == 2.5 and jsonio.strict("nan") == "nan"


def test_dump_writes_strict_json_atomically(tmp_path):
    path = jsonio.dump({"accuracy": float("nan"), "curve": [1.0, math.inf]}, tmp_path / "sub" / "results.json")
    assert _strict_loads(path.read_text()) == {"accuracy": None, "curve": [1.0, None]}
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]  # no temporary left behind


def test_unserialisable_value_raises_and_leaves_no_file(tmp_path):
    with pytest.raises(TypeError):
        jsonio.dump({"x": object()}, tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []
