# graph: accept
# title: accept() latency
# stems: acceptbench acceptbench-*
# columns: accept_ns
# doc: docs/bench/acceptbench.md
set xlabel "n = connections already accepted"
set ylabel "accept() latency [ns]"
