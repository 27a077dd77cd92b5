"""2-D maps of latents: PCA (linear, z ↦ W^T (z − μ) with W the top-2 principal axes) or t-SNE
(van der Maaten & Hinton 2008; scikit-learn, PCA-initialised). Both seeded, so maps are repeatable."""
from __future__ import annotations

import numpy as np
from torch import Tensor

from ..errors import GenlabError

METHODS = ("pca", "tsne")


def embed_2d(z: Tensor, method: str = "pca", *, seed: int = 0) -> tuple[np.ndarray, dict]:
    """z: (N, D) -> (coordinates (N, 2), info). info: for PCA the explained variance ratio of each axis."""
    x = z.reshape(len(z), -1).double().cpu().numpy()  # (N, D)
    if method not in METHODS:
        raise GenlabError(f"--method {method!r} is not available; choose one of: {', '.join(METHODS)}")
    if len(x) < 5:
        raise GenlabError(f"a 2-D map needs at least 5 points, got {len(x)}; raise -n")
    if method == "pca":
        from sklearn.decomposition import PCA

        if x.shape[1] == 1:
            return np.concatenate([x, np.zeros_like(x)], 1), {"explained_variance_ratio": [1.0, 0.0]}
        pca = PCA(n_components=2, random_state=seed)
        y = pca.fit_transform(x)
        return y, {"explained_variance_ratio": [float(v) for v in pca.explained_variance_ratio_]}
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, (len(x) - 1) / 3))
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(x), {"perplexity": perplexity, "kl_divergence": float(tsne.kl_divergence_)}
