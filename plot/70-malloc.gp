# graph: malloc
# title.ns_per_op_threads: malloc()/free() per operation, n threads
# title.ns_per_op_processes: malloc()/free() per operation, n processes
# stems: mallocbench mallocbench-*
# columns: ns_per_op_threads ns_per_op_processes
# doc: docs/bench/mallocbench.md
set xlabel "n = threads or processes running at once"
set ylabel "time per operation [ns]"
