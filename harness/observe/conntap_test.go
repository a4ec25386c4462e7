package observe

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/natschaos/natschaos/harness/natsd"
	"github.com/natschaos/natschaos/harness/natsd/natsdtest"
	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/internal/poll/polltest"
	"github.com/natschaos/natschaos/protocol"
)

// connEvents returns the conn events of sink for connection id, in order.
func connEvents(sink *history.Memory, id uint64) []history.Event {
	var out []history.Event
	for _, e := range sink.Of(history.KindConn) {
		if e.ConnID == id {
			out = append(out, e)
		}
	}
	return out
}

func waitClose(t *testing.T, sink *history.Memory, id uint64) history.Event {
	t.Helper()
	var cl history.Event
	polltest.CheckFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		for _, e := range connEvents(sink, id) {
			if e.Phase == history.ConnClose {
				cl = e
				return nil
			}
		}
		return fmt.Errorf("no close event of conn %d yet", id)
	})
	return cl
}

// TestConnTapCounts: a real nats.go client through the tap does stream
// info, a fetch of 3 and 3 acks: open, ready, close with js_api 3 (stream
// info, consumer info, the pull), pulls 1, acks 3, msgs 3. A second
// connection's request about another stream counts as foreign.
func TestConnTapCounts(t *testing.T) {
	srv, err := natsd.Start()
	require.NoError(t, err)
	defer srv.Close()
	direct := connect(t, srv.ClientURL())
	djs, err := jetstream.New(direct)
	require.NoError(t, err)
	jobConsumer(t, djs, 5*time.Second, 3)
	publishTasks(t, djs, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = djs.CreateStream(ctx, jetstream.StreamConfig{Name: "job_9", Subjects: []string{"job.9.tasks"}})
	require.NoError(t, err)

	sink := history.NewMemory()
	tap, err := NewConnTap("api-nats", srv.Addr(), sink, nil)
	require.NoError(t, err)
	defer tap.Close()
	tap.SetStream(testStream)

	nc, js := natsdtest.ConnectJS(t, "nats://"+tap.Addr())
	st, err := js.Stream(ctx, testStream) // STREAM.INFO.job_1
	require.NoError(t, err)
	cons, err := st.Consumer(ctx, testConsumer) // CONSUMER.INFO.job_1.job-1-consumer
	require.NoError(t, err)
	msgs := fetchAll(t, cons, 3) // one CONSUMER.MSG.NEXT
	for _, m := range msgs {
		require.NoError(t, m.Ack())
	}
	require.NoError(t, nc.Flush())
	require.Equal(t, 1, tap.Open())
	nc.Close()

	cl := waitClose(t, sink, 1)
	evs := connEvents(sink, 1)
	require.Len(t, evs, 3, "open, ready, close: %+v", evs)
	require.Equal(t, history.ConnOpen, evs[0].Phase)
	require.Equal(t, history.ConnReady, evs[1].Phase)
	require.Equal(t, "api-nats", cl.Link)
	require.Empty(t, cl.Err)
	require.Equal(t, 3, cl.JSAPI, "stream info, consumer info, one pull")
	require.Equal(t, 1, cl.Pulls)
	require.Equal(t, 3, cl.Acks)
	require.Equal(t, 3, cl.Msgs)
	require.Zero(t, cl.Foreign)

	// Another job's stream: foreign. $JS.API.INFO names none: the run's.
	nc2 := connect(t, "nats://"+tap.Addr())
	js2, err := jetstream.New(nc2)
	require.NoError(t, err)
	_, err = js2.Stream(ctx, "job_9")
	require.NoError(t, err)
	_, err = js2.AccountInfo(ctx)
	require.NoError(t, err)
	require.NoError(t, nc2.Flush())

	// The tap's Close writes a close marked "open at end" for it.
	require.NoError(t, tap.Close())
	cl2 := waitClose(t, sink, 2)
	require.Equal(t, OpenAtEnd, cl2.Err)
	require.Equal(t, 1, cl2.Foreign)
	require.Equal(t, 1, cl2.JSAPI)
	require.Len(t, connEvents(sink, 2), 3)
	require.Zero(t, tap.Open())
}

// TestConnTapUpstreamDown: an upstream that refuses still shows as an
// attempt: open, then close with the dial error, never ready.
func TestConnTapUpstreamDown(t *testing.T) {
	srv, err := natsd.Start()
	require.NoError(t, err)
	addr := srv.Addr()
	srv.Close()
	sink := history.NewMemory()
	tap, err := NewConnTap("results-nats", addr, sink, nil)
	require.NoError(t, err)
	defer tap.Close()
	_, err = nats.Connect("nats://"+tap.Addr(), nats.Timeout(time.Second))
	require.Error(t, err)
	cl := waitClose(t, sink, 1)
	require.Contains(t, cl.Err, "dial upstream")
	require.Len(t, connEvents(sink, 1), 2)
}

// feedAll runs a client→server (server=false) or server→client parser over
// chunks and returns its counts.
func feedAll(stream string, server bool, chunks ...[]byte) (tc *tapConn, p *protoParser) {
	tc, p, _ = forwardAll(stream, server, "", chunks...)
	return tc, p
}

// forwardAll is feedAll with the tap dropping what drop matches ("": no
// rule); it also returns what the tap forwarded.
func forwardAll(stream string, server bool, drop string, chunks ...[]byte) (tc *tapConn, p *protoParser, out []byte) {
	t := &ConnTap{link: "api-nats", sink: history.Discard, log: discardLogger}
	t.SetStream(stream)
	if drop != "" {
		pat, err := protocol.ParseSubjectPattern(drop)
		if err != nil {
			panic(err)
		}
		t.Drop(pat)
	}
	tc = &tapConn{t: t, id: 1}
	p = &protoParser{c: tc, server: server}
	for _, c := range chunks {
		out = append(out, p.feed(c)...)
	}
	return tc, p, out
}

type counts struct{ js, pulls, acks, msgs, foreign int64 }

func countsOf(c *tapConn) counts {
	own, foreign := c.settle()
	return counts{int64(own.jsAPI), int64(own.pulls), int64(own.acks), int64(own.msgs), int64(foreign)}
}

const clientSample = "CONNECT {\"verbose\":false}\r\nPING\r\n" +
	"PUB $JS.API.STREAM.INFO.job_1 _INBOX.a 0\r\n\r\n" +
	"pub $JS.API.CONSUMER.MSG.NEXT.job_1.job-1-consumer _INBOX.b 22\r\n{\"batch\":24,\"x\":\"PUB\"}\r\n" +
	"HPUB $JS.API.CONSUMER.INFO.job_9.c _INBOX.c 12 14\r\nNATS/1.0\r\n\r\n{}\r\n" +
	"PUB $JS.ACK.job_1.job-1-consumer.1.5.5.1700000000000000000.0 4\r\n+ACK\r\n" +
	"PUB $JS.ACK._.ABCD.job_9.c.1.5.5.1700000000000000000.0.xyz 4\r\n+ACK\r\n" +
	"PUB $JS.API.INFO _INBOX.d 0\r\n\r\n" +
	"SUB _INBOX.* 1\r\nPUB job.1.tasks 9\r\nPUB $JS.\r\n\r\n"

const serverSample = "INFO {\"server_id\":\"x\"}\r\n+OK\r\nPING\r\nPONG\r\n" +
	"MSG job.1.tasks 1 $JS.ACK.job_1.c.1.1.1.1.0 4\r\nPONG\r\n" +
	"HMSG job.1.tasks 1 $JS.ACK.job_1.c.1.2.2.1.0 12 17\r\nNATS/1.0\r\n\r\nHELLO\r\n" +
	"MSG job.9.tasks 1 $JS.ACK.job_9.c.1.2.2.1.0 1\r\nx\r\n" +
	"MSG _INBOX.b 2 3\r\n{}}\r\nPONG\r\n"

func TestProtoParserCounts(t *testing.T) {
	c, p := feedAll("job_1", false, []byte(clientSample))
	require.False(t, p.broken)
	require.Equal(t, counts{js: 3, pulls: 1, acks: 1, foreign: 2}, countsOf(c))

	c, p = feedAll("", false, []byte(clientSample))
	require.False(t, p.broken)
	require.Equal(t, counts{js: 4, pulls: 1, acks: 2}, countsOf(c), "no stream set: everything is the run's")

	c, p = feedAll("job_1", true, []byte(serverSample))
	require.False(t, p.broken)
	require.Equal(t, counts{msgs: 2, foreign: 1}, countsOf(c))
	require.True(t, c.ready.Load())

	// Split at every position: the same counts.
	for _, s := range []struct {
		text   string
		server bool
	}{{clientSample, false}, {serverSample, true}} {
		whole, _ := feedAll("job_1", s.server, []byte(s.text))
		for i := range len(s.text) + 1 {
			split, _ := feedAll("job_1", s.server, []byte(s.text[:i]), []byte(s.text[i:]))
			require.Equal(t, countsOf(whole), countsOf(split), "split at %d", i)
		}
	}
}

func TestProtoParserBounded(t *testing.T) {
	long := "PUB $JS.API.STREAM.INFO.job_1" + strings.Repeat("x", MaxProtoLine) + " 0\r\n\r\n"
	c, p := feedAll("job_1", false, []byte(long[:1000]), []byte(long[1000:]))
	require.True(t, p.broken, "a line over MaxProtoLine stops the parser")
	require.Nil(t, p.line)
	p.feed([]byte("PUB $JS.API.INFO _INBOX.a 0\r\n\r\n"))
	require.Zero(t, countsOf(c).js, "nothing counted after the parser stopped")

	_, p = feedAll("", false, []byte("PUB a b c d e f g 1\r\n"))
	require.True(t, p.broken, "a PUB line that cannot be sized stops the parser")
	_, p = feedAll("", true, []byte("MSG a 1 -5\r\n"))
	require.True(t, p.broken, "a bad size stops the parser")
}

func TestAPIStream(t *testing.T) {
	for subj, want := range map[string]string{
		"$JS.API.INFO":                               "",
		"$JS.API.STREAM.NAMES":                       "",
		"$JS.API.STREAM.LIST":                        "",
		"$JS.API.STREAM.INFO.job_9":                  "job_9",
		"$JS.API.STREAM.DELETE.job_9":                "job_9",
		"$JS.API.STREAM.MSG.GET.job_9":               "job_9",
		"$JS.API.STREAM.LEADER.STEPDOWN.job_9":       "job_9",
		"$JS.API.CONSUMER.CREATE.job_9.c.job.9.x":    "job_9",
		"$JS.API.CONSUMER.DURABLE.CREATE.job_9.c":    "job_9",
		"$JS.API.CONSUMER.INFO.job_9.c":              "job_9",
		"$JS.API.CONSUMER.MSG.NEXT.job_9.c":          "job_9",
		"$JS.API.CONSUMER.NAMES.job_9":               "job_9",
		"$JS.API.DIRECT.GET.job_9":                   "job_9",
		"$JS.ACK.job_9.c.1.2.3.4.5":                  "job_9",
		"$JS.ACK._.HASH.job_9.c.1.2.3.4.5.rnd":       "job_9",
		"$JS.ACK.short.1":                            "",
		"$JS.ACK.dom.HASH.job_9.c.1.2.3.4.5.rnd.foo": "job_9",
	} {
		var got []byte
		if strings.HasPrefix(subj, ackPrefix) {
			got = ackStream([]byte(subj))
		} else {
			got = apiStream([]byte(subj[len(jsAPIPrefix):]))
		}
		require.Equal(t, want, string(got), subj)
	}
}

// FuzzConnTap: any byte stream, split anywhere, gives the same counts as
// in one piece, never panics, and never holds more than MaxProtoLine bytes.
func FuzzConnTap(f *testing.F) {
	f.Add([]byte(clientSample), uint16(7), false)
	f.Add([]byte(serverSample), uint16(31), true)
	f.Add([]byte("PUB a 99999999999\r\n"), uint16(3), false)
	f.Add([]byte("HMSG a 1 $JS.ACK.a.b.1.1.1.1.0 1 2\r\nxy\r\n"), uint16(0), true)
	f.Fuzz(func(t *testing.T, data []byte, cut uint16, server bool) {
		whole, pw, outw := forwardAll("job_1", server, "", data)
		i := int(cut) % (len(data) + 1)
		split, ps, outs := forwardAll("job_1", server, "", data[:i], data[i:])
		if countsOf(whole) != countsOf(split) || pw.broken != ps.broken || whole.ready.Load() != split.ready.Load() {
			t.Fatalf("split at %d: %+v broken=%v, whole: %+v broken=%v", i, countsOf(split), ps.broken, countsOf(whole), pw.broken)
		}
		if len(ps.line) > MaxProtoLine || len(pw.line) > MaxProtoLine {
			t.Fatalf("line buffer over the bound")
		}
		if string(outw) != string(data) || string(outs) != string(data) {
			t.Fatalf("with no drop rule the tap changed the bytes")
		}
		// With a rule, what goes through does not depend on where reads split.
		_, _, dw := forwardAll("job_1", server, "$JS.API.>", data)
		_, _, ds := forwardAll("job_1", server, "$JS.API.>", data[:i], data[i:])
		if string(dw) != string(ds) {
			t.Fatalf("split at %d forwards %q, whole %q", i, ds, dw)
		}
	})
}

// What a connection did before the run's stream was known is attributed
// when it closes: another job's requests are foreign after all, the run's
// are the run's; with the stream never known, everything is the run's.
func TestProtoParserAttributesAtClose(t *testing.T) {
	c, p := feedAll("", false, []byte(clientSample))
	require.False(t, p.broken)
	c.t.SetStream("job_1")
	require.Equal(t, counts{js: 3, pulls: 1, acks: 1, foreign: 2}, countsOf(c))

	c, _ = feedAll("", false, []byte(clientSample))
	require.Equal(t, counts{js: 4, pulls: 1, acks: 2}, countsOf(c))
}

// A stream every job shares (the platform's advisories stream) is part of
// the run's work; only another stream of the job family is foreign.
func TestProtoParserSharedStreamIsTheRuns(t *testing.T) {
	c, _ := feedAll("job_1", false, []byte("PUB $JS.API.STREAM.INFO.advisories _INBOX.a 0\r\n\r\n"+
		"PUB $JS.API.STREAM.INFO.job_1 _INBOX.b 0\r\n\r\nPUB $JS.API.STREAM.INFO.job_12 _INBOX.c 0\r\n\r\n"))
	require.Equal(t, counts{js: 2, foreign: 1}, countsOf(c))
}

// TestProtoParserDrops: with a rule on, the client's messages it matches —
// line and payload, headers included — are left out of what the tap
// forwards and everything else goes through unchanged, wherever the reads
// split; the server's side is never filtered.
func TestProtoParserDrops(t *testing.T) {
	dropped := "HPUB $JS.API.CONSUMER.INFO.job_9.c _INBOX.c 12 14\r\nNATS/1.0\r\n\r\n{}\r\n"
	want := strings.Replace(clientSample, dropped, "", 1)
	require.NotEqual(t, clientSample, want)
	data := []byte(clientSample)
	for i := range len(data) + 1 {
		c, p, out := forwardAll("job_1", false, "$JS.API.CONSUMER.INFO.>", data[:i], data[i:])
		require.Equal(t, want, string(out), "split at %d", i)
		require.Equal(t, counts{js: 3, pulls: 1, acks: 1, foreign: 2}, countsOf(c), "a dropped request still counts as sent")
		require.EqualValues(t, 1, c.t.drop.Load().dropped.Load())
		require.False(t, p.broken)
	}
	var chunks [][]byte
	for i := range data {
		chunks = append(chunks, data[i:i+1])
	}
	_, _, out := forwardAll("job_1", false, "$JS.API.CONSUMER.INFO.>", chunks...)
	require.Equal(t, want, string(out), "a byte at a time")
	_, _, out = forwardAll("job_1", true, ">", []byte(serverSample))
	require.Equal(t, serverSample, string(out))
}

// TestConnTapDrop: through the tap, a real client's stream delete is never
// answered while a rule drops it, and the same connection's other requests
// are; once the rule stops, the delete goes through.
func TestConnTapDrop(t *testing.T) {
	srv := natsdtest.StartNATS(t)
	tap, err := NewConnTap("results-nats", srv.Addr(), history.Discard, nil)
	require.NoError(t, err)
	defer tap.Close()
	_, js := natsdtest.ConnectJS(t, "nats://"+tap.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: "job_3", Subjects: []string{"job.3.tasks"}})
	require.NoError(t, err)

	pat, err := protocol.ParseSubjectPattern("$JS.API.STREAM.DELETE.>")
	require.NoError(t, err)
	stop := tap.Drop(pat)
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err = js.DeleteStream(short, "job_3")
	cancelShort()
	require.ErrorIs(t, err, context.DeadlineExceeded, "the delete never reached NATS")
	_, err = js.Stream(ctx, "job_3")
	require.NoError(t, err, "the stream is there, and the connection serves other calls")
	require.EqualValues(t, 1, stop())

	require.NoError(t, js.DeleteStream(ctx, "job_3"))
	_, err = js.Stream(ctx, "job_3")
	require.ErrorIs(t, err, jetstream.ErrStreamNotFound)
	require.EqualValues(t, 1, stop(), "stopped: the second delete went through")
}

