"""The page in headless Chromium: it loads without console errors, trains xor live, draws
every neuron's heatmap, steps (x+y)z forward and backward, trains on an uploaded CSV with
text labels, refuses what is over the limits with a message, walks one sample through the
live network.  Screenshots of every panel go to the test's tmp_path (and, with
CHAINRULE_SCREENSHOTS=<folder>, there too)."""

import os
import shutil

import numpy as np

SHOTS = os.environ.get("CHAINRULE_SCREENSHOTS")


def shoot(page, tmp_path, name, selector=None):
    path = tmp_path / f"{name}.png"
    (page.locator(selector) if selector else page).screenshot(path=path)
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        shutil.copy(path, os.path.join(SHOTS, path.name))
    return path


def number(page, selector) -> float:
    return float(page.locator(selector).text_content())


def test_page_loads_without_console_errors(page, tmp_path):
    assert page.locator("#dataset option").count() >= 8
    assert "hidden layers" in page.locator("#limits").text_content()
    shoot(page, tmp_path, "page")
    assert page.errors == []


def test_xor_trains_live_and_every_neuron_has_a_heatmap(page, tmp_path):
    page.select_option("#dataset", "xor")
    page.wait_for_function("document.querySelector('#dataset').value === 'xor'")
    start = number(page, "#test-loss")
    page.click("#play")
    page.wait_for_function(
        "Number(document.querySelector('#test-loss').textContent) < 0.2", timeout=60_000
    )
    page.click("#play")  # pause
    assert number(page, "#test-loss") < 0.2 < start
    assert number(page, "#epoch") > 0
    # every neuron's canvas (features, hidden, output) has pixels that are not white
    drawn = page.evaluate(
        """() => [...document.querySelectorAll('.neuron canvas')].map((c) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let coloured = 0;
            for (let i = 0; i < d.length; i += 4) if (d[i] < 240 || d[i + 2] < 240) coloured++;
            return [c.width, coloured];
        })"""
    )
    assert len(drawn) == 2 + 4 + 2 + 2  # x1, x2; 4 and 2 hidden; 2 outputs
    assert all(width >= 40 and coloured > 0 for width, coloured in drawn)
    shoot(page, tmp_path, "network", "#train-panel")
    assert page.errors == []


def choose_preset(page, name, expression):
    """Pick a preset and wait until its trace is the one drawn."""
    page.select_option("#preset", name)
    page.wait_for_function(
        f"document.querySelector('#trace-graph').dataset.expression === {expression!r}"
    )


def test_backprop_of_x_plus_y_times_z_step_by_step(page, tmp_path):
    choose_preset(page, "add-mul", "(x + y) * z")
    for _ in range(2):
        page.click("#fwd")
    assert page.locator("[data-value-of=q]").first.text_content() == "3"
    assert page.locator("[data-value-of=f]").text_content() == "-12"
    shoot(page, tmp_path, "trace-forward", "#trace-panel")
    page.click("#bwd")
    assert page.locator("[data-grad-of=q]").text_content() == "-4"
    assert page.locator("[data-grad-of=z]").text_content() == "3"
    assert "mul swaps" in page.locator("#trace-explain").text_content()
    page.click("#bwd")
    assert page.locator("[data-grad-of=x]").text_content() == "-4"
    assert page.locator("[data-grad-of=y]").text_content() == "-4"
    assert "add distributes" in page.locator("#trace-explain").text_content()
    assert page.locator("[data-gradient=z]").text_content() == "3"
    shoot(page, tmp_path, "trace-backward", "#trace-panel")
    # the copy gate: x*x + x at 3, its gradient 3 + 3 + 1 = 7
    choose_preset(page, "copy", "x*x + x")
    for _ in range(2):
        page.click("#fwd")
    for _ in range(2):
        page.click("#bwd")
    assert "3 + 3 + 1 = 7" in page.locator("#trace-explain").text_content()
    assert page.locator("[data-total-of=x]").text_content() == "7"
    # the sigmoid neuron, elementary gates; then a hostile expression is refused on the page
    choose_preset(page, "neuron-elementary", "1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))")
    for _ in range(8):
        page.click("#fwd")
    shoot(page, tmp_path, "trace-neuron", "#trace-panel")
    page.fill("#expr", "__import__('os').system('true')")
    page.click("#trace-go")
    page.wait_for_selector("#message:not([hidden])")
    assert "only the known functions can be called" in page.locator("#message").text_content()
    assert page.errors == []


def test_limits_are_refused_with_a_message_on_the_page(page, tmp_path):
    for layers in range(3, 7):  # each click once the server's new network is drawn
        page.click("#add-layer")
        page.wait_for_function(
            f"document.querySelector('#layer-count').textContent === '{layers} hidden layers'"
        )
    page.click("#add-layer")
    page.wait_for_selector("#message:not([hidden])")
    assert "at most 6 hidden layers" in page.locator("#message").text_content()
    for width in range(5, 9):
        page.locator(".layer-head .plus").first.click()
        page.wait_for_function(
            f"document.querySelector('.layer-head div').textContent === '{width} neurons'"
        )
    page.locator(".layer-head .plus").first.click()
    page.wait_for_function(
        "document.querySelector('#message').textContent.includes('at most 8 neurons')"
    )
    assert "at most 8 neurons" in page.locator("#message").text_content()
    shoot(page, tmp_path, "limits")
    assert page.errors == []


def test_an_uploaded_csv_with_text_labels_trains(page, tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "flowers.csv"
    rows = ["petal,sepal,stem,species"]
    for _ in range(300):
        a, b = rng.normal(size=2)
        label = "setosa" if a * a + b * b < 1 else "virginica"
        rows.append(f"{a:.3f},{b:.3f},{rng.normal():.3f},{label}")
    path.write_text("\n".join(rows) + "\n")
    page.set_input_files("#csv-file", str(path))
    page.wait_for_selector("#csv-columns:not([hidden])")
    assert page.locator("#csv-target").input_value() == "species"
    page.click("#csv-use")
    page.wait_for_function("document.querySelector('#dataset').value === 'csv'")
    assert "setosa" in page.locator("#legend").text_content()
    assert "petal, sepal" in page.locator("#legend").text_content()
    start = number(page, "#train-loss")
    page.click("#play")
    page.wait_for_function(
        f"Number(document.querySelector('#train-loss').textContent) < {0.5 * start}",
        timeout=60_000,
    )
    page.click("#play")
    shoot(page, tmp_path, "csv", "#train-panel")
    assert page.errors == []


def test_one_sample_through_the_live_network(page, tmp_path):
    page.click("#step")
    page.fill("#sample-index", "3")
    page.click("#sample-load")
    page.wait_for_selector("#sample-out .stage")
    assert "sample 3" in page.locator("#sample-out").text_content()
    while page.locator("#sample-next").is_enabled():
        page.click("#sample-next")
    text = page.locator("#sample-out").text_content()
    for expected in ["z = a U1 + b1", "dL/dz1 = dL/da1 x f'(z1)", "input x upstream", "<- "]:
        assert expected in text
    page.locator(".neuron[data-layer='1']").first.hover()
    assert "f'(z) = " in page.locator("#tooltip").text_content()
    shoot(page, tmp_path, "sample", "#sample-panel")
    assert page.errors == []
