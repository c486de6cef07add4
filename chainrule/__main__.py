"""``python -m chainrule``: print the notes' worked examples, computed by the engine."""

from .lecture import add_mul_example, format_example, sigmoid_neuron_example


def main() -> None:
    examples = [add_mul_example(), sigmoid_neuron_example(), sigmoid_neuron_example(compact=False)]
    print("\n\n".join(format_example(e) for e in examples))


if __name__ == "__main__":
    main()
