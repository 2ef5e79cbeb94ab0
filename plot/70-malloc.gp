# graph: malloc
# title.threads_ns: malloc()/free() per operation, n threads
# title.processes_ns: malloc()/free() per operation, n processes
# stems: mallocbench mallocbench-*
# columns: threads_ns processes_ns
# doc: docs/bench/mallocbench.md
set xlabel "n = threads or processes running at once"
set ylabel "time per operation [ns]"
