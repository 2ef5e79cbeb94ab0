# graph: mmap
# title: mmap() of one page of a large file
# stems: mmapbench mmapbench-*
# columns: mmap_ns
# doc: docs/bench/mmapbench.md
set xlabel "n = mappings already made"
set ylabel "mmap() latency [ns]"
