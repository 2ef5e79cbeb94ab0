# graph: fd
# title.reopen_ns: open() of the lowest free descriptor
# title.append_ns: open() of a new, highest descriptor
# stems: fdbench fdbench-*
# columns: reopen_ns append_ns
# doc: docs/bench/fdbench.md
set xlabel "n = descriptors open"
set ylabel "latency [ns]"
