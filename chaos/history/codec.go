package history

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// The codec is written by hand for two reasons: a kind decides which of its
// zero values are facts worth writing (a consumer sample's num_pending 0, a
// result's status 0), and the checkers read million-event histories, where
// encoding/json's reflection would cost most of the time budget.

// always lists, per kind, the keys written even when their value is zero.
var always = map[Kind]map[string]bool{
	KindConfig:   set("ack_wait", "max_deliver", "max_ack_pending", "worker_http_timeout", "connect_timeout"),
	KindResult:   set("status"),
	KindConsumer: set("num_pending", "num_ack_pending", "num_redelivered", "num_waiting", "delivered", "ack_floor"),
	KindServer:   set("connections", "total_connections", "subscriptions", "js_api_total", "slow_consumers"),
	KindHTTP:     set("status", "ms", "n"),
	KindConn:     set("conn"),
	KindContract: set("status", "ms"),
}

// progressKeys are a job event's progress, written together (stored 0 is a
// fact) whenever the writer knows the job's total.
var progressKeys = set("stored", "total")

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// MarshalJSON encodes e as one flat JSON object (see [Event.AppendJSON]).
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil), nil
}

// AppendJSON appends e as one flat JSON object, without a newline, to buf.
// Strings are written when not empty; numbers when not zero, or always for
// the keys a kind must carry.
func (e *Event) AppendJSON(buf []byte) []byte {
	must := always[e.Kind]
	buf = append(buf, `{"t":`...)
	buf = appendFloat(buf, e.T)
	buf = appendStr(buf, "kind", string(e.Kind), true)
	buf = appendF(buf, "ack_wait", e.AckWait, must)
	buf = appendI(buf, "max_deliver", int64(e.MaxDeliver), must)
	buf = appendI(buf, "max_ack_pending", int64(e.MaxAckPending), must)
	buf = appendStr(buf, "stream", e.Stream, false)
	buf = appendStr(buf, "consumer", e.ConsumerName, false)
	buf = appendF(buf, "worker_http_timeout", e.WorkerHTTPTimeout, must)
	buf = appendF(buf, "connect_timeout", e.ConnectTimeout, must)
	buf = appendI(buf, "job", e.Job, must)
	buf = appendStr(buf, "task", e.Task, false)
	buf = appendStr(buf, "reply", e.Reply, false)
	buf = appendU(buf, "sseq", e.SSeq, must)
	buf = appendU(buf, "dseq", e.DSeq, must)
	buf = appendI(buf, "dc", int64(e.DC), must)
	buf = appendStr(buf, "worker", e.Worker, false)
	if e.Kind == KindJob || e.JobStatus != "" {
		buf = appendStr(buf, "status", e.JobStatus, false)
		if e.ProgressTotal != 0 {
			buf = appendI(buf, "stored", int64(e.ProgressStored), progressKeys)
			buf = appendI(buf, "total", int64(e.ProgressTotal), progressKeys)
		}
	} else {
		buf = appendI(buf, "status", int64(e.Status), must)
	}
	buf = appendStr(buf, "ack", e.Ack, false)
	buf = appendStr(buf, "type", e.Type, false)
	buf = appendI(buf, "deliveries", int64(e.Deliveries), must)
	buf = appendU(buf, "num_pending", e.NumPending, must)
	buf = appendI(buf, "num_ack_pending", int64(e.NumAckPending), must)
	buf = appendI(buf, "num_redelivered", int64(e.NumRedelivered), must)
	buf = appendI(buf, "num_waiting", int64(e.NumWaiting), must)
	buf = appendU(buf, "delivered", e.Delivered, must)
	buf = appendU(buf, "ack_floor", e.AckFloor, must)
	buf = appendI(buf, "connections", int64(e.Connections), must)
	buf = appendU(buf, "total_connections", e.TotalConnections, must)
	buf = appendU(buf, "subscriptions", e.Subscriptions, must)
	buf = appendU(buf, "js_api_total", e.JSAPITotal, must)
	buf = appendU(buf, "slow_consumers", e.SlowConsumers, must)
	buf = appendU(buf, "mem", e.Mem, must)
	buf = appendStr(buf, "version", e.Version, false)
	buf = appendStr(buf, "path", e.Path, false)
	buf = appendF(buf, "ms", e.MS, must)
	buf = appendStr(buf, "err", e.Err, false)
	buf = appendI(buf, "batch", int64(e.Batch), must)
	buf = appendI(buf, "n", int64(e.N), must)
	buf = appendStr(buf, "want", e.Want, false)
	buf = appendStr(buf, "id", e.ID, false)
	buf = appendStr(buf, "name", e.Name, false)
	buf = appendStr(buf, "link", e.Link, false)
	buf = appendStr(buf, "phase", e.Phase, false)
	buf = appendU(buf, "conn", e.ConnID, must)
	buf = appendI(buf, "js_api", int64(e.JSAPI), must)
	buf = appendI(buf, "pulls", int64(e.Pulls), must)
	buf = appendI(buf, "acks", int64(e.Acks), must)
	buf = appendI(buf, "msgs", int64(e.Msgs), must)
	buf = appendI(buf, "foreign", int64(e.Foreign), must)
	buf = appendU(buf, "rss", e.RSS, must)
	buf = appendI(buf, "fds", int64(e.FDs), must)
	buf = appendI(buf, "goroutines", int64(e.Goroutines), must)
	return append(buf, '}')
}

func appendKey(buf []byte, k string) []byte {
	buf = append(buf, ',', '"')
	buf = append(buf, k...)
	return append(buf, '"', ':')
}

func appendStr(buf []byte, k, v string, force bool) []byte {
	if v == "" && !force {
		return buf
	}
	return appendString(appendKey(buf, k), v)
}

const hexDigits = "0123456789abcdef"

// appendString appends v as a JSON string. (strconv.Quote is Go syntax, not
// JSON: it writes \x01 and \a, which no JSON reader accepts.) Invalid UTF-8
// becomes U+FFFD, as encoding/json does.
func appendString(buf []byte, v string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			buf = append(buf, v[start:i]...)
			switch c {
			case '"', '\\':
				buf = append(buf, '\\', c)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(v[i:])
		if r == utf8.RuneError && size == 1 {
			buf = append(buf, v[start:i]...)
			buf = append(buf, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	buf = append(buf, v[start:]...)
	return append(buf, '"')
}

func appendI(buf []byte, k string, v int64, must map[string]bool) []byte {
	if v == 0 && !must[k] {
		return buf
	}
	return strconv.AppendInt(appendKey(buf, k), v, 10)
}

func appendU(buf []byte, k string, v uint64, must map[string]bool) []byte {
	if v == 0 && !must[k] {
		return buf
	}
	return strconv.AppendUint(appendKey(buf, k), v, 10)
}

func appendF(buf []byte, k string, v float64, must map[string]bool) []byte {
	if v == 0 && !must[k] {
		return buf
	}
	return appendFloat(appendKey(buf, k), v)
}

func appendFloat(buf []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0 // JSON has no NaN; a sample that cannot be measured is omitted upstream
	}
	// As encoding/json: plain decimals, exponents only for the very small
	// and the very large.
	if a := math.Abs(v); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.AppendFloat(buf, v, 'e', -1, 64)
	}
	return strconv.AppendFloat(buf, v, 'f', -1, 64)
}

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
