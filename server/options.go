package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"loopmq/server/tlslayer"
	"loopmq/server/ws"
)

// Options configures a Server. The zero value is not useful: start from DefaultOptions and change what you need.
// Every field maps to a snake_case YAML key (see LoadOptionsFile) and most to a flag of bin/loopmq.
type Options struct {
	// TCPAddr is the MQTT-over-TCP listen address. Default ":1883". Empty disables the listener.
	TCPAddr string `yaml:"tcp_addr"`
	// WSAddr is the MQTT-over-WebSocket listen address. Default ":8083". Empty disables the listener.
	WSAddr string `yaml:"ws_addr"`
	// WSPath is the HTTP path on which WebSocket upgrades are accepted; other paths get 404. Default "/mqtt".
	WSPath string `yaml:"ws_path"`
	// WSAnyPath accepts WebSocket upgrades on any path. Default false.
	WSAnyPath bool `yaml:"ws_any_path"`
	// WSAllowNoSubprotocol accepts WebSocket clients that offer no Sec-WebSocket-Protocol (some embedded and
	// mini-program clients); without it they get 400. Default false.
	WSAllowNoSubprotocol bool `yaml:"ws_allow_no_subprotocol"`
	// WSOrigins lists the browser origins (scheme://host[:port], host compared case-insensitively) allowed to
	// connect over WebSocket; others get 403. Requests without an Origin header are always allowed. Default empty:
	// any origin.
	WSOrigins []string `yaml:"ws_origins"`
	// WSTrustedProxies lists the networks (CIDRs, or single addresses) of reverse proxies whose X-Forwarded-For and
	// X-Real-IP headers name the WebSocket client; that address is then the one logs, metrics and the
	// Authenticator see. Default empty: the headers are ignored.
	WSTrustedProxies []string `yaml:"ws_trusted_proxies"`
	// WSAcceptMQTT lets the WebSocket listener also serve raw MQTT on the same port, told apart by the first bytes
	// ("GET " starts a WebSocket upgrade). Default true.
	WSAcceptMQTT bool `yaml:"ws_accept_mqtt"`
	// TCPSniffWS lets the TCP listener also accept WebSocket upgrades on the same port. Default false.
	TCPSniffWS bool `yaml:"tcp_ws"`
	// TLSAddr is the MQTT-over-TLS listen address, served only when TLSCertFile is set. Default ":8883". The same
	// address as TCPAddr (or WSAddr) makes that one listener serve both, told apart by the first byte (0x16 starts
	// a TLS handshake).
	TLSAddr string `yaml:"tls_addr"`
	// WSSAddr is the MQTT-over-WebSocket-over-TLS listen address (path WSPath), served only when TLSCertFile is
	// set. Default ":8084".
	WSSAddr string `yaml:"wss_addr"`
	// TLSCertFile and TLSKeyFile are the server's certificate (a chain in the file is sent whole) and private key,
	// PEM. Both empty (default): no TLS listener.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// TLSClientCAFile is the PEM file of the CAs that client certificates must chain to.
	TLSClientCAFile string `yaml:"tls_client_ca_file"`
	// TLSClientAuth is "none" (default: no client certificate asked), "request" (verified when sent) or
	// "require" (a client without a valid certificate is refused). request and require need TLSClientCAFile.
	TLSClientAuth string `yaml:"tls_client_auth"`
	// TLSMinVersion is the oldest TLS version accepted: "1.2" (default) or "1.3".
	TLSMinVersion string `yaml:"tls_min_version"`
	// ProxyProtocol reads a PROXY protocol (v1 or v2) header at the start of every connection on every listener:
	// "off" (no header is read), "optional" (a header is read when there is one) or "required" (a connection
	// without one is closed). The header's source address is then the client's address. Default "off".
	ProxyProtocol string `yaml:"proxy_protocol"`
	// ProxyTrustedCIDRs lists the networks (CIDRs, or single addresses) of the proxies allowed to send a PROXY
	// header; a header from any other peer closes the connection. Required when ProxyProtocol is not "off".
	ProxyTrustedCIDRs []string `yaml:"proxy_trusted_cidrs"`
	// HTTPAddr serves /metrics, /healthz, /readyz and /debug/pprof/. Default "127.0.0.1:8080". Empty disables it.
	HTTPAddr string `yaml:"http_addr"`

	// MaxPacketSize is the largest MQTT packet accepted, in bytes (whole packet). Default 1 MiB. Larger packets are
	// refused from their fixed header: v5 clients get DISCONNECT 0x95, others are closed. Advertised in v5 CONNACK.
	MaxPacketSize int `yaml:"max_packet_size"`
	// MaxConnections caps concurrent network connections; 0 means no limit. Default 0.
	MaxConnections int `yaml:"max_connections"`
	// ConnectTimeout is how long a new connection may take to send CONNECT. Default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxKeepAlive, when nonzero, caps the keep alive of MQTT 5 clients: those asking for more (or for 0) get the
	// Server Keep Alive property and are held to it. MQTT 3.x has no way to tell a client, so 3.x clients keep the
	// keep alive they asked for. Default 0 (accept what clients ask).
	MaxKeepAlive time.Duration `yaml:"max_keep_alive"`
	// ReceiveMaximum is how many QoS 1 and 2 publishes a client may have unacknowledged towards the broker
	// (advertised in v5 CONNACK; exceeding it is DISCONNECT 0x93). Default 64.
	ReceiveMaximum int `yaml:"receive_maximum"`
	// MaxInflight caps outbound unacknowledged QoS 1 and 2 messages per client, below the client's own Receive
	// Maximum. Default 64.
	MaxInflight int `yaml:"max_inflight"`
	// MaxQueuedMessages caps QoS 1 and 2 messages queued per session while the client is offline or its inflight
	// window is full. For a connected client, a message past it is still queued but its publisher's PUBACK
	// (PUBREC) is held until the queue drains to three quarters of the limit, so publishers are paced and nothing
	// acknowledged is lost. For an offline session, a message past it is dropped and counted (MQTT 5 publishers
	// get reason 0x97 Quota exceeded). Default 1000.
	MaxQueuedMessages int `yaml:"max_queued_messages"`
	// SlowConsumerTimeout disconnects a connected client whose session queue is over MaxQueuedMessages and that
	// has acknowledged nothing for this long (MQTT 5: DISCONNECT 0x97), so a stuck subscriber cannot pace its
	// publishers for ever. 0 disables it. Default 10s.
	SlowConsumerTimeout time.Duration `yaml:"slow_consumer_timeout"`
	// MaxSubscriptionsPerClient caps the subscriptions of one session; a SUBSCRIBE beyond it gets reason 0x97
	// Quota exceeded (v5) or 0x80 (3.x) for the filters over the cap. 0 means no limit. Default 10000.
	MaxSubscriptionsPerClient int `yaml:"max_subscriptions_per_client"`
	// OutboundHighWater is the number of bytes waiting to be written to a connection beyond which QoS 0 messages
	// are dropped (and counted) and QoS 1 and 2 messages stay queued in the session. A connection whose backlog
	// still grows past 4 × OutboundHighWater is closed. Default 1 MiB.
	OutboundHighWater int `yaml:"outbound_high_water"`
	// MaxSessionExpiry caps the Session Expiry Interval a v5 client may ask for, and is the expiry of v3
	// persistent sessions (clean session 0). Default 0, meaning no cap (v3 persistent sessions never expire).
	MaxSessionExpiry time.Duration `yaml:"max_session_expiry"`
	// MaxRetainedMessages caps the number of retained messages; 0 means no limit. Default 0. A retained publish
	// beyond the cap is still delivered but not retained (counted as dropped).
	MaxRetainedMessages int `yaml:"max_retained_messages"`
	// MaxRetainedBytes caps the total payload bytes of retained messages; 0 means no limit. Default 0.
	MaxRetainedBytes int64 `yaml:"max_retained_bytes"`
	// TopicAliasMaximum is the highest topic alias a v5 client may use towards the broker (CONNACK property).
	// 0 disables inbound topic aliases. Default 64.
	TopicAliasMaximum int `yaml:"topic_alias_maximum"`
	// EventLoops is the number of gnet event loops; 0 means GOMAXPROCS. Default 0.
	EventLoops int `yaml:"event_loops"`
	// SysInterval is the period of $SYS/broker/... publications; 0 disables them. Default 10s.
	SysInterval time.Duration `yaml:"sys_interval"`
	// LogLevel is one of debug, info, warn, error. Default "info".
	LogLevel string `yaml:"log_level"`
	// LogFormat is "text" or "json". Default "text".
	LogFormat string `yaml:"log_format"`

	// PasswordFile is a Mosquitto password file (mosquitto_passwd or `loopmq passwd` output: $7$ PBKDF2-SHA512,
	// $6$ SHA-512 and $8$ Argon2id entries). When set, clients must send a user name and its password; checks run
	// on a worker pool, never on an event loop. A file that cannot be read stops the broker at start, with its
	// file:line. Re-read on SIGHUP (Server.ReloadAuth). Default empty: no password check.
	PasswordFile string `yaml:"password_file"`
	// AllowAnonymous lets clients that send no user name connect when PasswordFile is set (they get the ACL's
	// anonymous section). Without PasswordFile it has no effect: everyone may connect. Default false.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// ACLFile is a Mosquitto ACL file (topic, user and pattern lines with %c and %u). When set, every PUBLISH, every
	// delivery (retained ones included) and the will are checked against the client's rights, compiled once per
	// connection. An empty file denies everything. Re-read on SIGHUP. Default empty: no topic checks.
	ACLFile string `yaml:"acl_file"`

	// Logger, when set, is used instead of one built from LogLevel and LogFormat (library use).
	Logger *slog.Logger `yaml:"-"`
	// Authenticator decides whether a CONNECT is accepted. Default AllowAll.
	Authenticator Authenticator `yaml:"-"`

	// testHook, when set, runs at the end of New (tests plug transport layers in with it).
	testHook func(*Server)
}

