package main

// The plot of cycle cost against backlog depth, drawn with image and
// image/png only: axes, ticks, lines and a 3×5 pixel font of our own.

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"
)

var (
	white  = color.RGBA{255, 255, 255, 255}
	black  = color.RGBA{0, 0, 0, 255}
	grey   = color.RGBA{200, 200, 200, 255}
	blue   = color.RGBA{31, 119, 180, 255}
	orange = color.RGBA{255, 127, 14, 255}
	red    = color.RGBA{214, 39, 40, 255}
	green  = color.RGBA{44, 160, 44, 255}
)

type canvas struct{ *image.RGBA }

func (c canvas) dot(x, y int, col color.Color, w int) {
	for dx := -w / 2; dx <= w/2; dx++ {
		for dy := -w / 2; dy <= w/2; dy++ {
			c.Set(x+dx, y+dy, col)
		}
	}
}

// line draws from (x0,y0) to (x1,y1), w pixels wide; dash > 0 leaves gaps.
func (c canvas) line(x0, y0, x1, y1 int, col color.Color, w, dash int) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= n; i++ {
		if dash > 0 && (i/dash)%2 == 1 {
			continue
		}
		c.dot(x0+(x1-x0)*i/n, y0+(y1-y0)*i/n, col, w)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// font is a 3×5 pixel font: five rows of three pixels per character.
var font = map[rune]string{
	'0': "###,#.#,#.#,#.#,###", '1': ".#.,##.,.#.,.#.,###", '2': "###,..#,###,#..,###",
	'3': "###,..#,.##,..#,###", '4': "#.#,#.#,###,..#,..#", '5': "###,#..,###,..#,###",
	'6': "###,#..,###,#.#,###", '7': "###,..#,..#,.#.,.#.", '8': "###,#.#,###,#.#,###",
	'9': "###,#.#,###,..#,###", 'a': ".#.,#.#,###,#.#,#.#", 'b': "##.,#.#,##.,#.#,##.",
	'c': ".##,#..,#..,#..,.##", 'd': "##.,#.#,#.#,#.#,##.", 'e': "###,#..,##.,#..,###",
	'f': "###,#..,##.,#..,#..", 'g': ".##,#..,#.#,#.#,.##", 'h': "#.#,#.#,###,#.#,#.#",
	'i': "###,.#.,.#.,.#.,###", 'j': "..#,..#,..#,#.#,.#.", 'k': "#.#,##.,#..,##.,#.#",
	'l': "#..,#..,#..,#..,###", 'm': "#.#,###,###,#.#,#.#", 'n': "##.,#.#,#.#,#.#,#.#",
	'o': ".#.,#.#,#.#,#.#,.#.", 'p': "##.,#.#,##.,#..,#..", 'q': ".#.,#.#,#.#,##.,.##",
	'r': "##.,#.#,##.,#.#,#.#", 's': ".##,#..,.#.,..#,##.", 't': "###,.#.,.#.,.#.,.#.",
	'u': "#.#,#.#,#.#,#.#,###", 'v': "#.#,#.#,#.#,#.#,.#.", 'w': "#.#,#.#,###,###,#.#",
	'x': "#.#,#.#,.#.,#.#,#.#", 'y': "#.#,#.#,.#.,.#.,.#.", 'z': "###,..#,.#.,#..,###",
	'/': "..#,..#,.#.,#..,#..", '(': ".#.,#..,#..,#..,.#.", ')': ".#.,..#,..#,..#,.#.",
	'=': "...,###,...,###,...", '.': "...,...,...,...,.#.", ',': "...,...,...,.#.,#..",
	'-': "...,...,###,...,...", ':': "...,.#.,...,.#.,...", '+': "...,.#.,###,.#.,...",
	'*': "...,#.#,.#.,#.#,...", ' ': "...,...,...,...,...",
}

// text draws s with its top-left corner at (x, y), each font pixel scale
// pixels wide, and returns its width.
func (c canvas) text(x, y int, s string, col color.Color, scale int) int {
	for i, r := range strings.ToLower(s) {
		g, ok := font[r]
		if !ok {
			g = font[' ']
		}
		for row, bits := range strings.Split(g, ",") {
			for colI, bit := range bits {
				if bit != '#' {
					continue
				}
				for dx := range scale {
					for dy := range scale {
						c.Set(x+(i*4+colI)*scale+dx, y+row*scale+dy, col)
					}
				}
			}
		}
	}
	return len(s) * 4 * scale
}

// plot draws ns per message of the single-message and batch cycles against
// backlog depth (log scale; the empty queue sits at the left edge), with
// the channel baseline, the 8× channel target and 2.5× the cost at 1,000.
func plot(r results, path string) error {
	const W, H = 900, 560
	const left, right, top, bottom = 90, 250, 50, 70
	img := canvas{image.NewRGBA(image.Rect(0, 0, W, H))}
	for x := range W {
		for y := range H {
			img.Set(x, y, white)
		}
	}
	depths := []float64{0, 1000, 100_000, 1_000_000}
	names := []string{"queued=0", "queued=1000", "queued=100000", "queued=1000000"}
	xOf := func(d float64) int { // log10 from 10^2 (empty) to 10^6
		l := 2.0
		if d > 0 {
			l = math.Log10(d)
		}
		return left + int((l-2)/4*float64(W-left-right))
	}
	ch := r.v("Baseline/chan", "cpu-ns/msg")
	at1k := r.v("Cycle/single/queued=1000", "cpu-ns/msg")
	maxY := max(8*ch, 2.5*at1k)
	for _, mode := range []string{"single", "batch16"} {
		for _, n := range append(names, "inflight=100000") {
			maxY = max(maxY, r.v("Cycle/"+mode+"/"+n, "cpu-ns/msg"))
		}
	}
	step := niceStep(maxY / 6)
	maxY = math.Ceil(maxY*1.05/step) * step
	yOf := func(v float64) int { return H - bottom - int(v/maxY*float64(H-top-bottom)) }

	// Grid, axes and ticks.
	for v := 0.0; v <= maxY+step/2; v += step {
		y := yOf(v)
		img.line(left, y, W-right, y, grey, 1, 0)
		lbl := f0(v)
		img.text(left-10-len(lbl)*8, y-5, lbl, black, 2)
	}
	img.line(left, top, left, H-bottom, black, 2, 0)
	img.line(left, H-bottom, W-right, H-bottom, black, 2, 0)
	for i, d := range depths {
		x := xOf(d)
		img.line(x, H-bottom, x, H-bottom+6, black, 2, 0)
		lbl := []string{"0", "1k", "100k", "1m"}[i]
		img.text(x-len(lbl)*4, H-bottom+12, lbl, black, 2)
	}
	img.text(left+(W-left-right)/2-150, H-bottom+40, "messages queued (log scale)", black, 2)
	img.text(10, 15, "send+receive+delete: cpu ns per message", black, 2)

	// Reference lines.
	img.line(left, yOf(ch), W-right, yOf(ch), green, 2, 0)
	img.line(left, yOf(8*ch), W-right, yOf(8*ch), red, 2, 8)
	img.line(left, yOf(2.5*at1k), W-right, yOf(2.5*at1k), grey, 2, 4)

	// The two series, and the in-flight variant as a lone marker at 100k.
	for _, s := range []struct {
		mode string
		col  color.Color
	}{{"single", blue}, {"batch16", orange}} {
		px, py := -1, -1
		for i, n := range names {
			x, y := xOf(depths[i]), yOf(r.v("Cycle/"+s.mode+"/"+n, "cpu-ns/msg"))
			if px >= 0 {
				img.line(px, py, x, y, s.col, 3, 0)
			}
			img.dot(x, y, s.col, 9)
			px, py = x, y
		}
		x, y := xOf(100_000), yOf(r.v("Cycle/"+s.mode+"/inflight=100000", "cpu-ns/msg"))
		for d := -6; d <= 6; d++ { // an X
			img.dot(x+d, y+d, s.col, 3)
			img.dot(x+d, y-d, s.col, 3)
		}
	}

	// Legend.
	lx, ly := W-right+20, top+10
	legend := []struct {
		col  color.Color
		dash int
		txt  string
	}{
		{blue, 0, "single message"},
		{orange, 0, "batch of 16"},
		{blue, -1, "x: 100k in flight"},
		{green, 0, "buffered chan"},
		{red, 8, "8x chan"},
		{grey, 4, "2.5x single at 1k"},
	}
	for i, l := range legend {
		y := ly + i*28
		if l.dash >= 0 {
			img.line(lx, y+5, lx+30, y+5, l.col, 3, l.dash)
		}
		img.text(lx+40, y, l.txt, black, 2)
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}
