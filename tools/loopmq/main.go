// Command loopmq is the loopmq MQTT broker daemon: a thin main over package server.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"loopmq/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loopmq:", err)
		os.Exit(1)
	}
}

// daemonFlags are the flags of the process rather than of the broker.
type daemonFlags struct {
	profile    string // -profile: cpu, mem, mutex, block, goroutine or trace; "" for none
	profileDir string // -profile-dir
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "passwd" {
		return runPasswd(args[1:], os.Stdin, os.Stdout)
	}
	opts, d, err := parseOptions(args)
	if err != nil {
		return err
	}
	if d.profile != "" {
		defer startProfile(d.profile, d.profileDir)()
	}
	srv, err := server.New(opts)
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	for s := range sig {
		if s != syscall.SIGHUP {
			break
		}
		// SIGHUP reloads the TLS pair and the password and ACL files; each logs its result, and a broken file or
		// pair keeps the old one.
		if opts.TLSCertFile != "" {
			_ = srv.ReloadCertificates()
		}
		_ = srv.ReloadAuth()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// parseOptions builds the broker options: defaults, then the -config file, then the flags given on the command
// line (so a flag always wins over the file). It also returns the daemon's own flags.
func parseOptions(args []string) (server.Options, daemonFlags, error) {
	opts := server.DefaultOptions()
	var d daemonFlags
	fs := flag.NewFlagSet("loopmq", flag.ContinueOnError)
	fs.StringVar(&d.profile, "profile", "", "profile the process with github.com/pkg/profile: `mode` cpu, mem, mutex, block, goroutine or trace")
	fs.StringVar(&d.profileDir, "profile-dir", ".", "`directory` the profile is written to when the broker stops")
	config := fs.String("config", "", "YAML configuration `file` (keys as in docs/configuration.md; flags override it)")
	tcp := fs.String("tcp", opts.TCPAddr, "MQTT over TCP listen `address` (empty disables)")
	ws := fs.String("ws", opts.WSAddr, "MQTT over WebSocket listen `address` (empty disables)")
	wsPath := fs.String("ws-path", opts.WSPath, "WebSocket upgrade `path`")
	wsAnyPath := fs.Bool("ws-any-path", opts.WSAnyPath, "accept WebSocket upgrades on any path")
	wsNoSub := fs.Bool("ws-allow-no-subprotocol", opts.WSAllowNoSubprotocol,
		"accept WebSocket clients that offer no Sec-WebSocket-Protocol")
	wsOrigins := fs.String("ws-origins", "", "comma-separated browser `origins` allowed over WebSocket (default any)")
	wsProxies := fs.String("ws-trusted-proxies", "",
		"comma-separated `CIDRs` of proxies whose X-Forwarded-For/X-Real-IP name the WebSocket client")
	wsMQTT := fs.Bool("ws-mqtt", opts.WSAcceptMQTT, "the WebSocket listener also serves raw MQTT on its port")
	tcpWS := fs.Bool("tcp-ws", opts.TCPSniffWS, "the TCP listener also accepts WebSocket upgrades on its port")
	tlsAddr := fs.String("tls", opts.TLSAddr, "MQTT over TLS listen `address`, served when -tls-cert is set (empty disables)")
	wssAddr := fs.String("wss", opts.WSSAddr, "MQTT over WebSocket over TLS listen `address`, served when -tls-cert is set (empty disables)")
	tlsCert := fs.String("tls-cert", "", "TLS certificate `file` (PEM, a chain is sent whole); enables -tls and -wss")
	tlsKey := fs.String("tls-key", "", "TLS private key `file` (PEM)")
	tlsCA := fs.String("tls-client-ca", "", "`file` of the CAs client certificates must chain to (PEM)")
	tlsAuth := fs.String("tls-client-auth", opts.TLSClientAuth, "client certificates: `mode` none, request or require")
	tlsMin := fs.String("tls-min-version", opts.TLSMinVersion, "oldest TLS `version` accepted: 1.2 or 1.3")
	proxyProto := fs.String("proxy-protocol", opts.ProxyProtocol,
		"PROXY protocol header on every listener: `mode` off, optional or required")
	proxyCIDRs := fs.String("proxy-trusted-cidrs", "",
		"comma-separated `CIDRs` of the proxies allowed to send a PROXY header")
	httpAddr := fs.String("http", opts.HTTPAddr, "metrics, pprof and health `address` (empty disables)")
	pwFile := fs.String("password-file", opts.PasswordFile, "Mosquitto password `file` (mosquitto_passwd or loopmq passwd); re-read on SIGHUP")
	allowAnon := fs.Bool("allow-anonymous", opts.AllowAnonymous, "with -password-file, also accept clients that send no user name")
	aclFile := fs.String("acl-file", opts.ACLFile, "Mosquitto ACL `file` checked on publish, delivery and will; re-read on SIGHUP")
	level := fs.String("log-level", opts.LogLevel, "log `level`: debug, info, warn, error")
	format := fs.String("log-format", opts.LogFormat, "log `format`: text or json")
	if err := fs.Parse(args); err != nil {
		return opts, d, err
	}
	if fs.NArg() > 0 {
		return opts, d, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := checkProfileMode(d.profile); err != nil {
		return opts, d, err
	}
	if *config != "" {
		if err := opts.LoadOptionsFile(*config); err != nil {
			return opts, d, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "tcp":
			opts.TCPAddr = *tcp
		case "ws":
			opts.WSAddr = *ws
		case "ws-path":
			opts.WSPath = *wsPath
		case "ws-any-path":
			opts.WSAnyPath = *wsAnyPath
		case "ws-allow-no-subprotocol":
			opts.WSAllowNoSubprotocol = *wsNoSub
		case "ws-origins":
			opts.WSOrigins = splitList(*wsOrigins)
		case "ws-trusted-proxies":
			opts.WSTrustedProxies = splitList(*wsProxies)
		case "ws-mqtt":
			opts.WSAcceptMQTT = *wsMQTT
		case "tcp-ws":
			opts.TCPSniffWS = *tcpWS
		case "tls":
			opts.TLSAddr = *tlsAddr
		case "wss":
			opts.WSSAddr = *wssAddr
		case "tls-cert":
			opts.TLSCertFile = *tlsCert
		case "tls-key":
			opts.TLSKeyFile = *tlsKey
		case "tls-client-ca":
			opts.TLSClientCAFile = *tlsCA
		case "tls-client-auth":
			opts.TLSClientAuth = *tlsAuth
		case "tls-min-version":
			opts.TLSMinVersion = *tlsMin
		case "proxy-protocol":
			opts.ProxyProtocol = *proxyProto
		case "proxy-trusted-cidrs":
			opts.ProxyTrustedCIDRs = splitList(*proxyCIDRs)
		case "http":
			opts.HTTPAddr = *httpAddr
		case "password-file":
			opts.PasswordFile = *pwFile
		case "allow-anonymous":
			opts.AllowAnonymous = *allowAnon
		case "acl-file":
			opts.ACLFile = *aclFile
		case "log-level":
			opts.LogLevel = *level
		case "log-format":
			opts.LogFormat = *format
		}
	})
	return opts, d, opts.Validate()
}

// splitList splits a comma-separated flag value, dropping empty items, so "" means an empty list.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
