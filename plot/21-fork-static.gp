# graph: fork-static
# title: fork() latency, statically vs dynamically linked
# stems: forkbench forkbench-static
# together: yes
# columns: fork_ns
# doc: docs/bench/forkbench.md
set xlabel "n = children alive"
set ylabel "fork() latency [ns]"
