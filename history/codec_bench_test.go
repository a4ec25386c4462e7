package history

import "testing"

// codecBenchEvents are the kinds a run writes most: a handout-sized http
// call, reserves and handouts, results, acks, conn and consumer samples.
var codecBenchEvents = []Event{
	{T: 1.234567, Kind: KindHTTP, Worker: "w1", Path: "/api/v2/jobs/40001/tasks/", Status: 200, MS: 5.25, Batch: 24, N: 24, Job: 40001},
	{T: 1.2346, Kind: KindReserve, Task: "40001-17", Reply: "$JS.ACK.job_40001.job-40001-consumer.1.17.17.1700000000000000000.983", Job: 40001},
	{T: 1.2347, Kind: KindHandout, Task: "40001-17", Reply: "$JS.ACK.job_40001.job-40001-consumer.1.17.17.1700000000000000000.983", Worker: "w1", Job: 40001},
	{T: 1.30, Kind: KindStored, Task: "40001-17", Job: 40001},
	{T: 1.31, Kind: KindAck, Reply: "$JS.ACK.job_40001.job-40001-consumer.1.17.17.1700000000000000000.983", Job: 40001},
	{T: 1.32, Kind: KindConn, Link: "api-nats", ConnID: 1234, Phase: "close", JSAPI: 3, Pulls: 1, Msgs: 24},
}

// BenchmarkCodec encodes and decodes the events a run writes most, one
// after the other, as the recorder and the readers do.
func BenchmarkCodec(b *testing.B) {
	lines := make([][]byte, len(codecBenchEvents))
	for i, e := range codecBenchEvents {
		lines[i] = e.AppendJSON(nil)
	}
	b.Run("encode", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			e := codecBenchEvents[i%len(codecBenchEvents)]
			buf = e.AppendJSON(buf[:0])
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		var e Event
		for i := 0; b.Loop(); i++ {
			e = Event{}
			if err := e.UnmarshalJSON(lines[i%len(lines)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
