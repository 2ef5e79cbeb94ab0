# graph: socket
# title: socket() latency
# stems: socketbench socketbench-*
# columns: socket_ns
# doc: docs/bench/socketbench.md
set xlabel "n = sockets already open"
set ylabel "socket() latency [ns]"
