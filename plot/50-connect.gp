# graph: connect
# title: TCP connect latency to the HTTP server
# stems: httpbench httpbench-*
# columns: connect_ns
# doc: docs/bench/httpbench.md
set xlabel "n = connections already open"
set ylabel "connect() latency [ns]"
