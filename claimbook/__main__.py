"""`python -m claimbook`: build (or load) the cached pretrained bodies, report them;
then fetch the fastai 1.0 wheels the chapters read (`claimbook.wheels.NEEDED`).

The first build takes about 10-30 s per body on two CPU cores (N_BODIES bodies);
each wheel is one `pip download --no-deps` (about 100 KB) the first time, nothing
after. `make test` runs this before the notebooks so no timed chapter pays for
it. A wheel that cannot be fetched (no network) is reported, not fatal: chapter
10 then prints its 2018 side as "not checked here".
"""

import time

from . import wheels
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
    t = time.perf_counter()
    results = wheels.fetch_all()
    for r in results:
        if r.path is not None:
            print(f"fastai {r.version} wheel: {r.path}")
        else:
            print(f"fastai {r.version} wheel: not fetched: {r.error}")
    ok = sum(r.path is not None for r in results)
    print(
        f"{ok} of {len(results)} fastai 1.0 wheels ready in "
        f"{time.perf_counter() - t:.1f} s"
    )
