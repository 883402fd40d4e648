package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

var (
	fuzzHTTPMethods = []string{"POST", "GET", "HEAD", "PUT", "DELETE", "OPTIONS"}
	fuzzHTTPPaths   = []string{"/admin/disconnect", "/healthz", "/readyz", "/metrics", "/admin/disconnect/", "/admin"}
)

// FuzzAdminHTTP sends requests with arbitrary query strings (and a choice of method and path) to the broker's
// real HTTP listener, as raw bytes on a TCP connection, with one MQTT client "victim" connected. Every request
// must get an HTTP answer within fuzzDeadline. For a well-formed request the answer must be exactly the
// documented one: POST /admin/disconnect?client=ID|all=1 is 200 with a JSON count and the victim's connection
// closed when it names the victim (or all), 404 for an id nobody uses, 400 unless exactly one of client and all=1
// is given, 405 for another method; the victim must stay connected whenever it was not named. A malformed request
// may also get 400. Afterwards /healthz answers and a fresh MQTT probe client works.
func FuzzAdminHTTP(f *testing.F) {
	for _, q := range []string{"client=victim", "all=1", "", "client=victim&all=1", "client=%76ictim", "all=1&all=0",
		"client=nobody", "client=victim;all=1", "all=%31", "client=a%zz", "client=&all=1", "all=true", "client=victim&client=x",
		"client=vic+tim", "client=victim%00", "a b", "client=victim\r\nX: y"} {
		f.Add(byte(0), byte(0), q)
	}
	f.Add(byte(1), byte(0), "all=1")
	f.Add(byte(2), byte(0), "client=victim")
	f.Add(byte(0), byte(1), "all=1")
	f.Add(byte(1), byte(3), "name[]=x")
	f.Add(byte(0), byte(4), "client=victim")
	h := newFuzzHarness(f, func(o *Options) { o.HTTPAddr = "127.0.0.1:0" })
	f.Fuzz(func(t *testing.T, mi, pi byte, query string) {
		method := fuzzHTTPMethods[int(mi)%len(fuzzHTTPMethods)]
		path := fuzzHTTPPaths[int(pi)%len(fuzzHTTPPaths)]
		victim := h.dial(t, "victim")
		defer victim.Close()

		target := path + "?" + query
		status, body := h.httpRequest(t, method, target)
		if strings.HasPrefix(status, "-") {
			t.Fatalf("%s %q: no HTTP answer: %s", method, target, status[1:])
		}
		code := 0
		fmt.Sscan(status, &code)
		_, err := url.ParseRequestURI(target)
		clean := err == nil && !strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == '#' })
		want, kicked := http.StatusOK, false
		switch {
		case path == "/admin/disconnect/" || path == "/admin":
			want = http.StatusNotFound
		case path != "/admin/disconnect":
		case method != "POST":
			want = http.StatusMethodNotAllowed
		default:
			q, _ := url.ParseQuery(query)
			id, all := q.Get("client"), q.Get("all")
			switch {
			case (id == "") == (all != "1"):
				want = http.StatusBadRequest
			case all == "1" || id == "victim":
				kicked = true
			default:
				want = http.StatusNotFound
			}
		}
		if !clean {
			// The server's own parser may refuse the request line.
			if code != want && code != http.StatusBadRequest {
				t.Fatalf("%s %q: status %d, want %d or 400", method, target, code, want)
			}
			kicked = false
			if code == want && want == http.StatusOK && path == "/admin/disconnect" {
				kicked = true
			}
		} else if code != want && !(kicked && code == http.StatusAccepted) {
			t.Fatalf("%s %q: status %d (%q), want %d", method, target, code, body, want)
		}
		if kicked {
			var res struct {
				Disconnected int64 `json:"disconnected"`
				Complete     bool  `json:"complete"`
			}
			if err := json.Unmarshal([]byte(body), &res); err != nil || res.Disconnected < 1 {
				t.Fatalf("%s %q: body %q (%v), want a count of at least 1", method, target, body, err)
			}
			victim.SetReadDeadline(time.Now().Add(fuzzDeadline))
			if _, err := victim.Read(make([]byte, 1)); err == nil {
				t.Fatalf("%s %q: the victim got bytes instead of a close", method, target)
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("%s %q: the victim's connection is still open after %v", method, target, fuzzDeadline)
			}
		} else {
			victim.send(pingreq)
			victim.expect(pingres)
		}
		if status, _ := h.httpRequest(t, "GET", "/healthz"); !strings.HasPrefix(status, "200") {
			t.Fatalf("after %s %q: /healthz %s", method, target, status)
		}
		h.probe(t)
	})
}

// httpRequest sends one raw HTTP/1.1 request to the broker's HTTP listener and returns the status line's code and
// text and the body, or "-" and the error when no answer came.
func (h *fuzzHarness) httpRequest(t *testing.T, method, target string) (string, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", h.s.HTTPAddr(), fuzzDeadline)
	if err != nil {
		t.Fatalf("dial http: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(fuzzDeadline))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: loopmq\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", method, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		return "-" + err.Error(), ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "-" + err.Error(), ""
	}
	return resp.Status, string(b)
}
