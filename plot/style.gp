# style.gp - the look shared by every scalebench graph. plot/render loads
# it first, then the graph family's script, then draw.gp.
set datafile commentschars "#"
set datafile missing "-"
set termoption noenhanced
set border 3 lw 1 lc rgb "#444444"
set tics nomirror out scale 0.6 textcolor rgb "#333333"
set grid ytics xtics lw 1 lc rgb "#e4e4e4" dt 1
set key below left Left reverse samplen 2.5 spacing 1.1 maxcols 2 width 2
set xlabel "n" textcolor rgb "#222222"
set ylabel textcolor rgb "#222222"
set title textcolor rgb "#111111" font ",13"
set format y "%.0f"
set xrange [0:*]
set yrange [0:*]
set offsets 0, graph 0.02, graph 0.05, 0
set encoding utf8
