package faults

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Attrs are a fault's attributes as written in a scenario file: attribute
// name → scalar text ("15ms", "0.5", "both"). The fault that reads them
// parses and validates every one and refuses names it does not know.
type Attrs map[string]string

// FieldError is a validation error of one field. Path names the field from
// the value being validated, as a scenario file spells it
// ("for", "latency.latency", "nemesis.interval"); callers that hold the
// value inside something bigger prefix it (see [PrefixPath]).
type FieldError struct {
	Path string // dotted path, with [i] for list items
	Msg  string // what is wrong, lower case
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// PrefixPath returns err with prefix put in front of its path when err is a
// *FieldError (prefix "faults[0]" and path "for" give "faults[0].for"; a path
// starting with "[" is appended without a dot); other errors are returned
// unchanged.
func PrefixPath(prefix string, err error) error {
	fe, ok := err.(*FieldError)
	if !ok || prefix == "" {
		return err
	}
	p := prefix
	switch {
	case fe.Path == "":
	case strings.HasPrefix(fe.Path, "["):
		p += fe.Path
	default:
		p += "." + fe.Path
	}
	return &FieldError{Path: p, Msg: fe.Msg}
}

func fieldErr(path, format string, a ...any) error {
	return &FieldError{Path: path, Msg: fmt.Sprintf(format, a...)}
}

// attrReader parses Attrs, keeping the first error and which names it read.
type attrReader struct {
	a     Attrs
	known []string
	err   error
}

func newAttrReader(a Attrs) *attrReader { return &attrReader{a: a} }

func (r *attrReader) fail(name, format string, args ...any) {
	if r.err == nil {
		r.err = fieldErr(name, format, args...)
	}
}

// raw returns the text of name and whether it was given.
func (r *attrReader) raw(name string) (string, bool) {
	r.known = append(r.known, name)
	v, ok := r.a[name]
	return strings.TrimSpace(v), ok
}

// read reads name with parse, or returns def when it was not given; a
// value parse refuses fails the reader with parse's error.
func read[T any](r *attrReader, name string, def T, parse func(string) (T, error)) T {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	x, err := parse(v)
	if err != nil {
		r.fail(name, "%v", err)
		return def
	}
	return x
}

// duration reads a Go duration; neither negative nor unit-less.
func (r *attrReader) duration(name string, def time.Duration) time.Duration {
	return read(r, name, def, ParseDuration)
}

// ParseDuration parses a Go duration ("250ms", "2s"), refusing negative
// values and bare numbers other than "0".
func ParseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil {
		if _, nerr := strconv.ParseFloat(v, 64); nerr == nil {
			return 0, fmt.Errorf("duration %q needs a unit, e.g. \"%sms\"", v, v)
		}
		return 0, fmt.Errorf("not a duration: %q", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", v)
	}
	if d > MaxDuration {
		return 0, fmt.Errorf("duration %q is longer than %s", v, MaxDuration)
	}
	return d, nil
}

// MaxDuration bounds every duration of a fault and of a scenario: a fault
// that outlasts a day is a typo, not a test.
const MaxDuration = 24 * time.Hour

func (r *attrReader) int64(name string, def int64) int64 {
	return read(r, name, def, func(v string) (int64, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("not an integer: %q", v)
		}
		return n, nil
	})
}

func (r *attrReader) float(name string, def float64) float64 {
	return read(r, name, def, func(v string) (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("not a number: %q", v)
		}
		return f, nil
	})
}

func (r *attrReader) bool(name string, def bool) bool {
	return read(r, name, def, func(v string) (bool, error) {
		switch v {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, fmt.Errorf("not true or false: %q", v)
	})
}

func (r *attrReader) string(name, def string) string {
	v, ok := r.raw(name)
	if !ok {
		return def
	}
	return v
}

// done refuses every attribute that was not read and returns the first error.
func (r *attrReader) done(fault string) error {
	if r.err != nil {
		return r.err
	}
	var unknown []string
	for k := range r.a {
		if !slices.Contains(r.known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	known := "none"
	if len(r.known) > 0 {
		known = strings.Join(r.known, ", ")
	}
	return fieldErr(unknown[0], "unknown attribute %q of %s (known: %s)", unknown[0], fault, known)
}
