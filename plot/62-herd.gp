# graph: herd
# title.latency_ns: wake-up latency with n waiters (thundering herd)
# title.wakeups: waiters woken per event (thundering herd)
# stems: herdbench herdbench-*
# columns: latency_ns wakeups
# ylabel.wakeups: waiters woken per event [count]
# x: log
# doc: docs/bench/herdbench.md
set xlabel "n = waiters"
set ylabel "latency [ns]"
