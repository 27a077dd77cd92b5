"""Invertible layers for normalising flows (RealNVP: Dinh et al. 2017; Glow: Kingma & Dhariwal 2018).

Change of variables: for an invertible f with z = f(x),
    log p_X(x) = log p_Z(f(x)) + log |det ∂f/∂x|.
Every layer maps (B, C, H, W) -> (B, C', H', W') and returns (y, logdet) with logdet (B,) in nats;
`inverse(y)` undoes it exactly. Vectors (B, D) are handled as (B, D, 1, 1) images by the models.
The invertible arithmetic runs in float32 (only the coupling networks may run under bf16 autocast).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class FlowLayer(nn.Module):
    """An invertible map with a tractable log-determinant."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - interface
        raise TypeError(f"{type(self).__name__} must define forward")

    def inverse(self, y: Tensor) -> Tensor:  # pragma: no cover - interface
        raise TypeError(f"{type(self).__name__} must define inverse")


class Squeeze(FlowLayer):
    """Space-to-depth: (B, C, H, W) -> (B, 4C, H/2, W/2); a permutation, so log|det| = 0."""

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        b, c, h, w = x.shape
        y = x.view(b, c, h // 2, 2, w // 2, 2)  # (B, C, H/2, 2, W/2, 2)
        y = y.permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)  # (B, 4C, H/2, W/2)
        return y, x.new_zeros(b, dtype=torch.float32)

    def inverse(self, y: Tensor) -> Tensor:
        b, c4, h, w = y.shape
        x = y.view(b, c4 // 4, 2, 2, h, w)  # (B, C, 2, 2, H/2, W/2)
        return x.permute(0, 1, 4, 2, 5, 3).reshape(b, c4 // 4, 2 * h, 2 * w)  # (B, C, H, W)


class ActNorm(FlowLayer):
    """Per-channel affine y = (x + b) ⊙ exp(s); log|det| = H·W·Σ_c s_c.

    Data-dependent initialisation (Glow): on the first training forward, b = −mean and
    s = −log std of that batch, so the output starts with zero mean and unit variance per channel.
    The forward is one fused op on the activations: y = x ⊙ e + b ⊙ e with e = exp(s) (addcmul).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.uint8))
        self._ready = False  # Python mirror of `initialized`: no device sync per forward once set

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._ready = False  # re-read the loaded buffer on the next training forward

    @torch.no_grad()
    def _init(self, x: Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True, unbiased=False) if x.numel() > x.shape[1] else torch.ones_like(mean)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std.clamp(min=1e-3)))
        self.initialized.fill_(1)

    def maybe_init(self, x: Tensor) -> None:
        """Data-dependent initialisation from this batch, once (training mode only)."""
        if self.training and not self._ready:
            if not bool(self.initialized):
                self._init(x.float())
            self._ready = True

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.float()
        self.maybe_init(x)
        e = torch.exp(self.log_scale)  # (1, C, 1, 1)
        y = torch.addcmul(self.bias * e, x, e)  # (x + b) ⊙ e in one pass over x
        logdet = self.log_scale.sum() * (x.shape[2] * x.shape[3])
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        return y.float() * torch.exp(-self.log_scale) - self.bias


def _pixel_matmul(w: Tensor, x: Tensor, bias: Tensor | None = None) -> Tensor:
    """y[b, :, i, j] = w @ x[b, :, i, j] (+ bias): a 1×1 convolution as one batched matmul, which is
    several times cheaper than conv2d for the few channels of a flow. w (C', C), x (B, C, H, W)."""
    b, c, h, wd = x.shape
    xs = x.reshape(b, c, h * wd)  # (B, C, HW); a view for contiguous x
    ws = w.expand(b, *w.shape)  # (B, C', C), no copy
    y = torch.bmm(ws, xs) if bias is None else torch.baddbmm(bias.view(1, -1, 1), ws, xs)
    return y.view(b, w.shape[0], h, wd)


class InvConv1x1(FlowLayer):
    """Invertible 1×1 convolution y = W x per pixel (a learned channel permutation); log|det| =
    H·W·log|det W|. With lu=True, W = P L (U + diag(sign(s) exp(log|s|))) so log|det W| = Σ log|s|
    costs O(C) instead of O(C³) (no slogdet or inverse when training). W starts as a random rotation.
    W is composed once per forward and applied as one batched matmul in float32."""

    def __init__(self, channels: int, *, lu: bool = True):
        super().__init__()
        self.lu = lu
        w = torch.linalg.qr(torch.randn(channels, channels))[0]  # random orthogonal start
        if not lu:
            self.weight = nn.Parameter(w)
            return
        p, low, up = torch.linalg.lu(w)
        s = torch.diagonal(up)
        self.register_buffer("perm", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(low)
        self.upper = nn.Parameter(torch.triu(up, 1))
        self.log_s = nn.Parameter(torch.log(s.abs()))

    def weight_logdet(self) -> tuple[Tensor, Tensor]:
        """(W (C, C), log|det W|) in float32; for lu=True the log-det is Σ log|s| (the diagonal of U)."""
        if not self.lu:
            return self.weight, torch.linalg.slogdet(self.weight.double())[1].float()
        n = len(self.log_s)
        low = torch.tril(self.lower, -1) + torch.eye(n, device=self.log_s.device)  # unit lower triangle
        up = torch.triu(self.upper, 1) + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.perm @ (low @ up), self.log_s.sum()

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        with torch.autocast(x.device.type, enabled=False):
            w, logdet_w = self.weight_logdet()
            y = _pixel_matmul(w, x.float())  # (B, C, H, W)
        return y, (logdet_w * (x.shape[2] * x.shape[3])).expand(x.shape[0])

    def inverse(self, y: Tensor) -> Tensor:
        with torch.autocast(y.device.type, enabled=False):
            w, _ = self.weight_logdet()
            w_inv = torch.linalg.inv(w.double()).float()
            return _pixel_matmul(w_inv, y.float())


def actnorm_invconv(act: ActNorm, conv: InvConv1x1, x: Tensor) -> tuple[Tensor, Tensor]:
    """ActNorm followed by InvConv1x1 as one affine map per pixel (Glow's first two maps of a step):
        W ((x + b) ⊙ e) = (W diag(e)) x + W (b ⊙ e),   log|det| = H·W·(Σ log e + log|det W|),
    one batched matmul over the activations instead of two passes. Same result as
    `conv(act(x)[0])` (up to float rounding); the ActNorm still initialises from its first batch."""
    x = x.float()
    act.maybe_init(x)
    with torch.autocast(x.device.type, enabled=False):
        w, logdet_w = conv.weight_logdet()
        e = torch.exp(act.log_scale).view(1, -1)  # (1, C)
        y = _pixel_matmul(w * e, x, w @ (act.bias.view(-1) * e.view(-1)))
        logdet = (act.log_scale.sum() + logdet_w) * (x.shape[2] * x.shape[3])
    return y, logdet.expand(x.shape[0])


def coupling_net(c_in: int, c_out: int, hidden: int, kernel: int) -> nn.Sequential:
    """conv k×k -> ReLU -> conv 1×1 -> ReLU -> zero-initialised conv k×k (the flow starts as identity)."""
    last = nn.Conv2d(hidden, c_out, kernel, padding=kernel // 2)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(c_in, hidden, kernel, padding=kernel // 2), nn.ReLU(),
                         nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last)


class AffineTransform(torch.autograd.Function):
    """The elementwise half of an affine coupling, fused: with raw, t = st[:, :C'], st[:, C':] and an
    optional 0/1 mask m,
        s = m ⊙ scale ⊙ tanh(raw),   y = x ⊙ exp(s) + m ⊙ t,   logdet = Σ_{c,h,w} s     (float32),
    with a hand-written backward (one pass, no autograd graph of ~10 small nodes). `st` may be bf16
    (the coupling network under autocast); its gradient is returned in its own dtype."""

    @staticmethod
    def forward(ctx, x: Tensor, st: Tensor, scale: Tensor, mask: Tensor | None):
        c = x.shape[1]
        ctx.st_dtype = st.dtype
        ctx.st_format = torch.channels_last if st.dim() == 4 and not st.is_contiguous() and st.is_contiguous(
            memory_format=torch.channels_last) else torch.contiguous_format
        st = st.to(x.dtype, memory_format=torch.contiguous_format)  # x's dtype and layout for the maths below
        th = torch.tanh(st[:, :c])
        s = th * scale if mask is None else th * (scale * mask)
        e = torch.exp(s)
        t = st[:, c:] if mask is None else st[:, c:] * mask
        y = torch.addcmul(t, x, e)
        ctx.save_for_backward(x, th, e, scale, mask)
        return y, s.sum((1, 2, 3))

    @staticmethod
    def backward(ctx, gy: Tensor, gld: Tensor):
        x, th, e, scale, mask = ctx.saved_tensors
        gx = gy * e  # ∂y/∂x = exp(s)
        gs = torch.addcmul(gld.view(-1, 1, 1, 1), gx, x)  # ∂L/∂s = gy ⊙ x ⊙ exp(s) + gld
        if mask is not None:
            gs = gs * mask
        gscale = (gs * th).sum((0, 2, 3), keepdim=True)
        g_th = gs * scale
        g_raw = g_th - g_th * th * th  # tanh' = 1 − tanh²
        g_t = gy if mask is None else gy * mask
        gst = torch.cat([g_raw, g_t], 1).to(ctx.st_dtype, memory_format=ctx.st_format)
        return gx, gst, gscale, None


class AffineCoupling(FlowLayer):
    """Affine coupling (RealNVP): with a binary mask b, x_a = b ⊙ x conditions the rest,
        y = x_a + (1 − b) ⊙ (x ⊙ exp(s(x_a)) + t(x_a)),   log|det| = Σ (1 − b) ⊙ s(x_a),
    s = scale · tanh(raw) (bounded for stability). mask='checkerboard' alternates pixels by (i + j) parity
    and runs the network on the masked full-resolution image b ⊙ x (as in the RealNVP paper);
    mask='packed' is the same partition with the network run on the kept pixels gathered into a
    (C, H, W/2) image (each row keeps every other pixel, so odd rows are shifted by one pixel) and s, t
    predicted for the changed pixels in the same packed layout — half the convolution work, a different
    network (the layout of the `normflows` package; needs an even width); mask='channel' splits channels
    in halves. `parity` picks which half is transformed.
    The network input is made channels_last (faster oneDNN convolutions on CPU, tensor cores on GPU);
    the affine maths after it is one fused op (`AffineTransform`) in float32.
    """

    def __init__(self, channels: int, hidden: int, *, mask: str, parity: int, kernel: int = 3):
        super().__init__()
        if mask not in ("checkerboard", "packed", "channel"):
            raise ValueError(f"mask={mask!r} is invalid; expected checkerboard, packed or channel")
        if mask == "channel" and channels < 2:
            raise ValueError("a channel coupling needs at least 2 channels; squeeze first")
        self.mask_kind, self.parity = mask, parity
        self.c_keep = channels // 2 if mask == "channel" else channels
        c_change = channels - self.c_keep if mask == "channel" else channels
        self.net = coupling_net(self.c_keep, 2 * c_change, hidden, kernel)
        self.scale = nn.Parameter(torch.ones(1, c_change, 1, 1))
        self._masks: dict = {}  # built once per shape: (H, W, device) -> checkerboard masks (changed, kept);
        # ("packed", H, device) -> packed-layout row selector

    def _checkerboard(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h, w = x.shape[2:]
        key = (h, w, x.device)
        if key not in self._masks:
            ii, jj = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device),
                                    indexing="ij")
            change = ((ii + jj) % 2 == self.parity).float().view(1, 1, h, w)  # (1, 1, H, W)
            self._masks[key] = change, 1 - change
        return self._masks[key]

    def _packed_rows(self, h: int, device: torch.device) -> Tensor:
        """(1, 1, H, 1) bool: True on rows whose changed pixel is the first of each horizontal pair."""
        key = ("packed", h, device)
        if key not in self._masks:
            rows = torch.arange(h, device=device).view(1, 1, h, 1)
            self._masks[key] = (rows + self.parity) % 2 == 0  # (i + 2k) % 2 == parity  <=>  i % 2 == parity
        return self._masks[key]

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        """(conditioning input, part to change, 0/1 mask of the changed part or None for channel masks)."""
        if self.mask_kind == "checkerboard":
            change, keep = self._checkerboard(x)
            return x * keep, x, change
        if self.mask_kind == "packed":
            if x.shape[3] % 2:
                raise ValueError(f"a packed checkerboard coupling needs an even image width (got {x.shape[3]})")
            first = self._packed_rows(x.shape[2], x.device)
            pairs = x.unflatten(3, (-1, 2))  # (B, C, H, W/2, 2): horizontal pixel pairs
            a, b = pairs[..., 0], pairs[..., 1]
            return torch.where(first, b, a), torch.where(first, a, b), None
        xs = x.flip(1) if self.parity else x  # parity 1: condition on the other half
        return xs[:, :self.c_keep], xs[:, self.c_keep:], None

    def _merge(self, x_keep: Tensor, y_change: Tensor) -> Tensor:
        if self.mask_kind == "checkerboard":
            return y_change
        if self.mask_kind == "packed":
            first = self._packed_rows(y_change.shape[2], y_change.device)
            pairs = torch.stack([torch.where(first, y_change, x_keep), torch.where(first, x_keep, y_change)], -1)
            return pairs.flatten(3)
        y = torch.cat([x_keep, y_change], 1)  # (B, C, H, W) in the split order
        return y.flip(1) if self.parity else y

    def _net(self, x_keep: Tensor) -> Tensor:
        """The coupling network's output (B, 2C', H, W), in the autocast dtype when autocast is on."""
        if x_keep.dim() == 4 and x_keep.shape[2] * x_keep.shape[3] > 1:
            dtype = torch.get_autocast_dtype(x_keep.device.type) if torch.is_autocast_enabled(
                x_keep.device.type) else x_keep.dtype
            x_keep = x_keep.to(dtype=dtype, memory_format=torch.channels_last)  # one copy: cast + layout
        return self.net(x_keep)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = x.float()
        x_keep, x_change, change = self._split(x)
        y_change, logdet = AffineTransform.apply(x_change, self._net(x_keep), self.scale, change)
        return self._merge(x_keep, y_change), logdet

    def inverse(self, y: Tensor) -> Tensor:
        y = y.float()
        y_keep, y_change, change = self._split(y)
        st = self._net(y_keep).float()
        c = y_change.shape[1]
        s, t = self.scale * torch.tanh(st[:, :c]), st[:, c:]
        if change is not None:
            s, t = s * change, t * change
        return self._merge(y_keep, (y_change - t) * torch.exp(-s))
