// Package admin serves the operator's HTTP endpoints: /metrics, /healthz, /readyz, /debug/pprof/ and
// POST /admin/disconnect. It knows the broker only through the Broker interface; it runs on ordinary goroutines
// beside the event loops, for operators, not for clients.
package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Broker is what the endpoints need from the broker.
type Broker interface {
	// Ready reports whether the broker serves clients; /readyz answers 503 when it does not.
	Ready() bool
	// ShuttingDown reports whether the broker is stopping: its loops would never run a kick, and shutdown
	// disconnects everyone anyway.
	ShuttingDown() bool
	// Disconnect ends the connection of the connected client with this id, the way a server-initiated disconnect
	// does, and waits for it until ctx ends.
	Disconnect(ctx context.Context, clientID string) Result
	// DisconnectAll ends the connection of every connected client, and waits for them until ctx ends.
	DisconnectAll(ctx context.Context) Result
}

// Result is what a disconnect did; it is also the JSON answer of POST /admin/disconnect.
type Result struct {
	// Disconnected is how many connected clients were sent away.
	Disconnected int64 `json:"disconnected"`
	// Complete is false when the wait ran out before the broker reported on every client.
	Complete bool `json:"complete"`
}

// Timeout bounds how long POST /admin/disconnect waits for the broker; a kick not reported by then still happens,
// and the answer (202) says how many were done in time.
const Timeout = 10 * time.Second

// NewHandler returns the mux of the operator's endpoints: metrics from g, health and kicks from b.
func NewHandler(b Broker, g prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !b.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("/admin/disconnect", func(w http.ResponseWriter, r *http.Request) { disconnect(b, w, r) })
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// disconnect serves POST /admin/disconnect?client=ID and POST /admin/disconnect?all=1: 200 with a Result, 202
// when the wait ran out, 404 for a client that is not connected, 400, 405 or 503 for a request it refuses.
func disconnect(b Broker, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		// A state change must never ride on a GET a crawler or a browser prefetch could send.
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	if b.ShuttingDown() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	q := r.URL.Query()
	id, all := q.Get("client"), q.Get("all")
	if (id == "") == (all != "1") {
		http.Error(w, "give exactly one of client=ID or all=1", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), Timeout)
	defer cancel()
	var res Result
	if all == "1" {
		res = b.DisconnectAll(ctx)
	} else {
		res = b.Disconnect(ctx, id)
		if res.Complete && res.Disconnected == 0 {
			http.Error(w, "no connected client with that id", http.StatusNotFound)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if !res.Complete {
		w.WriteHeader(http.StatusAccepted)
	}
	json.NewEncoder(w).Encode(res)
}
