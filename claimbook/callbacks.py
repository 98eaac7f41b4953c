"""fastai callbacks the package installs (imports fastai: load it only when needed).

Introduced in chapter 00 (Start here). `claimbook.runtime.setup()` puts
`QuietRecorder` into fastai's default callbacks on budgets without progress bars.
"""

from __future__ import annotations

from fastai.callback.core import Callback
from fastcore.basics import noop


class QuietRecorder(Callback):
    "Silence the Recorder's per-epoch print (installed by claimbook's `setup()`)."

    order = 100

    def before_fit(self):
        self.learn.logger = noop
