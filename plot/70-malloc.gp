# graph: malloc
# title.threads_ns: malloc()/free() per operation, n threads
# title.processes_ns: malloc()/free() per operation, n processes
# stems: mallocbench mallocbench-*
# columns: threads_ns processes_ns
# doc: docs/bench/mallocbench.md
# type: levels
set xlabel "T = threads or processes running at once"
set xtics 1, 1 nomirror out
set mxtics 1
set ylabel "time per operation [ns]"
