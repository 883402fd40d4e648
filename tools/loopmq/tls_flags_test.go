package main

import (
	"os"
	"path/filepath"
	"testing"

	"loopmq/server/tlslayer/tlstest"
)

// TestTLSFlags checks the TLS flags and their YAML keys, and that a flag wins over the file.
func TestTLSFlags(t *testing.T) {
	pk := tlstest.New(t)
	o, _, err := parseOptions([]string{"-tls", "127.0.0.1:9883", "-wss", "127.0.0.1:9884", "-tls-cert", pk.CertFile,
		"-tls-key", pk.KeyFile, "-tls-client-ca", pk.CAFile, "-tls-client-auth", "require", "-tls-min-version", "1.3"})
	if err != nil {
		t.Fatal(err)
	}
	if o.TLSAddr != "127.0.0.1:9883" || o.WSSAddr != "127.0.0.1:9884" || o.TLSCertFile != pk.CertFile ||
		o.TLSKeyFile != pk.KeyFile || o.TLSClientCAFile != pk.CAFile || o.TLSClientAuth != "require" || o.TLSMinVersion != "1.3" {
		t.Fatalf("options %+v", o)
	}
	cfg := filepath.Join(t.TempDir(), "tls.yaml")
	os.WriteFile(cfg, []byte("tls_addr: 127.0.0.1:7883\ntls_cert_file: "+pk.CertFile+"\ntls_key_file: "+pk.KeyFile+
		"\ntls_client_auth: request\ntls_client_ca_file: "+pk.CAFile+"\ntls_min_version: \"1.3\"\nwss_addr: \"\"\n"), 0o600)
	o, _, err = parseOptions([]string{"-config", cfg, "-tls-client-auth", "none"})
	if err != nil {
		t.Fatal(err)
	}
	if o.TLSAddr != "127.0.0.1:7883" || o.WSSAddr != "" || o.TLSClientAuth != "none" || o.TLSMinVersion != "1.3" || o.TLSCertFile != pk.CertFile {
		t.Fatalf("file then flags: %+v", o)
	}
	if _, _, err := parseOptions([]string{"-tls-cert", pk.CertFile}); err == nil {
		t.Fatal("a certificate without its key accepted")
	}
	if _, _, err := parseOptions([]string{"-tls-cert", pk.CertFile, "-tls-key", pk.KeyFile, "-tls-client-auth", "require"}); err == nil {
		t.Fatal("require without a CA file accepted")
	}
	d, _, _ := parseOptions(nil)
	if d.TLSAddr != ":8883" || d.WSSAddr != ":8084" || d.TLSCertFile != "" || d.TLSClientAuth != "none" || d.TLSMinVersion != "1.2" {
		t.Fatalf("defaults %+v", d)
	}
}
