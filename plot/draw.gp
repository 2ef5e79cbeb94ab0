# draw.gp - the one plot command of every scalebench graph. plot/render
# (Scalebench::Render::Draw) defines, before loading it:
#   NS, SF[NS], CF[NS], SK[NS], SP[NS]  per series (tag and stem): a file
#       of "x y" points (y in axis units, thinned to the picture's pixels),
#       a file of the points above the y axis (y = its top), colour, marker
#       (pt). The point files are plotted `using 1:2`: an expression there
#       costs gnuplot three system calls per point.
#   NM, MF[NM], MK[NM], MB[NM], MD[NM]  per tag and stem: a file of
#       "x median p10 p90" rows (the pooled n buckets, or the x levels), the
#       line colour, the band colour, the line's dash type
#   NK, KT[NK], KK[NK], KP[NK], KD[NK]  the legend: one entry per tag and
#       stem, with its marker and its median line's dash
#   NR, RF[NR], RC[NR], RT  the points that crossed CPUs (began and ended
#       on different CPUs; the trailer's migrated_at), per series ringed: a
#       file of points and a file of those above the y axis; drawn as open
#       black rings over everything; RT the legend entry "crossed CPUs (K)",
#       shown only when NR > 0
#   YS    the divisor that turns the column's unit into the axis unit
#   LEVELS 1: bars for p10-p90 at each x level; 0: a shaded band
# On a levels graph x is the level moved sideways per tag (the tags'
# points, bars and lines side by side at one level), already in the files.
# Every row of every run is a point (drawn once per pixel cell and series);
# the line follows the bucket medians the growth verdict was computed from,
# up to the last n.
set style fill transparent solid 0.22 noborder
plot for [i=1:NS] SF[i] using 1:2 with points pt SP[i] ps 0.45 lc rgb SK[i] notitle, \
     for [i=1:NS] CF[i] using 1:2 with points pt 9 ps 0.9 lc rgb SK[i] notitle, \
     for [i=1:(LEVELS ? 0 : NM)] MF[i] using 1:($3 / YS):($4 / YS) \
         with filledcurves lc rgb MB[i] notitle, \
     for [i=1:(LEVELS ? NM : 0)] MF[i] using 1:($2 / YS):($3 / YS):($4 / YS) \
         with yerrorbars pt 0 lw 2 lc rgb MK[i] notitle, \
     for [i=1:NM] MF[i] using 1:($2 / YS) with lines lw 2.5 dt MD[i] lc rgb MK[i] notitle, \
     for [i=1:NR] RF[i] using 1:2 with points pt 6 ps 1.1 lw 1.5 lc rgb "#000000" notitle, \
     for [i=1:NR] RC[i] using 1:2 with points pt 6 ps 1.1 lw 1.5 lc rgb "#000000" notitle, \
     for [i=1:NK] keyentry with linespoints pt KP[i] ps 1.4 lw 2.5 dt KD[i] lc rgb KK[i] title KT[i], \
     for [i=1:(NR > 0 ? 1 : 0)] keyentry with points pt 6 ps 1.4 lw 1.5 lc rgb "#000000" title RT
