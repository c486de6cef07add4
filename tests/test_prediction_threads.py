"""A model's predictions are computed with BLAS in one thread: the same bytes whatever
the number of BLAS threads the process has (OpenBLAS rounds a threaded product's rows
differently), and fast on a busy machine.  The process's own setting is left as it was."""

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from threadpoolctl import threadpool_info, threadpool_limits

from chainrule.nn import MLP
from chainrule.nn.blas_threads import one_blas_thread
from chainrule.tabular import TabularModel

FEATURES = 20


def blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def model_and_rows(task: str):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4096, FEATURES)) * 3
    width, output = (3, "softmax") if task == "classify" else (1, "identity")
    network = MLP([FEATURES, 64, width], "relu", output, seed=0)
    names = [f"f{j}" for j in range(FEATURES)]
    classes = ["blue", "green", "red"] if task == "classify" else None
    model = TabularModel(network, task, names, classes, "y", X.mean(0), X.std(0))
    return model, X


def test_probabilities_do_not_depend_on_the_blas_threads():
    model, X = model_and_rows("classify")
    with threadpool_limits(limits=1, user_api="blas"):
        one = model.predict_proba(X)
    with threadpool_limits(limits=2, user_api="blas"):
        two = model.predict_proba(X)
    assert one.tobytes() == two.tobytes()


def test_predicted_files_do_not_depend_on_the_blas_threads(tmp_path):
    model, X = model_and_rows("regress")
    source = tmp_path / "in.csv"
    pacsv.write_csv(pa.table({n: X[:, j] for j, n in enumerate(model.feature_names)}), source)
    outputs = []
    for threads in (1, 2):
        out = tmp_path / f"out{threads}.csv"
        with threadpool_limits(limits=threads, user_api="blas"):
            model.predict_csv(source, out)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    with threadpool_limits(limits=1, user_api="blas"):
        expected = model.predict(X)
    written = pacsv.read_csv(tmp_path / "out2.csv").column("prediction").to_numpy()
    assert written.tobytes() == expected.tobytes()


def test_the_process_setting_is_restored_after_nested_uses():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with one_blas_thread():
            assert set(blas_threads()) == {1}
            with one_blas_thread():
                assert set(blas_threads()) == {1}
            assert set(blas_threads()) == {1}
        assert blas_threads() == before
