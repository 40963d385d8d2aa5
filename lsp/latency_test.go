package lsp

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkEditLatency measures, through the protocol, what a user typing
// in a large document waits for: one keystroke in a declaration in the
// middle of the document after a quiet moment, then
//
//   - diag-ms: the time to the first diagnostics of the new version (the
//     check's, published before the plan's on large documents);
//   - full-ms: the time until the analysis with the plan is complete;
//   - cpu-ms: the CPU time the process spent per edit, which unlike the
//     two above does not grow with the load of a shared machine.
//
// The documents are 5,000 lines and just under the command line's 4 MiB
// limit. lsp/testdata/latency.sh runs this benchmark side by side with an
// earlier commit's server (it uses nothing newer than the session helpers
// of that commit).
func BenchmarkEditLatency(b *testing.B) {
	b.Run("5000lines", func(b *testing.B) { benchmarkEditLatency(b, bigProgram(5000)) })
	b.Run("4MiB", func(b *testing.B) {
		per := len(bigProgram(1000))
		b.ResetTimer()
		benchmarkEditLatency(b, bigProgram(1000*(4<<20-64<<10)/per))
	})
}

func benchmarkEditLatency(b *testing.B, text string) {
	s := newSession(b, testOpts())
	u := testURI(b, "big.whisper")
	s.open(u, text)
	// The harness's waitDiagnostics gives up after 10 s, which the first
	// analysis of 4 MiB may take on a loaded machine.
	waitDiagnostics := func(v int32) {
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			s.client.mu.Lock()
			for _, p := range s.client.diags[u] {
				if pv, ok := p.Version.Get(); ok && pv == v {
					s.client.mu.Unlock()
					return
				}
			}
			s.client.mu.Unlock()
			time.Sleep(time.Millisecond)
		}
		b.Fatalf("no diagnostics for version %d", v)
	}
	waitDiagnostics(1)
	waitComplete := func(v int32) {
		for {
			s.inner.mu.Lock()
			a := s.inner.cache[u]
			s.inner.mu.Unlock()
			if a != nil && a.doc.Version == v {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitComplete(1)
	mid := len(text) / 2
	i := mid + strings.Index(text[mid:], "seq_len = 1024") + len("seq_len = 102")
	digits := "123456789"
	var diag, full time.Duration
	cpu0, cpuOK := processCPU()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		v := int32(n + 2)
		start := time.Now()
		text = s.edit(u, v, text, i, i+1, digits[n%9:n%9+1])
		waitDiagnostics(v)
		diag += time.Since(start)
		waitComplete(v)
		full += time.Since(start)
	}
	// CPU time per edit (the server's and this client's, garbage
	// collection included) does not depend on the load of the machine.
	if cpu1, ok := processCPU(); cpuOK && ok {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N)/1e6, "cpu-ms")
	}
	b.ReportMetric(float64(diag.Microseconds())/1e3/float64(b.N), "diag-ms")
	b.ReportMetric(float64(full.Microseconds())/1e3/float64(b.N), "full-ms")
	b.ReportMetric(float64(len(text))/(1<<20), "MiB")
	b.ReportMetric(float64(strings.Count(text, "\n")), "lines")
}
