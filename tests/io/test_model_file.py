"""Model files: exact round trip, atomic writes, and clear refusals of bad files."""

import json
import pickle
import struct

import numpy as np
import pytest
from safetensors.numpy import save as save_safetensors

import chainrule as cr
from chainrule import nn
from chainrule.io import ModelFileError


@pytest.fixture
def model():
    return nn.MLP([3, 5, 4, 2], activation=["tanh", "relu"], output="softmax", seed=0)


def test_round_trip_is_exact_and_keeps_the_info(tmp_path, model):
    path = tmp_path / "model.safetensors"
    cr.save(model, path, info={"task": "classify", "labels": ["a", "b"]})
    loaded = cr.load(path)
    assert loaded.config() == model.config()
    assert loaded.info == {"task": "classify", "labels": ["a", "b"]}
    X = np.random.default_rng(0).normal(size=(7, 3))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_a_failed_write_leaves_no_file(tmp_path, model, monkeypatch):
    path = tmp_path / "model.safetensors"
    import chainrule.io.files as files

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        cr.save(model, path)
    assert list(tmp_path.iterdir()) == []


def test_writing_into_a_missing_folder_is_refused(tmp_path, model):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        cr.save(model, tmp_path / "nope" / "model.safetensors")


def _write(tmp_path, data: bytes, name="bad.safetensors"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_truncated_file(tmp_path, model):
    good = tmp_path / "good.safetensors"
    cr.save(model, good)
    data = good.read_bytes()
    for cut in (4, 30, len(data) - 10):
        with pytest.raises(ModelFileError, match="truncated|too short|not a valid"):
            cr.load(_write(tmp_path, data[:cut]))


def test_pickle_is_refused_without_being_opened(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle executed')",))

    path = _write(tmp_path, pickle.dumps(Boom()), "model.pkl")
    with pytest.raises(ModelFileError, match="pickle"):
        cr.load(path)


def test_zip_archive_such_as_a_torch_file_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="zip archive"):
        cr.load(_write(tmp_path, b"PK\x03\x04" + b"\x00" * 100))


def test_oversized_header_is_refused(tmp_path):
    data = struct.pack("<Q", 10**12) + b"{}"
    with pytest.raises(ModelFileError, match="larger than"):
        cr.load(_write(tmp_path, data))


def _tampered(model, mutate_arch=None, mutate_tensors=None):
    tensors = {k: v for k, v in model.state_dict().items()}
    document = {"format_version": 1, "architecture": {"type": "MLP", **model.config()}, "info": {}}
    if mutate_arch:
        mutate_arch(document["architecture"])
    if mutate_tensors:
        mutate_tensors(tensors)
    return save_safetensors(tensors, metadata={"chainrule": json.dumps(document)})


@pytest.mark.parametrize(
    ("mutate_arch", "mutate_tensors", "message"),
    [
        (
            None,
            lambda t: t.update({"layers.2.U": np.zeros((5, 3), np.float32)}),
            r"'layers.2.U' is float32\[5, 3\].*float32\[5, 4\]",
        ),
        (
            None,
            lambda t: t.update({"layers.0.b": np.zeros(5, np.float64)}),
            "float64.*needs float32",
        ),
        (None, lambda t: t.pop("layers.4.b"), "missing"),
        (
            None,
            lambda t: t.update({"layers.0.U": np.full((3, 5), np.nan, np.float32)}),
            "NaN or inf",
        ),
        (
            lambda a: a.update({"activation": ["tanh", "os.system"]}),
            None,
            "unknown activation 'os.system'",
        ),
        (lambda a: a.update({"type": "Transformer"}), None, "unknown architecture"),
        (lambda a: a.update({"output": "eval"}), None, "unknown output layer"),
        (lambda a: a.update({"sizes": [3, -5, 4, 2]}), None, "invalid layer sizes"),
    ],
)
def test_tampered_files_are_refused(tmp_path, model, mutate_arch, mutate_tensors, message):
    path = _write(tmp_path, _tampered(model, mutate_arch, mutate_tensors))
    with pytest.raises(ModelFileError, match=message):
        cr.load(path)


def test_a_safetensors_file_from_elsewhere_and_a_missing_file(tmp_path):
    foreign = _write(tmp_path, save_safetensors({"w": np.zeros(2, np.float32)}))
    with pytest.raises(ModelFileError, match="no chainrule metadata"):
        cr.load(foreign)
    with pytest.raises(ModelFileError, match="no such file"):
        cr.load(tmp_path / "missing.safetensors")
    garbage = _write(tmp_path, struct.pack("<Q", 5) + b"nope!" + b"\x00" * 10)
    with pytest.raises(ModelFileError, match="not a valid safetensors file"):
        cr.load(garbage)


@pytest.mark.parametrize(
    ("sizes", "dropout"),
    [([3, 2], 0.0), ([3, 5, 4, 2], 0.0), ([3, 5, 4, 2], 0.3), ([2, 7, 1], 0.5)],
)
def test_parameter_shapes_are_those_the_mlp_builds(sizes, dropout):
    """The shapes a model file's architecture is checked against before building it."""
    from chainrule.nn.mlp import parameter_shapes

    built = {name: p.shape for name, p in nn.MLP(sizes, dropout=dropout).named_parameters()}
    assert parameter_shapes(sizes, dropout) == built


def test_a_document_beyond_the_string_bound_still_loads(tmp_path):
    """The bound on one string applies to the strings in the chainrule metadata, not to the
    metadata as a whole: 5,000 feature names make a 130 kB document."""
    from chainrule.tabular import TabularModel

    names = [f"a_rather_long_feature_{i:05d}" for i in range(5000)]
    table = TabularModel(nn.MLP([5000, 2, 2], output="softmax", seed=0), "classify", names, [0, 1])
    table.save(tmp_path / "wide.safetensors")
    assert cr.load(tmp_path / "wide.safetensors").feature_names == names


def test_load_weights_checks_the_tensors_before_reading_them(tmp_path, model):
    cr.io.save_weights(model, tmp_path / "w.safetensors")
    other = nn.MLP([3, 5, 4, 2], activation=["tanh", "relu"], output="softmax", seed=1)
    cr.io.load_weights(other, tmp_path / "w.safetensors")
    np.testing.assert_array_equal(other.layers[0].U.data, model.layers[0].U.data)
    with pytest.raises(ModelFileError, match=r"'layers.0.U' is float32\[3, 5\], the module needs"):
        cr.io.load_weights(nn.MLP([4, 5, 4, 2], seed=0), tmp_path / "w.safetensors")


def test_a_network_that_does_not_fit_in_memory_is_a_model_file_error(tmp_path, model, monkeypatch):
    """A file can be as large as it declares and still not fit (its data read, then the network
    built from it): the MemoryError becomes one line naming the file."""
    import chainrule.io.model_file as model_file

    cr.save(model, tmp_path / "model.safetensors")

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(model_file, "MLP", out_of_memory)
    count = model.num_parameters()
    with pytest.raises(ModelFileError, match=f"model.safetensors: its network of {count} param"):
        cr.load(tmp_path / "model.safetensors")


def test_a_name_with_a_nul_byte_is_a_model_file_error():
    with pytest.raises(ModelFileError, match="not a file name"):
        cr.load("model\x00.safetensors")
