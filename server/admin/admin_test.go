package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeBroker records the kicks asked of it and answers with the results it was given.
type fakeBroker struct {
	ready, stopping bool
	known           map[string]bool // connected clients
	complete        bool
	kicked          []string // ids, "*" for all
}

func (f *fakeBroker) Ready() bool        { return f.ready }
func (f *fakeBroker) ShuttingDown() bool { return f.stopping }
func (f *fakeBroker) Disconnect(ctx context.Context, id string) Result {
	if _, ok := ctx.Deadline(); !ok {
		panic("Disconnect without a deadline")
	}
	f.kicked = append(f.kicked, id)
	if !f.known[id] {
		return Result{Complete: f.complete}
	}
	return Result{Disconnected: 1, Complete: f.complete}
}
func (f *fakeBroker) DisconnectAll(ctx context.Context) Result {
	if _, ok := ctx.Deadline(); !ok {
		panic("DisconnectAll without a deadline")
	}
	f.kicked = append(f.kicked, "*")
	return Result{Disconnected: int64(len(f.known)), Complete: f.complete}
}

func TestDisconnect(t *testing.T) {
	for _, tc := range []struct {
		name, method, query string
		stopping, slow      bool
		wantStatus          int
		wantKicked          string // "" when the broker must not be asked
		wantBody            string
	}{
		{name: "one client", method: "POST", query: "?client=a", wantStatus: 200, wantKicked: "a",
			wantBody: `{"disconnected":1,"complete":true}`},
		{name: "all", method: "POST", query: "?all=1", wantStatus: 200, wantKicked: "*",
			wantBody: `{"disconnected":2,"complete":true}`},
		{name: "unknown client", method: "POST", query: "?client=z", wantStatus: 404, wantKicked: "z"},
		{name: "unknown client, loops late", method: "POST", query: "?client=z", slow: true, wantStatus: 202,
			wantKicked: "z", wantBody: `{"disconnected":0,"complete":false}`},
		{name: "all, loops late", method: "POST", query: "?all=1", slow: true, wantStatus: 202, wantKicked: "*",
			wantBody: `{"disconnected":2,"complete":false}`},
		{name: "GET refused", method: "GET", query: "?all=1", wantStatus: 405},
		{name: "neither", method: "POST", query: "", wantStatus: 400},
		{name: "both", method: "POST", query: "?client=a&all=1", wantStatus: 400},
		{name: "all=0", method: "POST", query: "?all=0", wantStatus: 400},
		{name: "shutting down", method: "POST", query: "?all=1", stopping: true, wantStatus: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBroker{ready: true, stopping: tc.stopping, complete: !tc.slow,
				known: map[string]bool{"a": true, "b": true}}
			h := NewHandler(b, prometheus.NewRegistry())
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, "/admin/disconnect"+tc.query, nil))
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d (%q), want %d", rec.Code, rec.Body.String(), tc.wantStatus)
			}
			if got := strings.Join(b.kicked, ","); got != tc.wantKicked {
				t.Fatalf("broker asked to kick %q, want %q", got, tc.wantKicked)
			}
			if tc.wantBody != "" {
				if got := strings.TrimSpace(rec.Body.String()); got != tc.wantBody {
					t.Fatalf("body %s, want %s", got, tc.wantBody)
				}
				var res Result
				if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
					t.Fatal(err)
				}
			}
			if tc.wantStatus == 405 && rec.Header().Get("Allow") != "POST" {
				t.Fatalf("Allow %q, want POST", rec.Header().Get("Allow"))
			}
		})
	}
}

func TestHealthReadyMetricsPprof(t *testing.T) {
	b := &fakeBroker{}
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "loopmq_test_gauge", Help: "test"},
		func() float64 { return 42 }))
	srv := httptest.NewServer(NewHandler(b, reg))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Fatalf("/readyz before ready: %d, want 503", code)
	}
	b.ready = true
	if code, body := get("/readyz"); code != 200 || body != "ready\n" {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "loopmq_test_gauge 42") {
		t.Fatalf("/metrics: %d, body lacks the gauge:\n%s", code, body)
	}
	if code, body := get("/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("/debug/pprof/: %d", code)
	}
	if code, _ := get("/debug/pprof/cmdline"); code != 200 {
		t.Fatalf("/debug/pprof/cmdline: %d", code)
	}
}
