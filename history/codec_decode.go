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

func (d *decoder) float(key string) (float64, error) {
	if d.null() {
		return 0, nil
	}
	b, err := d.num()
	if err != nil {
		return 0, fmt.Errorf("%q: %w", key, err)
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, fmt.Errorf("%q: bad number %q", key, b)
	}
	return v, nil
}

func (d *decoder) int(key string) (int64, error) {
	if d.null() {
		return 0, nil
	}
	b, err := d.num()
	if err != nil {
		return 0, fmt.Errorf("%q: %w", key, err)
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
	if d.null() {
		return 0, nil
	}
	b, err := d.num()
	if err != nil {
		return 0, fmt.Errorf("%q: %w", key, err)
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

func (d *decoder) field(e *Event, key string) (err error) {
	var i int64
	switch key {
	case "t":
		e.T, err = d.float(key)
	case "kind":
		var s string
		s, err = d.string(key)
		e.Kind = Kind(s)
	case "ack_wait":
		e.AckWait, err = d.float(key)
	case "max_deliver":
		i, err = d.int(key)
		e.MaxDeliver = int(i)
	case "max_ack_pending":
		i, err = d.int(key)
		e.MaxAckPending = int(i)
	case "stream":
		e.Stream, err = d.string(key)
	case "consumer":
		e.ConsumerName, err = d.string(key)
	case "worker_http_timeout":
		e.WorkerHTTPTimeout, err = d.float(key)
	case "connect_timeout":
		e.ConnectTimeout, err = d.float(key)
	case "job":
		e.Job, err = d.int(key)
	case "task":
		e.Task, err = d.string(key)
	case "reply":
		e.Reply, err = d.string(key)
	case "sseq":
		e.SSeq, err = d.uint(key)
	case "dseq":
		e.DSeq, err = d.uint(key)
	case "dc":
		i, err = d.int(key)
		e.DC = int(i)
	case "worker":
		e.Worker, err = d.string(key)
	case "status":
		if d.i < len(d.b) && d.b[d.i] == '"' {
			e.JobStatus, err = d.string(key)
		} else {
			i, err = d.int(key)
			e.Status = int(i)
		}
	case "stored":
		i, err = d.int(key)
		e.ProgressStored = int(i)
	case "total":
		i, err = d.int(key)
		e.ProgressTotal = int(i)
	case "pipeline":
		e.Pipeline, err = d.string(key)
	case "pipelines":
		e.Pipelines, err = d.string(key)
	case "ack":
		e.Ack, err = d.string(key)
	case "type":
		e.Type, err = d.string(key)
	case "deliveries":
		i, err = d.int(key)
		e.Deliveries = int(i)
	case "num_pending":
		e.NumPending, err = d.uint(key)
	case "num_ack_pending":
		i, err = d.int(key)
		e.NumAckPending = int(i)
	case "num_redelivered":
		i, err = d.int(key)
		e.NumRedelivered = int(i)
	case "num_waiting":
		i, err = d.int(key)
		e.NumWaiting = int(i)
	case "delivered":
		e.Delivered, err = d.uint(key)
	case "ack_floor":
		e.AckFloor, err = d.uint(key)
	case "connections":
		i, err = d.int(key)
		e.Connections = int(i)
	case "total_connections":
		e.TotalConnections, err = d.uint(key)
	case "subscriptions":
		e.Subscriptions, err = d.uint(key)
	case "js_api_total":
		e.JSAPITotal, err = d.uint(key)
	case "slow_consumers":
		e.SlowConsumers, err = d.uint(key)
	case "mem":
		e.Mem, err = d.uint(key)
	case "rss":
		e.RSS, err = d.uint(key)
	case "fds":
		i, err = d.int(key)
		e.FDs = int(i)
	case "goroutines":
		i, err = d.int(key)
		e.Goroutines = int(i)
	case "version":
		e.Version, err = d.string(key)
	case "path":
		e.Path, err = d.string(key)
	case "ms":
		e.MS, err = d.float(key)
	case "err":
		e.Err, err = d.string(key)
	case "batch":
		i, err = d.int(key)
		e.Batch = int(i)
	case "n":
		i, err = d.int(key)
		e.N = int(i)
	case "want":
		e.Want, err = d.string(key)
	case "id":
		e.ID, err = d.string(key)
	case "name":
		e.Name, err = d.string(key)
	case "link":
		e.Link, err = d.string(key)
	case "phase":
		e.Phase, err = d.string(key)
	case "effects":
		e.Effects, err = d.effects(key)
	case "conn":
		e.ConnID, err = d.uint(key)
	case "js_api":
		i, err = d.int(key)
		e.JSAPI = int(i)
	case "pulls":
		i, err = d.int(key)
		e.Pulls = int(i)
	case "acks":
		i, err = d.int(key)
		e.Acks = int(i)
	case "msgs":
		i, err = d.int(key)
		e.Msgs = int(i)
	case "foreign":
		i, err = d.int(key)
		e.Foreign = int(i)
	default:
		err = d.skip()
	}
	return err
}
