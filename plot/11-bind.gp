# graph: bind
# title: bind() to port 0 latency
# stems: socketbench socketbench-*
# columns: bind_ns
# doc: docs/bench/socketbench.md
set xlabel "n = sockets already bound"
set ylabel "bind() latency [ns]"
