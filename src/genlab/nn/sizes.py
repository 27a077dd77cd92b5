"""Input-size checks for fully convolutional networks that halve the resolution several times."""
from __future__ import annotations


def check_divisible_size(height: int, width: int, factor: int, *, network: str) -> None:
    """Raise ValueError unless H and W are both multiples of `factor` (= 2**number_of_halvings)."""
    if height % factor or width % factor:
        fix_h, fix_w = -(-height // factor) * factor, -(-width // factor) * factor
        raise ValueError(
            f"{network} needs H and W divisible by {factor}, got {height}x{width}; "
            f"pad or crop the input to e.g. {fix_h}x{fix_w}, or use fewer down-sampling levels"
        )
