//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// load drives a running whisperc server (serve-load.sh starts one) over
// loopback with OpenAI completion requests and prints the serving
// benchmark's tables: aggregate generated tokens/s and p50/p99 latency by
// concurrency, time to first token with and without a cached shared
// prefix, and the server's resident set over many short requests, read
// from /proc/PID/status.
func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	url := fs.String("url", "http://127.0.0.1:8080", "the server's base URL")
	model := fs.String("model", "m15", "the model name the server serves")
	pid := fs.Int("pid", 0, "the server's process id, for its CPU time and RSS")
	levels := fs.String("concurrency", "1,4,8,16", "concurrency levels to measure")
	gen := fs.Int("gen", 64, "tokens generated per request in the throughput runs")
	rssN := fs.Int("rss-requests", 10000, "short requests for the RSS run (0: none)")
	planned := fs.String("plan", "", "the plan's predicted tokens/s by concurrency, as 1=450,8=1600 (whisperc plan --json's serving rates), printed beside the measured")
	fs.Parse(args)
	predicted, err := parsePlanned(*planned)
	if err != nil {
		return err
	}
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 5 * time.Minute}
	if err := waitReady(c, *url); err != nil {
		return err
	}
	// Warm up: the first requests build the engine's graphs.
	if r := drive(c, *url, 4, 8, func(i int) map[string]any {
		return map[string]any{"model": *model, "prompt": fmt.Sprintf("Warm up %d", i), "max_tokens": 8, "temperature": 1, "seed": i}
	}); r.failed > 0 {
		return fmt.Errorf("%d warm-up requests failed: %s", r.failed, r.firstErr)
	}

	fmt.Printf("## Throughput (%d generated tokens per request, temperature 1)\n\n", *gen)
	if len(predicted) > 0 {
		fmt.Println("| concurrency | requests | tokens/s | × c=1 | plan tokens/s | plan ÷ measured | mean batch | passes' share of wall | mean pass | p50 latency | p99 latency | server CPU s/1k tokens | failed |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	} else {
		fmt.Println("| concurrency | requests | tokens/s | × c=1 | p50 latency | p99 latency | server CPU s/1k tokens | failed |")
		fmt.Println("|---|---|---|---|---|---|---|---|")
	}
	var base float64
	for _, f := range strings.Split(*levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("bad concurrency %q", f)
		}
		reqs := max(16, 4*n)
		cpu0 := procCPU(*pid)
		m0 := scrape(c, *url)
		t0 := time.Now()
		r := drive(c, *url, n, reqs, func(i int) map[string]any {
			return map[string]any{"model": *model, "prompt": fmt.Sprintf("Once upon a time %d", i), "max_tokens": *gen, "temperature": 1, "seed": i}
		})
		wall := time.Since(t0).Seconds()
		cpu := procCPU(*pid) - cpu0
		tps := float64(r.tokens) / wall
		if base == 0 {
			base = tps
		}
		plan := ""
		if len(predicted) > 0 {
			plan = "| – | – "
			if p, ok := predicted[n]; ok {
				plan = fmt.Sprintf("| %.0f | %.2f ", p, p/tps)
			}
			// The server's own account of its passes over the weights
			// (its /metrics): how many sequences each advanced and how
			// much of the wall time they took.
			m1 := scrape(c, *url)
			passes := m1["whisperc_serve_step_seconds_count"] - m0["whisperc_serve_step_seconds_count"]
			secs := m1["whisperc_serve_step_seconds_sum"] - m0["whisperc_serve_step_seconds_sum"]
			seqs := m1["whisperc_serve_batch_size_sum"] - m0["whisperc_serve_batch_size_sum"]
			plan += fmt.Sprintf("| %.1f | %.0f%% | %.2f ms ", seqs/max(passes, 1), 100*secs/wall, 1e3*secs/max(passes, 1))
		}
		fmt.Printf("| %d | %d | %.0f | %.2f× %s| %s | %s | %.2f | %d |\n", n, reqs, tps, tps/base, plan,
			ms(pct(r.lat, 0.5)), ms(pct(r.lat, 0.99)), 1000*cpu/float64(max(r.tokens, 1)), r.failed)
		if r.failed > 0 {
			fmt.Printf("first failure: %s\n", r.firstErr)
		}
	}

	// Prefix cache: a long shared prefix (a system prompt), first cold,
	// then warm with another ending; five different prefixes, medians.
	fmt.Printf("\n## Prefix cache (time to first token, streamed, median of 5)\n\n")
	var cold, warm []time.Duration
	var promptTokens, cachedTokens int
	for k := range 5 {
		prefix := strings.Repeat(fmt.Sprintf("Rule %d: the little dog ran to the park and played with a red ball. ", k), 12)
		d, pt, _, err := ttft(c, *url, *model, prefix+"Tom")
		if err != nil {
			return err
		}
		cold = append(cold, d)
		d, pt, ct, err := ttft(c, *url, *model, prefix+"Sue")
		if err != nil {
			return err
		}
		warm = append(warm, d)
		promptTokens, cachedTokens = pt, ct
	}
	mc, mw := pct(cold, 0.5), pct(warm, 0.5)
	fmt.Printf("prompt of %d tokens, %d of them served from the cache on the warm request (%.0f%%): cold %s, warm %s (%.0f%% less)\n",
		promptTokens, cachedTokens, 100*float64(cachedTokens)/float64(max(promptTokens, 1)), ms(mc), ms(mw), 100*(1-mw.Seconds()/mc.Seconds()))

	if *rssN <= 0 {
		return nil
	}
	// RSS over many short requests at concurrency 8.
	fmt.Printf("\n## Server RSS over %d short requests (concurrency 8, 4 tokens each)\n\n", *rssN)
	var rss []string
	lo, hi := int64(-1), int64(0)
	failed := 0
	step := max(*rssN/10, 1)
	t0 := time.Now()
	for done := 0; done < *rssN; done += step {
		n := min(step, *rssN-done)
		r := drive(c, *url, 8, n, func(i int) map[string]any {
			return map[string]any{"model": *model, "prompt": fmt.Sprintf("Lily %d", done+i), "max_tokens": 4, "temperature": 0.8, "seed": i}
		})
		failed += r.failed
		kib := procRSS(*pid)
		if lo < 0 || kib < lo {
			lo = kib
		}
		hi = max(hi, kib)
		rss = append(rss, fmt.Sprintf("%d", kib/1024))
	}
	fmt.Printf("RSS (MiB) after each %d requests: %s\n", step, strings.Join(rss, " "))
	fmt.Printf("spread %.1f MiB (min %.1f, max %.1f); %d failed; %.0f s\n", float64(hi-lo)/1024, float64(lo)/1024, float64(hi)/1024, failed, time.Since(t0).Seconds())
	if failed > 0 {
		return fmt.Errorf("%d requests failed in the RSS run", failed)
	}
	return nil
}

