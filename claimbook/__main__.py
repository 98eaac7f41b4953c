"""`python -m claimbook`: build (or load) the cached pretrained body, report it.

The first build takes about 10-30 s on two CPU cores; `make test` runs this before
the notebooks so no timed chapter pays for it.
"""

import time

from .models import PretrainConfig, cache_path, pretrained_state

if __name__ == "__main__":
    t = time.perf_counter()
    _, info = pretrained_state()
    print(
        f"pretrained body: {cache_path(PretrainConfig())} "
        f"(valid acc {info['valid_acc']:.3f}, built in {info['seconds']:.1f} s; "
        f"this call {time.perf_counter() - t:.1f} s)"
    )
