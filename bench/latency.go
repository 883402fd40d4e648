package bench

import (
	"encoding/json"
	"sync"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histograms record microseconds from 1 µs to 5 minutes with 3 significant digits.
const (
	histMin    = 1
	histMax    = 300_000_000
	histDigits = 3
)

// Histogram is a concurrency-safe HDR histogram of durations in microseconds. Recorders that take
// many samples batch them through a local buffer (see recorder) so the lock is taken once per batch.
// It marshals to JSON as the compressed HdrHistogram V2 encoding, so worker processes can ship it and
// the coordinator merges it losslessly.
type Histogram struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(histMin, histMax, histDigits)}
}

// Record adds one value in microseconds; values outside the range are clamped to it.
func (h *Histogram) Record(us int64) {
	h.mu.Lock()
	h.h.RecordValue(clampMicros(us))
	h.mu.Unlock()
}

func clampMicros(us int64) int64 { return min(max(us, histMin), histMax) }

func (h *Histogram) recordBatch(us []int64) {
	h.mu.Lock()
	for _, v := range us {
		h.h.RecordValue(v)
	}
	h.mu.Unlock()
}

// Merge adds every value of o into h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil {
		return
	}
	o.mu.Lock()
	c := o.h.Export()
	o.mu.Unlock()
	h.mu.Lock()
	h.h.Merge(hdrhistogram.Import(c))
	h.mu.Unlock()
}

// Summary returns the percentiles a report prints.
func (h *Histogram) Summary() Percentiles {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.h.TotalCount() == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: h.h.TotalCount(),
		Min:   h.h.Min(),
		Mean:  h.h.Mean(),
		P50:   h.h.ValueAtQuantile(50),
		P90:   h.h.ValueAtQuantile(90),
		P99:   h.h.ValueAtQuantile(99),
		P999:  h.h.ValueAtQuantile(99.9),
		Max:   h.h.Max(),
	}
}

// MarshalJSON encodes the histogram as a JSON string holding the HdrHistogram V2 compressed form.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	h.mu.Lock()
	b, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	h.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return json.Marshal(string(b))
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.h = d
	h.mu.Unlock()
	return nil
}

// Percentiles summarises a histogram, in microseconds.
type Percentiles struct {
	Count int64   `json:"count"`
	Min   int64   `json:"min_us"`
	Mean  float64 `json:"mean_us"`
	P50   int64   `json:"p50_us"`
	P90   int64   `json:"p90_us"`
	P99   int64   `json:"p99_us"`
	P999  int64   `json:"p999_us"`
	Max   int64   `json:"max_us"`
}

// recorder buffers one goroutine's samples for a shared Histogram.
type recorder struct {
	h   *Histogram
	buf []int64
}

func newRecorder(h *Histogram) *recorder { return &recorder{h: h, buf: make([]int64, 0, 256)} }

func (r *recorder) record(us int64) {
	r.buf = append(r.buf, clampMicros(us))
	if len(r.buf) == cap(r.buf) {
		r.flush()
	}
}

func (r *recorder) flush() {
	if len(r.buf) > 0 {
		r.h.recordBatch(r.buf)
		r.buf = r.buf[:0]
	}
}