type driveResult struct {
	tokens   int
	lat      []time.Duration
	failed   int
	firstErr string
}

// drive sends n completion requests from c concurrent clients.
func drive(cl *http.Client, url string, c, n int, body func(i int) map[string]any) driveResult {
	var mu sync.Mutex
	var r driveResult
	next := 0
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				b, _ := json.Marshal(body(i))
				t0 := time.Now()
				resp, err := cl.Post(url+"/v1/completions", "application/json", bytes.NewReader(b))
				var out struct {
					Usage struct {
						CompletionTokens int `json:"completion_tokens"`
					} `json:"usage"`
				}
				fail := ""
				if err != nil {
					fail = err.Error()
				} else {
					data, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						fail = fmt.Sprintf("%d %s", resp.StatusCode, data)
					} else if err := json.Unmarshal(data, &out); err != nil {
						fail = err.Error()
					}
				}
				d := time.Since(t0)
				mu.Lock()
				if fail == "" {
					r.tokens += out.Usage.CompletionTokens
					r.lat = append(r.lat, d)
				} else {
					if r.failed == 0 {
						r.firstErr = fail
					}
					r.failed++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return r
}

// ttft streams one greedy completion and returns the time to its first
// chunk, the prompt's tokens and how many came from the prefix cache (the
// usage of the non-streamed twin request the server logs is not needed:
// the final chunk carries usage when asked).
func ttft(cl *http.Client, url, model, prompt string) (time.Duration, int, int, error) {
	b, _ := json.Marshal(map[string]any{"model": model, "prompt": prompt, "max_tokens": 2, "temperature": 0, "stream": true,
		"stream_options": map[string]any{"include_usage": true}})
	t0 := time.Now()
	resp, err := cl.Post(url+"/v1/completions", "application/json", bytes.NewReader(b))
	if err != nil {
		return 0, 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		data, _ := io.ReadAll(resp.Body)
		return 0, 0, 0, fmt.Errorf("prefix request: %d %s", resp.StatusCode, data)
	}
	var first time.Duration
	var pt, ct int
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || line == "[DONE]" {
			continue
		}
		if first == 0 {
			first = time.Since(t0)
		}
		var ch struct {
			Usage *struct {
				PromptTokens int `json:"prompt_tokens"`
				Details      *struct {
					Cached int `json:"cached_tokens"`
				} `json:"prompt_tokens_details"`
			} `json:"usage"`
		}
		if json.Unmarshal([]byte(line), &ch) == nil && ch.Usage != nil {
			pt = ch.Usage.PromptTokens
			if ch.Usage.Details != nil {
				ct = ch.Usage.Details.Cached
			}
		}
	}
	return first, pt, ct, sc.Err()
}

func waitReady(c *http.Client, url string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := c.Get(url + "/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("the server at %s was not ready within 2 minutes", url)
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

// procCPU returns the user+system CPU seconds of process pid, or 0.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // clock ticks; Linux's USER_HZ is 100
}

// procRSS returns the resident set of process pid in KiB, or -1.
func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return -1
}

// parsePlanned parses -plan's "1=450,8=1600": predicted tokens/s by
// concurrency.
func parsePlanned(s string) (map[int]float64, error) {
	out := map[int]float64{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, f := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		n, err1 := strconv.Atoi(k)
		r, err2 := strconv.ParseFloat(v, 64)
		if !ok || err1 != nil || err2 != nil || n < 1 || !(r > 0) {
			return nil, fmt.Errorf("bad -plan entry %q: want CONCURRENCY=TOKENS_PER_SECOND", f)
		}
		out[n] = r
	}
	return out, nil
}

// scrape reads the server's Prometheus metrics: each unlabelled sample's
// value by name (empty when they cannot be read).
func scrape(cl *http.Client, url string) map[string]float64 {
	out := map[string]float64{}
	resp, err := cl.Get(url + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.ContainsRune(line, '{') {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); ok && err == nil {
			out[name] = v
		}
	}
	return out
}
