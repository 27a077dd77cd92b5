"""Latent-space exploration: pure tensor operations on a model's latent space.

paths.py      lerp / slerp and interpolation paths
arithmetic.py class means, attribute vectors ("sneaker − sandal + boot"), label lookup
traverse.py   one-dimension-at-a-time traversals and the 2-D manifold grid (Kingma & Welling, Fig. 4)
neighbors.py  nearest neighbours in pixel or feature space (the memorisation check)
embed.py      2-D maps of latents with PCA or t-SNE (scikit-learn)
latents.py    `LatentSpace`: a model's encode/decode/prior on flat (N, D) latents, in batches

Nothing here prints or parses arguments; the CLI (`genlab explore`) does that.
"""
from .arithmetic import apply_vector, attribute_vector, class_means, resolve_label  # noqa: F401
from .embed import embed_2d  # noqa: F401
from .latents import LatentSpace  # noqa: F401
from .neighbors import nearest, nn_distance_ratio  # noqa: F401
from .paths import interpolation_path, lerp, slerp  # noqa: F401
from .traverse import manifold_grid, traversal  # noqa: F401
