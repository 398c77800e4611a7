"""Ray that cannot start or connect is one line (BadInput), whatever it raises."""
import pytest

from mlplab.errors import BadInput
from mlplab.training import executors

ray = pytest.importorskip("ray")


@pytest.mark.parametrize("address, error, words", [
    (None, RuntimeError("Failed to start the GCS server.\nsee the logs"), "a local Ray instance could not start: "
                                                                          "Failed to start the GCS server."),
    ("ray://10.0.0.1:10001", ConnectionError("timed out"), "--address ray://10.0.0.1:10001: cannot reach"),
    (None, OSError(28, "No space left on device"), "could not start: [Errno 28] No space left on device"),
])
def test_a_ray_that_cannot_start_is_one_line(monkeypatch, address, error, words):
    def fail(**kwargs):
        raise error
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", fail)
    with pytest.raises(BadInput) as e:
        executors.connect(address)
    assert words in str(e.value) and "\n" not in str(e.value)
