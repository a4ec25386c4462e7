package history

import (
	"math"
	"strconv"
	"strings"
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
	buf = append(buf, '{')
	for i := range fields {
		if f := &fields[i]; f.put != nil {
			buf = f.put(buf, e, must)
		}
	}
	return append(buf, '}')
}

// field is one key of an event's JSON object: how its value is written
// (put; nil when another field's put writes it) and read (get).
type field struct {
	key string
	put func(buf []byte, e *Event, must map[string]bool) []byte
	get func(d *decoder, e *Event) error
}

// fields are the keys of an event, in the order they are written: the one
// list both the writer and the reader follow.
var fields = []field{
	{key: "t", put: putT, get: func(d *decoder, e *Event) (err error) { e.T, err = d.float("t"); return err }},
	{key: "kind", put: putKind, get: getKind},
	floatKey("ack_wait", func(e *Event) *float64 { return &e.AckWait }),
	intKey("max_deliver", func(e *Event) *int { return &e.MaxDeliver }),
	intKey("max_ack_pending", func(e *Event) *int { return &e.MaxAckPending }),
	strKey("stream", func(e *Event) *string { return &e.Stream }),
	strKey("consumer", func(e *Event) *string { return &e.ConsumerName }),
	floatKey("worker_http_timeout", func(e *Event) *float64 { return &e.WorkerHTTPTimeout }),
	floatKey("connect_timeout", func(e *Event) *float64 { return &e.ConnectTimeout }),
	intKey("job", func(e *Event) *int64 { return &e.Job }),
	strKey("task", func(e *Event) *string { return &e.Task }),
	strKey("reply", func(e *Event) *string { return &e.Reply }),
	uintKey("sseq", func(e *Event) *uint64 { return &e.SSeq }),
	uintKey("dseq", func(e *Event) *uint64 { return &e.DSeq }),
	intKey("dc", func(e *Event) *int { return &e.DC }),
	strKey("worker", func(e *Event) *string { return &e.Worker }),
	{key: "status", put: putStatus, get: getStatus},
	withStatus(intKey("stored", func(e *Event) *int { return &e.ProgressStored })),
	withStatus(intKey("total", func(e *Event) *int { return &e.ProgressTotal })),
	withStatus(strKey("pipeline", func(e *Event) *string { return &e.Pipeline })),
	strKey("ack", func(e *Event) *string { return &e.Ack }),
	strKey("type", func(e *Event) *string { return &e.Type }),
	intKey("deliveries", func(e *Event) *int { return &e.Deliveries }),
	uintKey("num_pending", func(e *Event) *uint64 { return &e.NumPending }),
	intKey("num_ack_pending", func(e *Event) *int { return &e.NumAckPending }),
	intKey("num_redelivered", func(e *Event) *int { return &e.NumRedelivered }),
	intKey("num_waiting", func(e *Event) *int { return &e.NumWaiting }),
	uintKey("delivered", func(e *Event) *uint64 { return &e.Delivered }),
	uintKey("ack_floor", func(e *Event) *uint64 { return &e.AckFloor }),
	intKey("connections", func(e *Event) *int { return &e.Connections }),
	uintKey("total_connections", func(e *Event) *uint64 { return &e.TotalConnections }),
	uintKey("subscriptions", func(e *Event) *uint64 { return &e.Subscriptions }),
	uintKey("js_api_total", func(e *Event) *uint64 { return &e.JSAPITotal }),
	uintKey("slow_consumers", func(e *Event) *uint64 { return &e.SlowConsumers }),
	uintKey("mem", func(e *Event) *uint64 { return &e.Mem }),
	strKey("version", func(e *Event) *string { return &e.Version }),
	strKey("path", func(e *Event) *string { return &e.Path }),
	floatKey("ms", func(e *Event) *float64 { return &e.MS }),
	strKey("err", func(e *Event) *string { return &e.Err }),
	intKey("batch", func(e *Event) *int { return &e.Batch }),
	intKey("n", func(e *Event) *int { return &e.N }),
	strKey("want", func(e *Event) *string { return &e.Want }),
	strKey("pipelines", func(e *Event) *string { return &e.Pipelines }),
	strKey("id", func(e *Event) *string { return &e.ID }),
	strKey("name", func(e *Event) *string { return &e.Name }),
	strKey("link", func(e *Event) *string { return &e.Link }),
	strKey("phase", func(e *Event) *string { return &e.Phase }),
	{key: "effects", put: putEffects, get: func(d *decoder, e *Event) (err error) { e.Effects, err = d.effects("effects"); return err }},
	uintKey("conn", func(e *Event) *uint64 { return &e.ConnID }),
	intKey("js_api", func(e *Event) *int { return &e.JSAPI }),
	intKey("pulls", func(e *Event) *int { return &e.Pulls }),
	intKey("acks", func(e *Event) *int { return &e.Acks }),
	intKey("msgs", func(e *Event) *int { return &e.Msgs }),
	intKey("foreign", func(e *Event) *int { return &e.Foreign }),
	uintKey("rss", func(e *Event) *uint64 { return &e.RSS }),
	intKey("fds", func(e *Event) *int { return &e.FDs }),
	intKey("goroutines", func(e *Event) *int { return &e.Goroutines }),
}

