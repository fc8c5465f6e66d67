package backtest

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// SVG geometry.
const (
	svgW, svgH     = 640, 320
	plotX, plotY   = 50, 40   // top-left of the plot area
	plotW, plotH   = 570, 230 // size of the plot area
	barGap, binGap = 2, 10
)

// WriteSVG draws the score histograms, live and candidate side by side in each bin, as a
// self-contained SVG (no scripts, no external references). Each bar is a rect with class live
// or candidate and data-bin / data-count attributes, so tests and tools can read it back.
func WriteSVG(w io.Writer, r Report, title string) error {
	peak := 1
	for i := range Bins {
		peak = max(peak, r.LiveScores[i], r.CandidateScores[i])
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", svgW, svgH, svgW, svgH)
	fmt.Fprintf(&b, `<title>%s</title>`+"\n", html.EscapeString(title))
	b.WriteString(`<rect width="100%" height="100%" fill="#ffffff"/>` + "\n")
	fmt.Fprintf(&b, `<text x="%d" y="20" font-size="13" font-weight="bold">%s</text>`+"\n", plotX, html.EscapeString(title))
	// Legend.
	fmt.Fprintf(&b, `<rect x="%d" y="10" width="10" height="10" fill="#9e9e9e"/><text x="%d" y="19">live (stored)</text>`+"\n", svgW-190, svgW-176)
	fmt.Fprintf(&b, `<rect x="%d" y="10" width="10" height="10" fill="#1f77b4"/><text x="%d" y="19">candidate</text>`+"\n", svgW-95, svgW-81)
	// Axes and a few horizontal guides.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000000"/>`+"\n", plotX, plotY+plotH, plotX+plotW, plotY+plotH)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#000000"/>`+"\n", plotX, plotY, plotX, plotY+plotH)
	for _, f := range []float64{0.5, 1} {
		y := plotY + plotH - int(f*plotH)
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#dddddd"/><text x="%d" y="%d" text-anchor="end">%d</text>`+"\n",
			plotX, y, plotX+plotW, y, plotX-4, y+4, int(f*float64(peak)))
	}
	binW := plotW / Bins
	barW := (binW - binGap - barGap) / 2
	for i := range Bins {
		x0 := plotX + i*binW + binGap/2
		for j, s := range []struct {
			class, fill string
			n           int
		}{{"live", "#9e9e9e", r.LiveScores[i]}, {"candidate", "#1f77b4", r.CandidateScores[i]}} {
			h := s.n * plotH / peak
			fmt.Fprintf(&b, `<rect class="%s" data-bin="%d" data-count="%d" x="%d" y="%d" width="%d" height="%d" fill="%s"><title>%s %d–%d: %d</title></rect>`+"\n",
				s.class, i, s.n, x0+j*(barW+barGap), plotY+plotH-h, barW, h, s.fill, s.class, i*10, binTop(i), s.n)
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%d–%d</text>`+"\n", x0+barW, plotY+plotH+14, i*10, binTop(i))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">score (assessments: %d)</text>`+"\n", plotX+plotW/2, svgH-8, r.Assessments)
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func binTop(i int) int {
	if i == Bins-1 {
		return 100
	}
	return i*10 + 9
}
