package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrSyntax is wrapped by every decoding error of a malformed line.
var ErrSyntax = errors.New("malformed history line")

// UnmarshalJSON decodes one flat JSON object into e, resetting e first.
// Unknown keys are ignored, whatever their value (nested objects and arrays
// included); a known key with a value of the wrong type is an error.
func (e *Event) UnmarshalJSON(data []byte) error {
	*e = Event{}
	d := decoder{b: data}
	if err := d.object(e); err != nil {
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return nil
}

type decoder struct {
	b []byte
	i int
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\r', '\n':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) errf(format string, a ...any) error {
	return fmt.Errorf("at byte %d: "+format, append([]any{d.i}, a...)...)
}

func (d *decoder) object(e *Event) error {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return d.errf("want '{'")
	}
	d.i++
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return d.end()
	}
	for {
		d.ws()
		key, err := d.str()
		if err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return d.errf("want ':' after %q", key)
		}
		d.i++
		d.ws()
		if err := d.field(e, key); err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.errf("unterminated object")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return d.end()
		default:
			return d.errf("want ',' or '}'")
		}
	}
}

func (d *decoder) end() error {
	d.ws()
	if d.i != len(d.b) {
		return d.errf("trailing data")
	}
	return nil
}

// str reads a JSON string at the cursor.
func (d *decoder) str() (string, error) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", d.errf("want a string")
	}
	start := d.i
	d.i++
	escaped := false
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '\\':
			escaped = true
			d.i += 2
			continue
		case c == '"':
			d.i++
			raw := d.b[start+1 : d.i-1]
			if !escaped {
				if !utf8.Valid(raw) {
					return "", d.errf("invalid UTF-8 in string")
				}
				return string(raw), nil
			}
			var s string
			if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
				return "", d.errf("bad string: %v", err)
			}
			return s, nil
		case c < 0x20:
			return "", d.errf("control character in string")
		}
		d.i++
	}
	return "", d.errf("unterminated string")
}

// num reads a JSON number at the cursor and returns its text.
func (d *decoder) num() ([]byte, error) {
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			d.i++
			continue
		}
		break
	}
	if start == d.i {
		return nil, d.errf("want a number")
	}
	return d.b[start:d.i], nil
}

// number reads the text of key's number; null reads as nil, with no error.
func (d *decoder) number(key string) ([]byte, error) {
	if d.null() {
		return nil, nil
	}
	b, err := d.num()
	if err != nil {
		return nil, fmt.Errorf("%q: %w", key, err)
	}
	return b, nil
}

func (d *decoder) float(key string) (float64, error) {
	b, err := d.number(key)
	if b == nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, fmt.Errorf("%q: bad number %q", key, b)
	}
	return v, nil
}

func (d *decoder) int(key string) (int64, error) {
	b, err := d.number(key)
	if b == nil {
		return 0, err
	}
	if v, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		return v, nil
	}
	// 3.0 or 1e3: whole numbers written as floats. 2^63 itself is out of
	// range: float64(math.MaxInt64) rounds up to it.
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("%q: want a whole number, got %s", key, b)
	}
	return int64(f), nil
}

func (d *decoder) uint(key string) (uint64, error) {
	b, err := d.number(key)
	if b == nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(b), 64)
		if ferr != nil || f < 0 || f != math.Trunc(f) || f >= math.MaxUint64 {
			return 0, fmt.Errorf("%q: want a whole number ≥ 0, got %s", key, b)
		}
		v = uint64(f)
	}
	return v, nil
}

func (d *decoder) string(key string) (string, error) {
	if d.null() {
		return "", nil
	}
	s, err := d.str()
	if err != nil {
		return "", fmt.Errorf("%q: %w", key, err)
	}
	return s, nil
}

// effects reads a comma-separated list of effect names; "" and null are
// none, and a name this reader does not know is ignored.
func (d *decoder) effects(key string) (Effects, error) {
	s, err := d.string(key)
	if err != nil {
		return 0, err
	}
	var set Effects
	for n := range strings.SplitSeq(s, ",") {
		if x, ok := EffectNamed(strings.TrimSpace(n)); ok {
			set |= x
		}
	}
	return set, nil
}

func (d *decoder) null() bool {
	if len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// skip passes over any JSON value: the value of a key this reader does not know.
func (d *decoder) skip() error {
	if d.i >= len(d.b) {
		return d.errf("want a value")
	}
	switch c := d.b[d.i]; {
	case c == '"':
		_, err := d.str()
		return err
	case c == '{' || c == '[':
		start := d.i
		depth := 0
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case '"':
				if _, err := d.str(); err != nil {
					return err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					d.i++
					if !json.Valid(d.b[start:d.i]) {
						return d.errf("bad nested value")
					}
					return nil
				}
			}
			d.i++
		}
		return d.errf("unterminated value")
	case c == 't' && len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "true":
		d.i += 4
	case c == 'f' && len(d.b)-d.i >= 5 && string(d.b[d.i:d.i+5]) == "false":
		d.i += 5
	case d.null():
	default:
		_, err := d.num()
		return err
	}
	return nil
}

// field reads the value of key into e; a key no field has is skipped.
func (d *decoder) field(e *Event, key string) error {
	if f := byKey[key]; f != nil {
		return f.get(d, e)
	}
	return d.skip()
}
