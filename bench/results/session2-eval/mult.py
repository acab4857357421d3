import sys
import time

import numpy as np
import scipy.sparse as sp

import suggest.rank as R
from suggest.evaluate import CheckThat, settings

MODE = {"dw": 0.2}


def cs(index, articles, opts):
    word = R._dot(index.checks_matrix, sp.vstack([a.vector for a in articles], format="csr"))
    shares = word > 0
    cw = index.config.char_weight
    chars = R._dot(index.char_matrix, sp.vstack([a.char_vector for a in articles], format="csr"))
    base = np.median(chars, axis=1, keepdims=True)
    total = (word + cw * np.maximum(chars - base, 0.0) * shares) / (1 + cw)
    days = np.array([a.day for a in articles])
    dw = MODE["dw"]
    if dw and (days >= 0).any():
        total = (
            total
            * (1 + dw * R.date_prior(days, index.check_dates, opts.date_scale))
            / (1 + np.where(days >= 0, dw, 0.0))[:, None]
        )
    return total


R.check_scores = cs
task = sys.argv[1]
d = CheckThat(f"/work/shared/data/checkthat/{task}")
for dw in [0.0, 0.2, 0.5, 1.0, 2.0]:
    MODE["dw"] = dw
    t = time.time()
    ev = d.evaluate("train", settings(), peer=None)
    print(task, "mult dw", dw, ev.figures["suggest"]["map@5"], round(time.time() - t, 1), flush=True)
