"""The export's class-activation outputs (training/cam.py): the network's own outputs unchanged,
the Grad-CAM weights equal to torch autograd's, for the linear heads and with an MLP member."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from moodtagger.core.model import engine, registry
from moodtagger.training import cam


@pytest.fixture(scope="module")
def net():
    return registry.build(registry.entry())


@pytest.fixture(scope="module")
def batch(imagenet_sample):
    files = sorted(imagenet_sample.glob("*.JPEG"))[2::333]
    pre = registry.entry().preprocess
    return torch.from_numpy(np.stack([engine.prepare_file(str(f), pre) for f in files]))


def test_camnet_keeps_the_networks_outputs_and_adds_the_map_and_weights(net, batch) -> None:
    with torch.no_grad():
        plain, more = net(batch), cam.CamNet(net)(batch)
    for a, b in zip(plain, more[:3], strict=True):
        assert torch.equal(a, b)
    n = len(batch)
    assert more[3].shape == (n, 2, 1280, 7, 7) and more[4].shape == (n, 2, 8, 1280)
    assert isinstance(net.features.net.bn2.act, torch.nn.ReLU6)  # put back after the pass


def test_cam_grad_is_the_autograd_gradient(net, batch) -> None:
    assert cam.check_gradient(net, batch) < 1e-5


def test_cam_grad_is_the_autograd_gradient_with_an_mlp_member(batch) -> None:
    net = registry.build(registry.entry())
    head = net.head
    rng = np.random.default_rng(0)
    d, hidden, members = head.in_dim, 16, 3
    head.set_mlp(
        0.4,
        [
            rng.normal(0, 0.05, (d, 32)),  # a projection
            rng.normal(0, 0.3, (members, 32, hidden)),
            rng.normal(0, 0.3, (members, hidden)),
            rng.normal(0, 0.3, (members, hidden, 8)),
            rng.normal(0, 0.3, (members, 8)),
        ],
    )
    assert cam.check_gradient(net, batch) < 1e-5


def test_the_shipped_export_has_the_outputs(net, batch) -> None:
    import onnxruntime as ort

    e = registry.entry()
    assert e.onnx is not None and e.data["onnx"]["outputs"] == list(cam.OUTPUTS)
    sess = ort.InferenceSession(str(e.onnx.file), providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == list(cam.OUTPUTS)
    got = sess.run(None, {"images": batch.numpy()})
    with torch.no_grad():
        want = cam.CamNet(net)(batch)
    assert np.abs(got[0] - want[0].numpy()).max() < engine.ONNX_TOLERANCE
    assert np.abs(got[4] - want[4].numpy()).max() < 1e-4 * np.abs(want[4].numpy()).max()
    rel = np.abs(got[3] - want[3].numpy()).max() / np.abs(want[3].numpy()).max()
    assert rel < 1e-4
