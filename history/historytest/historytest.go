// Package historytest writes histories for tests and benchmarks.
package historytest

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/natschaos/natschaos/history"
	"github.com/natschaos/natschaos/protocol"
)

// WriteBig writes to path a realistic history of about n events, for
// benchmarks: tasks go through publish → reserve → handout → result →
// stored → ack, 1 % of them are redelivered once after a lost handout,
// workers fetch batches of 24, the prober runs every 100 ms and
// consumer/server samples every 250 ms. Every check passes it. It returns
// the number of events written.
func WriteBig(tb testing.TB, path string, n int) int {
	tb.Helper()
	rec, err := history.Create(path, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	count := 0
	emit := func(e history.Event) {
		rec.Emit(e)
		count++
	}
	const ackWait = 30.0
	tasks := n / 6
	emit(history.Event{T: 0.001, Kind: history.KindConfig, AckWait: ackWait, MaxDeliver: 3, MaxAckPending: 1000,
		Stream: protocol.StreamName(1), ConsumerName: protocol.ConsumerName(1), WorkerHTTPTimeout: 30, ConnectTimeout: 5})
	emit(history.Event{T: 0.002, Kind: history.KindPhase, Name: history.PhaseWarmup})
	for i := 1; i <= tasks; i++ {
		emit(history.Event{T: 0.01 + float64(i)*1e-6, Kind: history.KindPublish, Task: fmt.Sprintf("img-%d", i), SSeq: uint64(i)})
	}
	t := 1.0
	nextSample, nextProbe := t, t
	var dseq uint64
	var conns, total, api uint64 = 5, 5, 10
	reply := func(dc int, sseq, dseq uint64) string {
		return fmt.Sprintf("$JS.ACK.job_1.job-1-consumer.%d.%d.%d.1700000000000000000.%d", dc, sseq, dseq, tasks-int(sseq))
	}
	type redo struct {
		sseq uint64
		at   float64
	}
	var redos []redo
	for i := 1; i <= tasks; i += 24 {
		t += 0.02
		for t >= nextSample {
			emit(history.Event{T: nextSample, Kind: history.KindConsumer, NumPending: uint64(tasks - i), NumAckPending: 24, Delivered: dseq, AckFloor: dseq - 24})
			emit(history.Event{T: nextSample, Kind: history.KindServer, Connections: int(conns), TotalConnections: total, Subscriptions: 20, JSAPITotal: api})
			nextSample += 0.25
		}
		for t >= nextProbe {
			emit(history.Event{T: nextProbe, Kind: history.KindHTTP, Worker: history.ProbeWorker, Path: "/api/v2/", Status: 200, MS: 1 + rng.Float64()*3})
			nextProbe += 0.1
		}
		worker := fmt.Sprintf("w%d", i%4)
		batch := []uint64{}
		for j := i; j < i+24 && j <= tasks; j++ {
			batch = append(batch, uint64(j))
		}
		for len(redos) > 0 && redos[0].at <= t {
			batch = append(batch, redos[0].sseq)
			redos = redos[1:]
		}
		total++
		api += 3
		for _, s := range batch {
			dseq++
			dc := 1
			if s < uint64(i) {
				dc = 2
			}
			r := reply(dc, s, dseq)
			emit(history.Event{T: t, Kind: history.KindReserve, Task: fmt.Sprintf("img-%d", s), Reply: r, SSeq: s, DSeq: dseq, DC: dc})
		}
		emit(history.Event{T: t + 0.005, Kind: history.KindHTTP, Worker: worker, Path: "/api/v2/jobs/1/tasks/", Status: 200, MS: 5, Batch: 24, N: len(batch)})
		for k, s := range batch {
			dc := 1
			if s < uint64(i) {
				dc = 2
			}
			task := fmt.Sprintf("img-%d", s)
			r := reply(dc, s, dseq-uint64(len(batch)-1-k))
			emit(history.Event{T: t + 0.005, Kind: history.KindHandout, Task: task, Reply: r, SSeq: s, DSeq: dseq - uint64(len(batch)-1-k), DC: dc, Worker: worker})
			if dc == 1 && rng.Intn(100) == 0 {
				redos = append(redos, redo{s, t + ackWait}) // the worker crashed: NATS redelivers after ack_wait
				continue
			}
			emit(history.Event{T: t + 0.01, Kind: history.KindResult, Task: task, Reply: r, Worker: worker, Status: 200})
			emit(history.Event{T: t + 0.012, Kind: history.KindStored, Task: task})
			total++
			emit(history.Event{T: t + 0.013, Kind: history.KindAck, Reply: r, SSeq: s, DC: dc, Ack: "ack"})
		}
		emit(history.Event{T: t + 0.011, Kind: history.KindHTTP, Worker: worker, Path: "/api/v2/jobs/1/result/", Status: 200, MS: 2, N: len(batch)})
	}
	// Drain the redeliveries.
	for _, r := range redos {
		t = max(t, r.at) + 0.001
		dseq++
		task := fmt.Sprintf("img-%d", r.sseq)
		rep := reply(2, r.sseq, dseq)
		emit(history.Event{T: t, Kind: history.KindReserve, Task: task, Reply: rep, SSeq: r.sseq, DSeq: dseq, DC: 2})
		emit(history.Event{T: t + 0.005, Kind: history.KindHandout, Task: task, Reply: rep, SSeq: r.sseq, DSeq: dseq, DC: 2, Worker: "w0"})
		emit(history.Event{T: t + 0.005, Kind: history.KindHTTP, Worker: "w0", Path: "/api/v2/jobs/1/tasks/", Status: 200, MS: 5, Batch: 24, N: 1})
		emit(history.Event{T: t + 0.01, Kind: history.KindResult, Task: task, Reply: rep, Worker: "w0", Status: 200})
		emit(history.Event{T: t + 0.012, Kind: history.KindStored, Task: task})
		emit(history.Event{T: t + 0.013, Kind: history.KindAck, Reply: rep, SSeq: r.sseq, DC: 2, Ack: "ack"})
	}
	emit(history.Event{T: t + 1, Kind: history.KindPhase, Name: history.PhaseDrain})
	emit(history.Event{T: t + 2, Kind: history.KindServer, Connections: int(conns), TotalConnections: total, Subscriptions: 20, JSAPITotal: api})
	emit(history.Event{T: t + 2, Kind: history.KindPhase, Name: history.PhaseEnd})
	if err := rec.Close(); err != nil {
		tb.Fatal(err)
	}
	return count
}
