"""`python -m claimbook`: build (or load) the cached pretrained bodies, report them.

The first build takes about 10-30 s per body on two CPU cores (N_BODIES bodies);
`make test` runs this before the notebooks so no timed chapter pays for it.
"""

import time

from .models import N_BODIES, warm_bodies

if __name__ == "__main__":
    t = time.perf_counter()
    for b in warm_bodies():
        print(
            f"pretrained body {b['body']}: {b['path']} (valid acc "
            f"{b['valid_acc']:.3f}, built in {b['built_seconds']:.1f} s; this call "
            f"{b['this_call_seconds']:.1f} s)"
        )
    print(f"{N_BODIES} bodies ready in {time.perf_counter() - t:.1f} s")
