package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestWebSocketFlags checks the WebSocket flags and their YAML keys, and that a flag wins over the file.
func TestWebSocketFlags(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "ws.yaml")
	os.WriteFile(cfg, []byte("ws_origins: [\"https://a.example\"]\nws_trusted_proxies: [10.0.0.0/8]\nws_accept_mqtt: false\n"), 0o600)
	o, _, err := parseOptions([]string{"-ws", "127.0.0.1:9001", "-ws-path", "/ws", "-ws-any-path", "-ws-allow-no-subprotocol",
		"-ws-origins", "https://a.example, http://b.example:8080", "-ws-trusted-proxies", "10.0.0.0/8,192.168.1.1",
		"-ws-mqtt=false", "-tcp-ws"})
	if err != nil {
		t.Fatal(err)
	}
	if o.WSAddr != "127.0.0.1:9001" || o.WSPath != "/ws" || !o.WSAnyPath || !o.WSAllowNoSubprotocol || o.WSAcceptMQTT ||
		!o.TCPSniffWS || !reflect.DeepEqual(o.WSOrigins, []string{"https://a.example", "http://b.example:8080"}) ||
		!reflect.DeepEqual(o.WSTrustedProxies, []string{"10.0.0.0/8", "192.168.1.1"}) {
		t.Fatalf("options %+v", o)
	}
	o, _, err = parseOptions([]string{"-config", cfg, "-ws-origins", ""})
	if err != nil {
		t.Fatal(err)
	}
	if o.WSOrigins != nil || !reflect.DeepEqual(o.WSTrustedProxies, []string{"10.0.0.0/8"}) || o.WSAcceptMQTT {
		t.Fatalf("file then flags: %+v", o)
	}
	if _, _, err := parseOptions([]string{"-ws-trusted-proxies", "10.0.0.0/99"}); err == nil {
		t.Fatal("bad CIDR accepted")
	}
	d, _, _ := parseOptions(nil)
	if !d.WSAcceptMQTT || d.TCPSniffWS || d.WSAnyPath || d.WSAllowNoSubprotocol {
		t.Fatalf("defaults %+v", d)
	}
}
