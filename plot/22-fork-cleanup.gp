# graph: fork-cleanup
# title: fork cleanup: kill() + waitpid() latency
# stems: forkbench forkbench-*
# exclude: forkbench-static forkbench-static-*
# columns: cleanup_ns
# doc: docs/bench/forkbench.md
# note: read it backwards: at the left many children are still alive.
set xlabel "n = children still alive"
set ylabel "kill() + waitpid() latency [ns]"
