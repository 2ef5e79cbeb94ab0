# graph: fork
# title: fork() latency, until the child has written to the pipe
# stems: forkbench forkbench-*
# exclude: forkbench-static forkbench-static-*
# columns: fork_ns
# doc: docs/bench/forkbench.md
set xlabel "n = children alive"
set ylabel "fork() latency [ns]"
