# graph: fork-cleanup
# title: fork cleanup: kill() + waitpid() latency
# stems: forkbench forkbench-*
# exclude: forkbench-static forkbench-static-*
# columns: cleanup_ns
# doc: docs/bench/forkbench.md
# note: n counts the *other* children alive during the kill and waitpid: left few, right many, as in the fork graph (the 2003 study drew it the other way round, by child number).
set xlabel "n = other children alive during the kill + waitpid"
set ylabel "kill() + waitpid() latency [ns]"