// DefaultOptions returns the documented defaults.
func DefaultOptions() Options {
	return Options{
		TCPAddr:                   ":1883",
		WSAddr:                    ":8083",
		WSPath:                    "/mqtt",
		WSAcceptMQTT:              true,
		TLSAddr:                   ":8883",
		WSSAddr:                   ":8084",
		TLSClientAuth:             "none",
		TLSMinVersion:             "1.2",
		ProxyProtocol:             "off",
		HTTPAddr:                  "127.0.0.1:8080",
		MaxPacketSize:             1 << 20,
		ConnectTimeout:            10 * time.Second,
		ReceiveMaximum:            64,
		MaxInflight:               64,
		MaxQueuedMessages:         1000,
		SlowConsumerTimeout:       10 * time.Second,
		MaxSubscriptionsPerClient: 10000,
		OutboundHighWater:         1 << 20,
		TopicAliasMaximum:         64,
		SysInterval:               10 * time.Second,
		LogLevel:                  "info",
		LogFormat:                 "text",
	}
}

// maxWirePacket is the largest packet MQTT can express: a 4-byte remaining length of 268,435,455 plus 5 header bytes.
const maxWirePacket = 268435455 + 5

// Validate reports the first option that is out of range.
func (o *Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.TCPAddr == "" && o.WSAddr == "" && (!o.tlsOn() || o.TLSAddr == "" && o.WSSAddr == "") {
		bad("tcp_addr and ws_addr are both empty (and no TLS listener): nothing to listen on")
	}
	if o.tlsOn() {
		if _, _, err := o.tlsConfigs(); err != nil {
			errs = append(errs, err)
		}
		if o.WSSAddr != "" && (o.WSSAddr == o.TCPAddr || o.WSSAddr == o.WSAddr || o.WSSAddr == o.TLSAddr) {
			bad("wss_addr %q is another listener's address; only tls_addr may share one (with tcp_addr or ws_addr)", o.WSSAddr)
		}
	} else if o.TLSKeyFile != "" || o.TLSClientCAFile != "" {
		bad("tls_key_file or tls_client_ca_file set without tls_cert_file")
	}
	if o.WSPath == "" || o.WSPath[0] != '/' {
		bad("ws_path %q must start with /", o.WSPath)
	}
	if _, err := o.wsConfig(); err != nil {
		errs = append(errs, err)
	}
	if _, err := o.proxyConfig(); err != nil {
		errs = append(errs, err)
	}
	if o.MaxPacketSize < 64 || o.MaxPacketSize > maxWirePacket {
		bad("max_packet_size %d out of range [64, %d]", o.MaxPacketSize, maxWirePacket)
	}
	if o.MaxConnections < 0 {
		bad("max_connections %d is negative", o.MaxConnections)
	}
	if o.ConnectTimeout <= 0 {
		bad("connect_timeout %v must be positive", o.ConnectTimeout)
	}
	if o.MaxKeepAlive < 0 || o.MaxKeepAlive > 65535*time.Second {
		bad("max_keep_alive %v out of range [0, 65535s]", o.MaxKeepAlive)
	}
	if o.ReceiveMaximum < 1 || o.ReceiveMaximum > 65535 {
		bad("receive_maximum %d out of range [1, 65535]", o.ReceiveMaximum)
	}
	if o.MaxInflight < 1 || o.MaxInflight > 65535 {
		bad("max_inflight %d out of range [1, 65535]", o.MaxInflight)
	}
	if o.MaxQueuedMessages < 0 {
		bad("max_queued_messages %d is negative", o.MaxQueuedMessages)
	}
	if o.MaxSubscriptionsPerClient < 0 {
		bad("max_subscriptions_per_client %d is negative", o.MaxSubscriptionsPerClient)
	}
	if o.SlowConsumerTimeout < 0 {
		bad("slow_consumer_timeout %s is negative", o.SlowConsumerTimeout)
	}
	if o.OutboundHighWater < 1024 {
		bad("outbound_high_water %d below 1024", o.OutboundHighWater)
	}
	if o.MaxSessionExpiry < 0 || o.MaxSessionExpiry > 0xFFFFFFFF*time.Second {
		bad("max_session_expiry %v out of range", o.MaxSessionExpiry)
	}
	if o.MaxRetainedMessages < 0 || o.MaxRetainedBytes < 0 {
		bad("retained limits must not be negative")
	}
	if o.TopicAliasMaximum < 0 || o.TopicAliasMaximum > 65535 {
		bad("topic_alias_maximum %d out of range [0, 65535]", o.TopicAliasMaximum)
	}
	if o.EventLoops < 0 || o.EventLoops > 4*runtime.NumCPU()+256 {
		bad("event_loops %d out of range", o.EventLoops)
	}
	if o.SysInterval < 0 {
		bad("sys_interval %v is negative", o.SysInterval)
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if o.PasswordFile != "" && o.Authenticator != nil {
		bad("password_file and a custom Authenticator cannot both be set")
	}
	if o.LogFormat != "text" && o.LogFormat != "json" {
		bad("log_format %q must be text or json", o.LogFormat)
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log_level %q must be debug, info, warn or error", s)
}

// LoadOptionsFile reads a YAML file onto o: keys present in the file replace the fields, others keep their value.
// Unknown keys are an error, so a typo does not silently fall back to a default. Durations are Go durations
// ("10s", "1m30s").
func (o *Options) LoadOptionsFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return o.LoadYAML(b)
}

// LoadYAML is LoadOptionsFile for bytes already in memory.
func (o *Options) LoadYAML(b []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(o); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// tlsOn says the TLS listeners are served: a certificate is configured.
func (o *Options) tlsOn() bool { return o.TLSCertFile != "" }

// tlsConfigs loads the certificate and the client CAs and builds the TLS configurations of the MQTT listener (ALPN
// "mqtt") and of the WebSocket one (ALPN "http/1.1"), sharing one Certs.
func (o *Options) tlsConfigs() (mqtt, wss *tlslayer.Config, err error) {
	if o.TLSKeyFile == "" {
		return nil, nil, errors.New("tls_cert_file is set but tls_key_file is not")
	}
	certs, err := tlslayer.LoadCerts(o.TLSCertFile, o.TLSKeyFile)
	if err != nil {
		return nil, nil, err
	}
	opt := tlslayer.Options{Certs: certs}
	if opt.ClientAuth, err = tlslayer.ParseClientAuth(o.TLSClientAuth); err != nil {
		return nil, nil, err
	}
	if opt.MinVersion, err = tlslayer.ParseMinVersion(o.TLSMinVersion); err != nil {
		return nil, nil, err
	}
	if o.TLSClientCAFile != "" {
		if opt.ClientCAs, err = tlslayer.LoadCAPool(o.TLSClientCAFile); err != nil {
			return nil, nil, fmt.Errorf("tls_client_ca_file: %w", err)
		}
	}
	opt.ALPN = []string{"mqtt"}
	if mqtt, err = tlslayer.NewConfig(opt); err != nil {
		return nil, nil, err
	}
	opt.ALPN = []string{"http/1.1"}
	wss, err = tlslayer.NewConfig(opt)
	return mqtt, wss, err
}

// wsConfig builds the WebSocket policy from the options, checking origins and proxy networks.
func (o *Options) wsConfig() (ws.Config, error) {
	cfg := ws.Config{
		Path:               o.WSPath,
		AnyPath:            o.WSAnyPath,
		AllowNoSubprotocol: o.WSAllowNoSubprotocol,
	}
	for _, origin := range o.WSOrigins {
		origin = strings.TrimSpace(origin)
		u, err := url.Parse(origin)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" ||
			u.User != nil || u.Fragment != "" {
			return cfg, fmt.Errorf("ws_origins: %q is not an origin (scheme://host[:port])", origin)
		}
		cfg.AllowedOrigins = append(cfg.AllowedOrigins, strings.TrimSuffix(origin, "/"))
	}
	for _, s := range o.WSTrustedProxies {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			cfg.TrustedProxies = append(cfg.TrustedProxies, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return cfg, fmt.Errorf("ws_trusted_proxies: %q is neither a CIDR nor an address", s)
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, netip.PrefixFrom(a, a.BitLen()))
	}
	return cfg, nil
}