// BenchmarkProtoParserFeed: the client side of the tap over a stream of
// typical requests, pulls and acks in 32 KiB reads — with no drop rule (every
// run: the chunk is forwarded as read) and with one that drops nothing of it
// (what is forwarded is copied) — in bytes a second.
func BenchmarkProtoParserFeed(b *testing.B) {
	unit := "PUB $JS.API.STREAM.INFO.job_1 _INBOX.a.1 0\r\n\r\n" +
		"PUB $JS.API.CONSUMER.MSG.NEXT.job_1.job-1-consumer _INBOX.b.2 22\r\n{\"batch\":24,\"x\":\"PUB\"}\r\n" +
		"HPUB $JS.API.CONSUMER.INFO.job_1.job-1-consumer _INBOX.c.3 12 14\r\nNATS/1.0\r\n\r\n{}\r\n" +
		strings.Repeat("PUB $JS.ACK.job_1.job-1-consumer.1.5.5.1700000000000000000.0 4\r\n+ACK\r\n", 8) + "PING\r\n"
	stream := []byte(strings.Repeat(unit, (4<<20)/len(unit)))
	for _, rule := range []string{"", "$JS.API.STREAM.DELETE.>"} {
		name := "no-rule"
		if rule != "" {
			name = "rule"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(stream)))
			for range b.N {
				_, p, _ := forwardAll("job_1", false, rule)
				for c := stream; len(c) > 0; {
					n := min(len(c), tapBuf)
					p.feed(c[:n])
					c = c[n:]
				}
				if p.broken {
					b.Fatal("the parser stopped: the stream is not what a client sends")
				}
			}
		})
	}
}
