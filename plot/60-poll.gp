# graph: poll
# title: wait for one ready descriptor among n
# stems: pollbench pollbench-*
# columns: *_ns
# x: log
# doc: docs/bench/pollbench.md
set xlabel "n = descriptors watched"
set ylabel "latency [ns]"
