package server

import (
	"io"
	"log/slog"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzLoadYAML loads arbitrary YAML onto the defaults, as bin/loopmq -config does. It must never panic; a file
// that loads and validates must give options New accepts, and those options must survive a round trip through
// YAML unchanged (what an operator reads back from a dump is what runs).
func FuzzLoadYAML(f *testing.F) {
	def := DefaultOptions()
	all, err := yaml.Marshal(&def)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(all)
	f.Add([]byte(""))
	f.Add([]byte("tcp_addr: 127.0.0.1:1883\nws_addr: \"\"\nlog_level: debug\n"))
	f.Add([]byte("connect_timeout: 1m30s\nmax_keep_alive: 65535s\nsys_interval: 0\nmax_session_expiry: 4294967295s\n"))
	f.Add([]byte("ws_origins: [\"https://example.com\", \"http://Localhost:8080/\"]\nws_trusted_proxies: [10.0.0.0/8, ::1]\n"))
	f.Add([]byte("ws_path: mqtt\n"))
	f.Add([]byte("proxy_protocol: required\nproxy_trusted_cidrs: [10.0.0.0/8, \"::ffff:10.0.0.0/104\", 192.0.2.1]\n"))
	f.Add([]byte("proxy_protocol: optional\n"))
	f.Add([]byte("proxy_protocol: on\nproxy_trusted_cidrs: [10.0.0.0/8]\n"))
	f.Add([]byte("max_packet_size: 268435460\nreceive_maximum: 0\n"))
	f.Add([]byte("max_packet_size: 1e3\n"))
	f.Add([]byte("tcp_adr: :1883\n"))
	f.Add([]byte("connect_timeout: 10\n"))
	f.Add([]byte("a: &x [1, 2]\nb: *x\n"))
	f.Add([]byte("event_loops: 4\n---\nevent_loops: -1\n"))
	f.Add([]byte("ws_origins: !!str x\n"))
	f.Add([]byte("{max_connections: -1, log_format: xml}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o := DefaultOptions()
		if err := o.LoadYAML(b); err != nil {
			return
		}
		if err := o.Validate(); err != nil {
			return
		}
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if _, err := New(o); err != nil {
			t.Fatalf("options validate but New refuses them: %v\n%s", err, b)
		}
		dump, err := yaml.Marshal(&o)
		if err != nil {
			t.Fatalf("valid options do not marshal: %v\n%s", err, b)
		}
		var back Options
		back.Logger = o.Logger
		if err := back.LoadYAML(dump); err != nil {
			t.Fatalf("dump of valid options does not load: %v\n%s", err, dump)
		}
		// A list left out and an empty list mean the same; YAML writes both as [].
		for _, l := range []*[]string{&o.WSOrigins, &o.WSTrustedProxies, &o.ProxyTrustedCIDRs, &back.WSOrigins, &back.WSTrustedProxies,
			&back.ProxyTrustedCIDRs} {
			if len(*l) == 0 {
				*l = nil
			}
		}
		if !reflect.DeepEqual(back, o) {
			t.Fatalf("options changed through YAML:\nloaded %+v\nagain  %+v\ndump:\n%s", o, back, dump)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("reloaded options do not validate: %v", err)
		}
	})
}
