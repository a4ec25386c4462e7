package history

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLine is the longest line a history may hold, newline excluded: no event
// the harness writes comes near it, and a longer line is refused (a
// [LineError] wrapping [ErrLineTooLong]) instead of being read into memory
// whatever its size.
const MaxLine = 1 << 20

// ErrLineTooLong is the error of a line longer than [MaxLine].
var ErrLineTooLong = errors.New("line longer than 1 MiB")

// LineError is a malformed line of a history: it names the line, and the
// file when it is known ([Each], [Load]).
type LineError struct {
	File string // the history file; "" for a bare Reader
	Line int    // 1-based line number
	Err  error  // what is wrong with it
}

func (e *LineError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}
func (e *LineError) Unwrap() error { return e.Err }

// Reader streams the events of a history one at a time, so that memory does
// not grow with the history's length. A torn last line (no newline at the
// end and not a whole object: the run was killed while writing) is skipped
// with a warning; any other malformed line is a *LineError.
type Reader struct {
	br       *bufio.Reader
	line     int
	long     []byte
	warnings []string
}

// NewReader returns a Reader over r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 256<<10)}
}

// Next returns the next event, or io.EOF after the last one.
func (r *Reader) Next() (Event, error) {
	var e Event
	for {
		raw, complete, err := r.readLine()
		if err != nil {
			return e, err
		}
		r.line++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		if perr := e.UnmarshalJSON(raw); perr != nil {
			if !complete {
				r.warnings = append(r.warnings, fmt.Sprintf("line %d: torn last line skipped (%d bytes): the run was probably killed while writing", r.line, len(raw)))
				return Event{}, io.EOF
			}
			return Event{}, &LineError{Line: r.line, Err: perr}
		}
		return e, nil
	}
}

// readLine returns the next line without its newline; complete is false for
// a last line that did not end with one. A line longer than MaxLine is a
// *LineError, found before more than MaxLine plus one buffer is held.
func (r *Reader) readLine() (line []byte, complete bool, err error) {
	r.long = r.long[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		n := len(r.long) + len(chunk) // the line so far, with its newline when err is nil
		if err == nil {
			n--
		}
		if n > MaxLine {
			r.long = nil // do not keep the buffer of a refused line
			return nil, false, &LineError{Line: r.line + 1, Err: ErrLineTooLong}
		}
		switch {
		case err == nil:
			if len(r.long) > 0 {
				r.long = append(r.long, chunk...)
				return r.long[:len(r.long)-1], true, nil
			}
			return chunk[:len(chunk)-1], true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			r.long = append(r.long, chunk...)
		case errors.Is(err, io.EOF):
			r.long = append(r.long, chunk...)
			if len(r.long) == 0 {
				return nil, false, io.EOF
			}
			return r.long, false, nil
		default:
			return nil, false, fmt.Errorf("read history: %w", err)
		}
	}
}

// Line is the number of the line the last event came from.
func (r *Reader) Line() int { return r.line }

// Warnings lists what was skipped (a torn last line).
func (r *Reader) Warnings() []string { return r.warnings }

// Each calls f for every event of the history at path (see [Open]), in
// order. It stops at the first error of f or of the file.
func Each(path string, f func(Event) error) (warnings []string, err error) {
	r, c, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return r.Warnings(), nil
		}
		var le *LineError
		if errors.As(err, &le) {
			le.File = path
			return r.Warnings(), le
		}
		if err != nil {
			return r.Warnings(), fmt.Errorf("%s: %w", path, err)
		}
		if err := f(e); err != nil {
			return r.Warnings(), err
		}
	}
}

// Load reads a whole history file into memory. Prefer [Each] or [Reader] for
// long histories.
func Load(path string) ([]Event, []string, error) {
	var events []Event
	warnings, err := Each(path, func(e Event) error {
		events = append(events, e)
		return nil
	})
	return events, warnings, err
}
