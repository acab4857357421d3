import json
import sys
import time

from suggest.evaluate import CheckThat, settings

task, split = sys.argv[1], sys.argv[2]
presets = sys.argv[3].split(",")
d = CheckThat(f"/work/shared/data/checkthat/{task}")
for i, p in enumerate(presets):
    t = time.time()
    ev = d.evaluate(split, settings(preset=p), peer="bm25s" if i == 0 else None)
    print(task, split, p, json.dumps(ev.figures), round(time.time() - t, 1), flush=True)
