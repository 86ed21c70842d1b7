package scheduler

import (
	"bufio"
	"io"
	"strings"
	"time"
)

// fireLayout is how Format writes the time of a fire.
const fireLayout = "Mon 2006-01-02 15:04:05 -07:00 MST"

// Format writes fires one per line, in loc (each fire's own timezone when loc
// is nil), as the weekday, date, time, UTC offset and zone abbreviation,
// followed by the fire's note when it has one:
//
//	Sat 2026-03-28 02:30:00 +01:00 CET
//	Sun 2026-03-29 03:00:00 +02:00 CEST  DST gap: 02:30 does not exist; fires at 03:00 CEST
func Format(w io.Writer, fires []Fire, loc *time.Location) error {
	texts := make([]string, len(fires))
	width := 0
	for i, f := range fires {
		t := f.Time
		if loc != nil {
			t = t.In(loc)
		}
		texts[i] = t.Format(fireLayout)
		if f.Note != "" {
			width = max(width, len(texts[i]))
		}
	}
	bw := bufio.NewWriter(w)
	for i, f := range fires {
		bw.WriteString(texts[i])
		if f.Note != "" {
			bw.WriteString(strings.Repeat(" ", width-len(texts[i])+2))
			bw.WriteString(f.Note)
		}
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
