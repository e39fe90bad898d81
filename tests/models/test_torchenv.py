"""composer.models.torchenv: torch's settings hold inside the block, nested blocks too, and are put back after."""

from __future__ import annotations

import pytest
import torch

from composer.models.torchenv import torch_settings

DENORMAL = 1e-40  # below float32's smallest normal number (1.2e-38)


def _flushed() -> bool:
    return float(torch.tensor([DENORMAL], dtype=torch.float32)[0] * 1.0) == 0.0


@pytest.fixture
def flushing_supported():
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormal floats")
    torch.set_flush_denormal(False)


def test_threads_and_flushing_hold_inside_and_are_put_back(flushing_supported):
    threads = torch.get_num_threads()
    assert not _flushed()
    with torch_settings(threads=1):
        assert torch.get_num_threads() == 1 and _flushed()
        with torch_settings():  # no thread count: the outer one stays
            assert torch.get_num_threads() == 1
        # the inner block's end leaves the outer block's flushing on
        assert _flushed()
    assert torch.get_num_threads() == threads and not _flushed()


def test_settings_are_put_back_after_an_error(flushing_supported):
    threads = torch.get_num_threads()
    with pytest.raises(ValueError), torch_settings(threads=1):
        raise ValueError("boom")
    assert torch.get_num_threads() == threads and not _flushed()
