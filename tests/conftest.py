import warnings

import pytest
import torch


@pytest.fixture(autouse=True)
def _quiet_and_seeded():
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    yield


@pytest.fixture
def offline_timm(monkeypatch):
    """timm as without internet: asking for pretrained weights fails as a hub download does."""
    import timm

    create = timm.create_model

    def offline(*args, pretrained=False, **kwargs):
        if pretrained:
            raise OSError("We couldn't connect to 'https://huggingface.co'")
        return create(*args, **kwargs)

    monkeypatch.setattr(timm, "create_model", offline)
