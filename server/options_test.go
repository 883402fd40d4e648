package server

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultOptionsValid(t *testing.T) {
	o := DefaultOptions()
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.TCPAddr != ":1883" || o.WSAddr != ":8083" || o.WSPath != "/mqtt" || o.HTTPAddr != "127.0.0.1:8080" ||
		o.MaxPacketSize != 1<<20 || o.ConnectTimeout != 10*time.Second || o.ReceiveMaximum != 64 ||
		o.MaxQueuedMessages != 1000 || o.OutboundHighWater != 1<<20 || o.SysInterval != 10*time.Second {
		t.Fatalf("defaults differ from the documented ones: %+v", o)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
		errHas string // "" = valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"no listeners", func(o *Options) { o.TCPAddr, o.WSAddr = "", "" }, "nothing to listen on"},
		{"ws only", func(o *Options) { o.TCPAddr = "" }, ""},
		{"tiny packets", func(o *Options) { o.MaxPacketSize = 10 }, "max_packet_size"},
		{"huge packets", func(o *Options) { o.MaxPacketSize = 1 << 30 }, "max_packet_size"},
		{"receive maximum 0", func(o *Options) { o.ReceiveMaximum = 0 }, "receive_maximum"},
		{"receive maximum too big", func(o *Options) { o.ReceiveMaximum = 70000 }, "receive_maximum"},
		{"negative connections", func(o *Options) { o.MaxConnections = -1 }, "max_connections"},
		{"zero connect timeout", func(o *Options) { o.ConnectTimeout = 0 }, "connect_timeout"},
		{"keep alive too long", func(o *Options) { o.MaxKeepAlive = 70000 * time.Second }, "max_keep_alive"},
		{"alias maximum", func(o *Options) { o.TopicAliasMaximum = -1 }, "topic_alias_maximum"},
		{"log level", func(o *Options) { o.LogLevel = "loud" }, "log_level"},
		{"log format", func(o *Options) { o.LogFormat = "xml" }, "log_format"},
		{"ws path", func(o *Options) { o.WSPath = "mqtt" }, "ws_path"},
		{"two errors", func(o *Options) { o.ReceiveMaximum = 0; o.LogFormat = "xml" }, "log_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.mutate(&o)
			err := o.Validate()
			if tt.errHas == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %v, want one mentioning %q", err, tt.errHas)
			}
			if _, err := New(o); err == nil {
				t.Fatal("New accepted invalid options")
			}
		})
	}
}

func TestLoadOptionsFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		yaml  string
		check func(*Options) bool
		bad   bool
	}{
		{"empty file keeps defaults", "", func(o *Options) bool { d := DefaultOptions(); return reflect.DeepEqual(*o, d) }, false},
		{"fields and durations", "tcp_addr: 127.0.0.1:1999\nmax_packet_size: 4096\nconnect_timeout: 3s\nmax_session_expiry: 1h\nlog_format: json\n",
			func(o *Options) bool {
				return o.TCPAddr == "127.0.0.1:1999" && o.MaxPacketSize == 4096 && o.ConnectTimeout == 3*time.Second &&
					o.MaxSessionExpiry == time.Hour && o.LogFormat == "json" && o.WSAddr == ":8083"
			}, false},
		{"disable a listener", "ws_addr: \"\"\nhttp_addr: \"\"\n", func(o *Options) bool { return o.WSAddr == "" && o.HTTPAddr == "" }, false},
		{"unknown key", "max_pakcet_size: 10\n", nil, true},
		{"wrong type", "max_packet_size: lots\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			o := DefaultOptions()
			err := o.LoadOptionsFile(path)
			if tt.bad {
				if err == nil {
					t.Fatal("accepted a bad file")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(&o) {
				t.Fatalf("options after loading: %+v", o)
			}
		})
	}
	o := DefaultOptions()
	if err := o.LoadOptionsFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestShutdownWithoutStart(t *testing.T) {
	s, err := New(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown before Start: %v", err)
	}
}

func TestStartFailsOnBusyPort(t *testing.T) {
	a := startBroker(t, nil)
	o := DefaultOptions()
	o.TCPAddr, o.WSAddr, o.HTTPAddr = a.TCPAddr(), "", ""
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err == nil {
		b.Shutdown(t.Context())
		t.Fatal("Start succeeded on a port in use")
	}
}
