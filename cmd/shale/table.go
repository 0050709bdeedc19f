package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds what the admin commands print: aligned tables for people,
// JSON for scripts, and a progress line for long operations.

// table is a grid of text cells printed as aligned columns under an
// upper-case header, two spaces apart, in the manner of rpk:
//
//	NAME    PARTITIONS  REPLICAS
//	events  12          1
//	orders  3           1
//
// Cells hold text from the broker (group ids, client ids, hosts) that may
// contain control characters; they are escaped so a table cannot move the
// cursor or break its own alignment.
type table struct {
	header []string
	rows   [][]string
}

func newTable(header ...string) *table {
	return &table{header: header}
}

// addRow appends a row; each value is formatted with fmt.Sprint.
func (t *table) addRow(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = printable(fmt.Sprint(c))
	}
	t.rows = append(t.rows, row)
}

// render writes the header (when there is one) and the rows. Columns are
// as wide as their widest cell; no line ends in spaces.
func (t *table) render(w io.Writer) error {
	cols := len(t.header)
	for _, r := range t.rows {
		cols = max(cols, len(r))
	}
	widths := make([]int, cols)
	measure := func(r []string) {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	measure(t.header)
	for _, r := range t.rows {
		measure(r)
	}
	var b strings.Builder
	line := func(r []string) {
		var l strings.Builder
		for i, c := range r {
			l.WriteString(c)
			if i < len(r)-1 {
				l.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c)+2))
			}
		}
		// Empty trailing cells would leave spaces at the end.
		b.WriteString(strings.TrimRight(l.String(), " "))
		b.WriteByte('\n')
	}
	if len(t.header) > 0 {
		line(t.header)
	}
	for _, r := range t.rows {
		line(r)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// printable escapes control and other non-printing runes (and invalid
// UTF-8) the way %q would, leaving ordinary text as it is.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	q := fmt.Sprintf("%+q", s)
	return q[1 : len(q)-1]
}

// writeSection prints a section title underlined with '=', as the describe
// commands separate their summary, configs and partitions.
func writeSection(w io.Writer, title string) {
	fmt.Fprintf(w, "%s\n%s\n", title, strings.Repeat("=", len(title)))
}

// writeJSON prints v as indented JSON followed by a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// progressLine reports how far a long operation has come. On a terminal it
// rewrites one line in place; elsewhere (when asked for with --progress) it
// prints one line per step so logs stay readable. A disabled progressLine
// prints nothing.
type progressLine struct {
	w        io.Writer
	enabled  bool
	terminal bool
	label    string
	total    int
	lastLen  int
}

// newProgressLine returns a progress line for total steps of the operation
// named by label. It is enabled when forced or when w is a terminal.
func newProgressLine(w io.Writer, forced bool, label string, total int) *progressLine {
	term := isTerminal(w)
	return &progressLine{w: w, enabled: forced || term, terminal: term, label: label, total: total}
}

// update reports that done of total steps are complete.
func (p *progressLine) update(done int) {
	if !p.enabled {
		return
	}
	msg := fmt.Sprintf("%s: %d", p.label, done) // total unknown (a stream)
	if p.total > 0 {
		msg = fmt.Sprintf("%s: %d/%d (%d%%)", p.label, done, p.total, done*100/p.total)
	}
	if !p.terminal {
		fmt.Fprintln(p.w, msg)
		return
	}
	pad := ""
	if n := p.lastLen - len(msg); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.lastLen = len(msg)
	fmt.Fprintf(p.w, "\r%s%s", msg, pad)
}

// finish ends the line on a terminal so what follows starts on its own.
func (p *progressLine) finish() {
	if p.enabled && p.terminal && p.lastLen > 0 {
		fmt.Fprintln(p.w)
		p.lastLen = 0
	}
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	if err != nil {
		return false
	}
	return st.Mode()&os.ModeCharDevice != 0
}
