// Package testenv finds the programs that tests run beside the Go code (mosquitto-clients, mosquitto). .ci/run
// installs every one of them, so a missing program fails the test, with the name of the Debian package to install;
// only under -short is it skipped.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Command returns the path of the program name, looked up in PATH, then in the given fallback paths (Debian puts
// mosquitto in /usr/sbin, outside a user's PATH). When it is nowhere, the test fails and says to install the
// Debian package pkg, or is skipped under -short.
func Command(t testing.TB, name, pkg string, fallback ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, p := range fallback {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := name + " not found in PATH: this test needs it; install Debian's " + pkg +
		" (apt-get install " + pkg + "; .ci/run installs it)"
	if testing.Short() {
		t.Skip(msg)
	}
	t.Fatal(msg)
	return ""
}

// MosquittoClients returns the paths of mosquitto_sub and mosquitto_pub (Debian's mosquitto-clients).
func MosquittoClients(t testing.TB) (sub, pub string) {
	t.Helper()
	return Command(t, "mosquitto_sub", "mosquitto-clients"), Command(t, "mosquitto_pub", "mosquitto-clients")
}

// Mosquitto returns the path of the mosquitto broker (Debian's mosquitto), the reference peer of the harness.
func Mosquitto(t testing.TB) string {
	t.Helper()
	return Command(t, "mosquitto", "mosquitto", "/usr/sbin/mosquitto")
}

// HAProxy returns the path of haproxy (Debian's haproxy), the load balancer that sends PROXY protocol headers to
// the broker in tests.
func HAProxy(t testing.TB) string {
	t.Helper()
	return Command(t, "haproxy", "haproxy", "/usr/sbin/haproxy")
}
