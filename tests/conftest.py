import warnings

import pytest
import torch


@pytest.fixture(autouse=True)
def _quiet_and_seeded():
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    yield
