import dataclasses

import pytest
import torch

from cacscore.regress.models import MODELS, build_model, model_config
from cacscore.regress.models.layers import SqueezeExcite


pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_shapes_backward_no_nan(name):
    torch.manual_seed(0)
    model = build_model(name, in_channels=7, image_size=64)
    x = torch.randn(3, 7, 64, 64, requires_grad=True)
    out = model(x)
    assert out.shape == (3, 4)
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
    assert x.grad is not None and x.grad.abs().sum() > 0
    # config round trip through JSON-like dict
    cfg = model_config(model)
    assert dataclasses.asdict(build_model(name, **cfg).config) == cfg


def test_paper_defaults():
    cnn = build_model("cnn")
    assert [m.out_channels for m in cnn.modules() if isinstance(m, torch.nn.Conv2d)] == [32, 64, 128]
    assert [(m.in_features, m.out_features) for m in cnn.head if isinstance(m, torch.nn.Linear)] == [(128, 128), (128, 4)]
    se = build_model("se_cnn")
    assert se.se.fc1.weight.shape == (73 // 16, 73) and se.se.fc2.weight.shape == (73, 73 // 16)
    vit = build_model("vit")
    assert vit.pos.shape == (1, 257, 128)  # 256 patch tokens at 512 x 512 + class token
    assert vit.patch.kernel_size == (32, 32) and vit.patch.stride == (32, 32)
    assert len(vit.encoder.layers) == 3 and vit.encoder.layers[0].self_attn.num_heads == 4
    assert vit.encoder.layers[0].linear1.out_features == 512


def test_se_weights_scale_channels():
    se = SqueezeExcite(32, reduction=16)
    x = torch.randn(2, 32, 8, 8)
    s = se.weights(x)
    assert s.shape == (2, 32) and (s > 0).all() and (s < 1).all()
    torch.testing.assert_close(se(x), x * s[:, :, None, None])


def test_bad_options():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet")
    with pytest.raises(ValueError, match="depthh"):
        build_model("vit", depthh=2)
    with pytest.raises(ValueError, match="divisible"):
        build_model("vit", image_size=100)
    vit = build_model("vit", in_channels=4, image_size=64)
    with pytest.raises(ValueError, match="patches"):
        vit(torch.zeros(1, 4, 128, 128))