// byKey finds a key's field for the reader.
var byKey = func() map[string]*field {
	m := make(map[string]*field, len(fields))
	for i := range fields {
		m[fields[i].key] = &fields[i]
	}
	return m
}()

func strKey(key string, at func(*Event) *string) field {
	return field{key: key,
		put: func(buf []byte, e *Event, _ map[string]bool) []byte { return appendStr(buf, key, *at(e), false) },
		get: func(d *decoder, e *Event) (err error) { *at(e), err = d.string(key); return err },
	}
}

func intKey[T int | int64](key string, at func(*Event) *T) field {
	return field{key: key,
		put: func(buf []byte, e *Event, must map[string]bool) []byte { return appendI(buf, key, int64(*at(e)), must) },
		get: func(d *decoder, e *Event) error {
			v, err := d.int(key)
			*at(e) = T(v)
			return err
		},
	}
}

func uintKey(key string, at func(*Event) *uint64) field {
	return field{key: key,
		put: func(buf []byte, e *Event, must map[string]bool) []byte { return appendU(buf, key, *at(e), must) },
		get: func(d *decoder, e *Event) (err error) { *at(e), err = d.uint(key); return err },
	}
}

func floatKey(key string, at func(*Event) *float64) field {
	return field{key: key,
		put: func(buf []byte, e *Event, must map[string]bool) []byte { return appendF(buf, key, *at(e), must) },
		get: func(d *decoder, e *Event) (err error) { *at(e), err = d.float(key); return err },
	}
}

// withStatus marks a field that [putStatus] writes, with a job's status.
func withStatus(f field) field {
	f.put = nil
	return f
}

// putT writes the time, the first key.
func putT(buf []byte, e *Event, _ map[string]bool) []byte {
	return appendFloat(append(buf, `"t":`...), e.T)
}

func putKind(buf []byte, e *Event, _ map[string]bool) []byte {
	return appendStr(buf, "kind", string(e.Kind), true)
}

func getKind(d *decoder, e *Event) error {
	s, err := d.string("kind")
	e.Kind = Kind(s)
	return err
}

// putStatus writes "status": a job's status (a string, with the job's
// progress and pipeline) or an HTTP status (a number).
func putStatus(buf []byte, e *Event, must map[string]bool) []byte {
	if e.Kind != KindJob && e.JobStatus == "" {
		return appendI(buf, "status", int64(e.Status), must)
	}
	buf = appendStr(buf, "status", e.JobStatus, false)
	if e.ProgressTotal != 0 {
		buf = appendI(buf, "stored", int64(e.ProgressStored), progressKeys)
		buf = appendI(buf, "total", int64(e.ProgressTotal), progressKeys)
	}
	return appendStr(buf, "pipeline", e.Pipeline, false)
}

// getStatus reads "status": a string is a job's status, a number an HTTP status.
func getStatus(d *decoder, e *Event) (err error) {
	if d.i < len(d.b) && d.b[d.i] == '"' {
		e.JobStatus, err = d.string("status")
		return err
	}
	i, err := d.int("status")
	e.Status = int(i)
	return err
}

func putEffects(buf []byte, e *Event, _ map[string]bool) []byte {
	return appendStr(buf, "effects", strings.Join(e.Effects.Names(), ","), false)
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
