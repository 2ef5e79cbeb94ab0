# draw.gp - the one plot command of every scalebench graph. plot/render
# defines, before loading it:
#   NS, SF[NS], SC[NS], SK[NS], ST[NS]  the point series: data file, column
#       number, colour, legend text ("" = no legend entry; one entry per tag)
#   NM, MF[NM], MK[NM]                  the median lines: file of "n median"
#       rows per n bucket, colour
#   YS    the divisor that turns the column's unit into the axis unit
#   YMAX  the top of the y axis in axis units: a value above it is drawn as
#         a triangle on the top edge, so no point is lost (1e300: no cap)
# Every row of every run is one point; the median line follows the bucket
# medians the complexity verdict was computed from.
v(c) = column(c) / YS
plot for [i=1:NS] SF[i] using 1:(v(SC[i]) <= YMAX ? v(SC[i]) : NaN) \
         with points pt 7 ps 0.3 lc rgb SK[i] title ST[i], \
     for [i=1:NS] SF[i] using 1:(v(SC[i]) > YMAX ? YMAX : NaN) \
         with points pt 9 ps 0.7 lc rgb SK[i] notitle, \
     for [i=1:NM] MF[i] using 1:($2 / YS) with lines lw 2.5 lc rgb MK[i] notitle
