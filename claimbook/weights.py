"""torchvision's ImageNet weights: where torch's cache keeps them, and a clear error
instead of a download that hangs.

Introduced in chapter 00 (Start here). The full budget fine-tunes torchvision's
ResNet-34 with its ImageNet weights, as lesson 1 does; the mini budget loads a
generated stand-in from the same place. `require_weights` looks in torch's cache
before torchvision is asked (`claimbook.models.budget_arch` and `setup()` call it).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch


class WeightsUnavailable(RuntimeError):
    """The full (or mini) budget needs torchvision's ImageNet weights in torch's
    cache, and they are neither there nor downloadable (the message says what to
    download and where to put it)."""


def torchvision_weights(arch: str = "resnet34", name: str = "DEFAULT"):
    """torchvision's weights entry for `arch`: `DEFAULT` is what fastai's
    `vision_learner(dls, arch)` loads (IMAGENET1K_V1 for resnet34)."""
    import torchvision

    return torchvision.models.get_model_weights(arch)[name]


def weights_file(arch: str = "resnet34", name: str = "DEFAULT") -> Path:
    """Where torchvision looks for `arch`'s weights before downloading them: torch's
    hub cache (``$TORCH_HOME/hub/checkpoints``; TORCH_HOME defaults to
    ``~/.cache/torch``) under the download URL's file name."""
    from urllib.parse import urlparse

    url = torchvision_weights(arch, name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def require_weights(
    arch: str = "resnet34", *, budget_name: str = "full", online: bool | None = None
) -> Path:
    """The cached weights file of `arch`, checked before torchvision is asked.

    Looks in torch's cache first. There: returned (torchvision then loads it with
    no network). Missing on the mini budget, which never downloads: an error
    saying how to build the miniature. Missing on the full budget: a network probe
    of a few seconds at most (skipped with `online=`); offline, an error naming
    the URL, the file name and torch's cache folder, instead of a download that
    hangs; online, the path is returned and torchvision downloads the file when
    the model is built.
    """
    from urllib.parse import urlparse

    from .network import is_online

    weights = torchvision_weights(arch)
    path = weights_file(arch)
    if path.is_file():
        return path
    where = (
        f"torch's cache {path.parent} (TORCH_HOME/hub/checkpoints; TORCH_HOME is "
        f"{os.environ.get('TORCH_HOME') or 'unset, so ~/.cache/torch'})"
    )
    if budget_name == "mini":
        raise WeightsUnavailable(
            f"The mini budget loads {arch}'s weights from {where} and never "
            f"downloads them, and {path.name} is not there. Build the miniature "
            "and export what it prints:\n"
            "  python -m bookbuild miniature --out DIR\n"
            f"(it writes DIR/torch/hub/checkpoints/{path.name}; TORCH_HOME=DIR/torch)"
        )
    if online is None:
        online = is_online((urlparse(weights.url).hostname, 443))
    if not online:
        size = weights.meta.get("_file_size")
        size = f", {size:.0f} MB" if size else ""
        raise WeightsUnavailable(
            f"The {budget_name} budget needs torchvision's ImageNet weights for "
            f"{arch} ({weights}{size}), {path.name} is not in {where}, and this "
            f"machine cannot download it. On a machine with internet download\n"
            f"  {weights.url}\n"
            f"and copy {path.name} into {path.parent}/ (or set TORCH_HOME to a "
            "folder whose hub/checkpoints/ holds it); or use CLAIMBOOK_BUDGET=small."
        )
    return path
