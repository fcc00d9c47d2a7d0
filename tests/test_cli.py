"""The CLI's own choices (its commands are tested with what they run)."""

import torch

from reid.cli import torch_threads


def test_the_workflow_sets_the_torch_threads_of_a_job(monkeypatch):
    before = torch.get_num_threads()
    try:
        # 2 then 1: each changes what the other left (a pytest worker starts at 1 thread)
        monkeypatch.setenv("REID_MACHINE_THREADS", "2")
        torch_threads("REID_MACHINE_THREADS")
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("REID_TORCH_THREADS", "1")
        torch_threads()
        assert torch.get_num_threads() == 1
        torch.set_num_threads(before)
        for bad in ("", "0", "many"):  # unset or nonsense: torch's own default stays
            monkeypatch.setenv("REID_TORCH_THREADS", bad)
            torch_threads()
            assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(before)
