# graph: request
# title: HTTP request latency
# stems: httpbench httpbench-*
# columns: request_ns
# doc: docs/bench/httpbench.md
set xlabel "n = connections already open (idle)"
set ylabel "request latency [ns]"
