import sys
import time

from suggest.evaluate import CheckThat, settings

task = sys.argv[1]
d = CheckThat(f"/work/shared/data/checkthat/{task}")
for v in sys.argv[2].split(","):
    t = time.time()
    ev = d.evaluate("train", settings([f"char_max_df={v}"]), peer=None)
    print(task, "char_max_df", v, ev.figures["suggest"]["map@5"], round(time.time() - t, 1), flush=True)
    d.forget()
