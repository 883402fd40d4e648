package bench

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// Charts are drawn as inline SVG so an HTML report is one self-contained file.

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

const (
	chartW, chartH = 720, 300
	padL, padR     = 70, 20
	padT, padB     = 30, 45
)

// line is one series of a line chart.
type line struct {
	name   string
	xs, ys []float64
	dashed bool
	color  int // palette index: a target's lines share one colour
}

// niceMax rounds v up to 1, 2 or 5 times a power of ten, for axis ranges.
func niceMax(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fmtAxis(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gk", v/1e3)
	}
	return fmt.Sprintf("%g", math.Round(v*1000)/1000)
}

func svgOpen(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="sans-serif" font-size="11">`,
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(b, `<text x="%d" y="18" font-size="14" font-weight="bold">%s</text>`, padL, html.EscapeString(title))
}

// axes draws the frame, grid and tick labels for [0,xmax]×[0,ymax].
func axes(b *strings.Builder, xmax, ymax float64, xlabel, ylabel string) {
	x0, y0, x1, y1 := padL, chartH-padB, chartW-padR, padT
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>`, x0, y1, x1-x0, y0-y1)
	for i := 0; i <= 5; i++ {
		y := float64(y0) - float64(i)*float64(y0-y1)/5
		fmt.Fprintf(b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eee"/>`, x0, x1, y, y)
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`, x0-4, y+4, fmtAxis(ymax*float64(i)/5))
		if xmax > 0 {
			x := float64(x0) + float64(i)*float64(x1-x0)/5
			fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, y0+14, fmtAxis(xmax*float64(i)/5))
		}
	}
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, (x0+x1)/2, chartH-8, html.EscapeString(xlabel))
	fmt.Fprintf(b, `<text x="14" y="%d" text-anchor="middle" transform="rotate(-90 14 %d)">%s</text>`,
		(y0+y1)/2, (y0+y1)/2, html.EscapeString(ylabel))
}

// legend labels series; colors[i] is the palette index of names[i] (nil: i).
func legend(b *strings.Builder, names []string, colors []int) {
	for i, n := range names {
		c := i
		if colors != nil {
			c = colors[i]
		}
		x := padL + 10 + (i%4)*160
		y := padT + 14 + (i/4)*14
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="10" height="10" fill="%s"/><text x="%d" y="%d">%s</text>`,
			x, y-9, palette[c%len(palette)], x+14, y, html.EscapeString(n))
	}
}

// lineChart draws series sharing linear axes from zero.
func lineChart(title, xlabel, ylabel string, ls []line) string {
	var b strings.Builder
	svgOpen(&b, title)
	var xmax, ymax float64
	for _, l := range ls {
		for i := range l.xs {
			xmax = math.Max(xmax, l.xs[i])
			ymax = math.Max(ymax, l.ys[i])
		}
	}
	xmax, ymax = niceMax(xmax), niceMax(ymax*1.1)
	axes(&b, xmax, ymax, xlabel, ylabel)
	sx := float64(chartW-padR-padL) / xmax
	sy := float64(chartH-padB-padT) / ymax
	var names []string
	for _, l := range ls {
		names = append(names, l.name)
		var pts []string
		for j := range l.xs {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(padL)+l.xs[j]*sx, float64(chartH-padB)-l.ys[j]*sy))
		}
		dash := ""
		if l.dashed {
			dash = ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`,
			palette[l.color%len(palette)], dash, strings.Join(pts, " "))
	}
	colors := make([]int, len(ls))
	for i, l := range ls {
		colors[i] = l.color
	}
	legend(&b, names, colors)
	b.WriteString(`</svg>`)
	return b.String()
}

// barChart draws groups of bars: one group per category, one bar per series within it.
func barChart(title, ylabel string, categories, series []string, values [][]float64, format func(float64) string) string {
	var b strings.Builder
	svgOpen(&b, title)
	var ymax float64
	for _, row := range values {
		for _, v := range row {
			ymax = math.Max(ymax, v)
		}
	}
	ymax = niceMax(ymax * 1.15)
	axes(&b, 0, ymax, "", ylabel)
	plotW := float64(chartW - padL - padR)
	gw := plotW / float64(max(len(categories), 1))
	bw := gw * 0.8 / float64(max(len(series), 1))
	sy := float64(chartH-padB-padT) / ymax
	for ci, c := range categories {
		gx := float64(padL) + float64(ci)*gw + gw*0.1
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, gx+gw*0.4, chartH-padB+14, html.EscapeString(c))
		for si := range series {
			v := values[ci][si]
			h := v * sy
			x := gx + float64(si)*bw
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`,
				x, float64(chartH-padB)-h, bw*0.92, h, palette[si%len(palette)], html.EscapeString(series[si]), format(v))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-size="9">%s</text>`,
				x+bw*0.46, float64(chartH-padB)-h-3, format(v))
		}
	}
	legend(&b, series, nil)
	b.WriteString(`</svg>`)
	return b.String()
}
