"""genlab.nn.layout: flatten/unflatten keep the network's memory format, forward and backward, and compute
exactly torch's (C, H, W)-ordered flatten whatever the layout."""
import torch
from torch import nn

from genlab.nn.layout import Flatten, Unflatten

CL = torch.channels_last


def _is_cl(t):
    return t.is_contiguous(memory_format=CL) and not t.is_contiguous()


def test_flatten_matches_torch_and_returns_the_gradient_in_the_input_layout():
    x0 = torch.randn(3, 5, 4, 2)
    for fmt in (torch.contiguous_format, CL):
        x = x0.clone().contiguous(memory_format=fmt).requires_grad_(True)
        y = Flatten()(x)
        assert torch.equal(y, x0.flatten(1))  # (C, H, W) order in both layouts
        w = torch.randn_like(y)
        (y * w).sum().backward()
        assert torch.equal(x.grad, w.view(3, 5, 4, 2))
        assert _is_cl(x.grad) == (fmt is CL)
    assert torch.equal(Flatten()(x0), x0.flatten(1))  # no grad: plain flatten


def test_unflatten_follows_module_to_memory_format_and_keeps_state_dict():
    net = nn.Sequential(nn.Linear(4, 5 * 3 * 2), Unflatten(5, 3, 2))
    h = torch.randn(2, 4)
    a = net(h)
    assert a.shape == (2, 5, 3, 2) and a.is_contiguous()
    net.to(memory_format=CL)
    b = net(h)
    assert _is_cl(b) and torch.equal(a, b)
    assert list(net.state_dict()) == ["0.weight", "0.bias"]  # the format marker is not saved
    net.to(memory_format=torch.contiguous_format)
    assert net(h).is_contiguous()


def test_dcgan_channels_last_step_has_no_mixed_layouts():
    """Every 4-D elementwise backward op of a channels-last DCGAN step sees one layout (mixed layouts fall
    off the vectorised path on CPU: 15-20x slower)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from genlab.config import resolve
    from genlab.models.gans.dcgan import dcgan_networks

    cfg = resolve("dcgan", [{"model": {"latent_dim": 8, "g_channels": 4, "d_channels": 4}}]).model
    g, d = dcgan_networks(cfg, 1, 28, "batch")
    g.to(memory_format=CL), d.to(memory_format=CL)
    seen = []

    class Watch(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            name = str(func)
            if any(k in name for k in ("leaky_relu_backward", "threshold_backward", "batch_norm_backward")):
                four = [a for a in args[:2] if isinstance(a, torch.Tensor) and a.dim() == 4]
                if len(four) == 2:
                    seen.append((name, _is_cl(four[0]), _is_cl(four[1])))
            return func(*args, **(kwargs or {}))

    with Watch():
        d(g(torch.randn(6, 8))).sum().backward()
    assert len(seen) >= 4
    assert all(a == b for _, a, b in seen), seen
