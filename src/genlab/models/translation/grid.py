"""The check every field-to-field model makes: two (C, H, W) fields on one H x W grid, optionally with H
and W divisible by 2**halvings (U-Net depth, ResNet downsamplings)."""
from __future__ import annotations

from ...errors import GenlabError
from ...fields import DataInfo


def shared_grid(model: str, data: DataInfo, a: str, b: str, *, halvings: int = 0,
                key: str = "") -> tuple[int, int]:
    """(H, W) of fields `a` and `b`, or a one-line GenlabError naming the shapes (and `key`, the model
    option that sets `halvings`) and the fix."""
    sa, sb = data.fields[a].shape, data.fields[b].shape
    if len(sa) != 3 or len(sb) != 3 or sa[1:] != sb[1:]:
        raise GenlabError(f"{model} maps fields of one size; {a} is {sa} and {b} is {sb} (choose two (C, H, W) "
                          "fields of the same H x W; a super-resolution model maps different sizes)")
    h, w = sa[1:]
    k = 2 ** halvings
    if h % k or w % k:
        raise GenlabError(f"model.{key}={halvings} needs H and W divisible by {k}, but the fields are {h}x{w}; "
                          f"lower model.{key} or change data.size")
    return h, w
