package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// MemSample is the broker's memory at one connection count.
type MemSample struct {
	Conns int64 `json:"conns"`
	RSS   int64 `json:"rss"`            // bytes, VmRSS from /proc/PID/status
	Heap  int64 `json:"heap,omitempty"` // bytes, go_memstats_heap_inuse_bytes from the broker's /metrics
}

// MemoryReport is the broker's memory per connection: the least-squares slope of memory over the
// connection count, so a constant baseline and sampling noise do not distort it.
type MemoryReport struct {
	Samples     []MemSample `json:"samples"`
	RSSPerConn  float64     `json:"rss_per_conn"` // bytes
	RSSBase     float64     `json:"rss_base"`     // bytes at zero connections (the fit's intercept)
	RSSFit      float64     `json:"rss_r2"`       // coefficient of determination of the fit
	HeapPerConn float64     `json:"heap_per_conn,omitempty"`
	// Projected1M is the RSS the fit predicts for one million connections.
	Projected1M float64 `json:"projected_1m_rss"`
}

func memoryReport(s []MemSample) *MemoryReport {
	r := &MemoryReport{Samples: append([]MemSample(nil), s...)}
	xs := make([]float64, len(s))
	rss := make([]float64, len(s))
	var heap []float64
	for i, m := range s {
		xs[i] = float64(m.Conns)
		rss[i] = float64(m.RSS)
		if m.Heap > 0 {
			heap = append(heap, float64(m.Heap))
		}
	}
	r.RSSPerConn, r.RSSBase, r.RSSFit = leastSquares(xs, rss)
	if len(heap) == len(xs) {
		r.HeapPerConn, _, _ = leastSquares(xs, heap)
	}
	r.Projected1M = r.RSSBase + r.RSSPerConn*1e6
	return r
}

// leastSquares fits y = slope·x + intercept and returns the fit's R². With fewer than two distinct x
// it returns zeros.
func leastSquares(x, y []float64) (slope, intercept, r2 float64) {
	n := float64(len(x))
	if len(x) < 2 || len(x) != len(y) {
		return 0, 0, 0
	}
	var sx, sy, sxx, sxy float64
	for i := range x {
		sx += x[i]
		sy += y[i]
		sxx += x[i] * x[i]
		sxy += x[i] * y[i]
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0, 0, 0
	}
	slope = (n*sxy - sx*sy) / d
	intercept = (sy - slope*sx) / n
	mean := sy / n
	var ssTot, ssRes float64
	for i := range x {
		f := slope*x[i] + intercept
		ssRes += (y[i] - f) * (y[i] - f)
		ssTot += (y[i] - mean) * (y[i] - mean)
	}
	if ssTot > 0 {
		r2 = 1 - ssRes/ssTot
	}
	return slope, intercept, r2
}

// readRSS returns the resident set size of process pid in bytes.
func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	return parseRSS(b)
}

func parseRSS(status []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == "VmRSS:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

var metricsClient = &http.Client{Timeout: 2 * time.Second}

// scrapeHeap reads go_memstats_heap_inuse_bytes from a Prometheus text endpoint.
func scrapeHeap(url string) (int64, error) {
	resp, err := metricsClient.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f), err
		}
	}
	return 0, errors.New("no go_memstats_heap_inuse_bytes in " + url)
}
