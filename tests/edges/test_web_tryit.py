"""Which runs Try it offers a canvas to draw a digit on (web.tryit.reads_digits): pure, no server."""
import pytest

pytest.importorskip("fastapi")
from mlplab.data.sources import FASHION_CLASSES  # noqa: E402
from mlplab.web.tryit import reads_digits  # noqa: E402

DIGITS = [str(i) for i in range(10)]


def run(shape, names) -> dict:
    return {"summary": {"data": {"input_shape": shape, "class_names": names}}}


def test_only_digit_images_are_offered_for_drawing():
    assert reads_digits(run([64], DIGITS)) and reads_digits(run([784], DIGITS)) and reads_digits(run([28, 28, 1], DIGITS))
    assert not reads_digits(run([784], list(FASHION_CLASSES)))   # a drawn "1" is not a dress
    assert not reads_digits(run([2], ["0", "1"])) and not reads_digits(run([784], DIGITS[:9]))
    assert not reads_digits(run([30], DIGITS)) and not reads_digits({"summary": None}) and not reads_digits({})
