# graph: manymap
# title.open_ns: open() of many small files
# title.mmap_ns: mmap() of many small files
# title.touch_ns: first touch of many small mapped files
# stems: manymapbench manymapbench-*
# columns: open_ns mmap_ns touch_ns
# doc: docs/bench/manymapbench.md
set xlabel "n = files already opened and mapped"
set ylabel "latency [ns]"
