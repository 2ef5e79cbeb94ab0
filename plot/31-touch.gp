# graph: touch
# title: first touch of a mapped page (page fault)
# stems: mmapbench mmapbench-*
# columns: touch_ns
# doc: docs/bench/mmapbench.md
set xlabel "n = pages already touched"
set ylabel "touch latency [ns]"
