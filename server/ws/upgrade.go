// Package ws upgrades HTTP connections to WebSocket and strips WebSocket framing in place, for MQTT over WebSocket.
//
// It is a transport layer for an event-loop broker: it starts no goroutines, never blocks and never allocates on
// the data path. Upgrade answers the opening handshake from the bytes already received [RFC 6455 §4.2]; a Deframer
// turns the client's masked frames into the MQTT byte stream they carry, inside the caller's buffer; PutFrameHeader
// and the Append* functions write server frames. Layer puts them together as a layer.Layer, the broker's seam for
// transports. The package knows nothing of MQTT beyond the names of its
// WebSocket subprotocols and the rule that MQTT travels in binary frames only [MQTT-6.0.0-1].
package ws

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"strings"
)

// DefaultPath is the request path Upgrade accepts when Config.Path is empty; MQTT.js, paho and EMQX use it.
const DefaultPath = "/mqtt"

// DefaultMaxHeaderBytes is the limit on the size of the upgrade request (request line and headers) when
// Config.MaxHeaderBytes is zero.
const DefaultMaxHeaderBytes = 8192

// Config is the WebSocket listener's policy for upgrade requests. Upgrade only reads it, so one Config may serve
// every event loop at once.
type Config struct {
	// Path is the request path (without the query) that may be upgraded; empty means DefaultPath. Another path is
	// answered with 404 Not Found.
	Path string
	// AnyPath accepts an upgrade on any request path.
	AnyPath bool
	// AllowNoSubprotocol accepts clients that offer no Sec-WebSocket-Protocol (some embedded and mini-program
	// clients); the 101 response then names no subprotocol. Without it such clients get 400 Bad Request.
	AllowNoSubprotocol bool
	// AllowedOrigins lists the origins (scheme://host[:port], compared case-insensitively) whose pages may connect;
	// a request from another origin gets 403 Forbidden. Empty allows any origin. Requests without an Origin header
	// (clients that are not browsers) are always allowed: the header only protects against foreign web pages.
	AllowedOrigins []string
	// TrustedProxies are the networks of reverse proxies and load balancers whose X-Forwarded-For and X-Real-IP
	// headers name the real client. The headers of any other peer are ignored, since a client can write them.
	TrustedProxies []netip.Prefix
	// MaxHeaderBytes bounds the upgrade request; past it the answer is 431 Request Header Fields Too Large. Zero
	// means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
}

var defaultConfig Config

// Result is the outcome of a complete upgrade request.
type Result struct {
	// Response is dst with the HTTP response appended: 101 Switching Protocols when OK, else an error status the
	// caller writes before closing the connection.
	Response []byte
	// OK reports whether the connection is now a WebSocket.
	OK bool
	// Status is the HTTP status code of Response.
	Status int
	// Consumed is the length of the request in buf; any bytes after it are the client's first WebSocket frames and
	// belong to the Deframer.
	Consumed int
	// Subprotocol is the subprotocol named in the response ("mqtt", "mqttv3.1", "mqttv3.1.1" or "mqtt-v5"), one the
	// client offered; empty when the client offered none and Config.AllowNoSubprotocol let it in.
	Subprotocol string
	// Client is the client's address: from X-Forwarded-For or X-Real-IP when the peer is a trusted proxy, else the
	// peer. An address from a header has port 0 unless the header gave one.
	Client netip.AddrPort
}

// UpgradeError is the reason an upgrade request was refused, with the HTTP status sent for it.
type UpgradeError struct {
	Status int
	Reason string
}

// Error returns the reason.
func (e *UpgradeError) Error() string { return "websocket upgrade: " + e.Reason }

// The errors Upgrade returns with a refusal; the reason is also the body of the HTTP response.
var (
	ErrRequestTooLarge = &UpgradeError{431, "request header fields too large"}
	ErrBadRequestLine  = &UpgradeError{400, "malformed request line"}
	ErrMethod          = &UpgradeError{400, "the opening handshake must be a GET request (RFC 6455 4.1)"}
	ErrHTTPVersion     = &UpgradeError{400, "the opening handshake needs HTTP/1.1 or higher (RFC 6455 4.1)"}
	ErrBadHeader       = &UpgradeError{400, "malformed header field"}
	ErrRequestBody     = &UpgradeError{400, "an upgrade request has no body: the bytes after it are WebSocket frames"}
	ErrNotFound        = &UpgradeError{404, "no WebSocket endpoint at this path"}
	ErrHost            = &UpgradeError{400, "exactly one Host header is required (RFC 7230 5.4)"}
	ErrUpgradeHeader   = &UpgradeError{400, "missing Upgrade: websocket (RFC 6455 4.2.1)"}
	ErrConnection      = &UpgradeError{400, "missing Connection: Upgrade (RFC 6455 4.2.1)"}
	ErrKey             = &UpgradeError{400, "Sec-WebSocket-Key must be one base64-encoded 16-byte value (RFC 6455 4.2.1)"}
	ErrVersion         = &UpgradeError{426, "unsupported Sec-WebSocket-Version; this server speaks version 13 (RFC 6455 4.2.2)"}
	ErrOrigin          = &UpgradeError{403, "origin not allowed"}
	ErrSubprotocol     = &UpgradeError{400, "no acceptable subprotocol; offer mqtt (MQTT 6.0)"}
)

// Upgrade answers the opening handshake of a WebSocket connection [RFC 6455 §4.2] from buf, all the bytes
// received so far on a new connection. It never blocks and keeps no state: while the request headers are not
// complete it returns need > 0, a lower bound of the bytes still missing, consumes nothing and should be called
// again with more bytes. Otherwise it appends the response to dst and returns it in res.Response; err is non-nil
// (an *UpgradeError) exactly when the request was refused, and then the caller writes the response and closes the
// connection. peer is the TCP peer's address. A nil cfg means the zero Config, the defaults.
func Upgrade(cfg *Config, buf []byte, peer netip.AddrPort, dst []byte) (res Result, need int, err error) {
	if cfg == nil {
		cfg = &defaultConfig
	}
	limit := cfg.MaxHeaderBytes
	if limit <= 0 {
		limit = DefaultMaxHeaderBytes
	}
	end := requestEnd(buf)
	switch {
	case end > limit || (end < 0 && len(buf) >= limit):
		return refuse(dst, len(buf), ErrRequestTooLarge)
	case end < 0:
		return Result{}, missingBytes(buf), nil
	}

	var req request
	if e := req.parse(cfg, buf[:end], peer); e != nil {
		return refuse(dst, end, e)
	}
	res = Result{OK: true, Status: 101, Consumed: end, Subprotocol: req.subprotocol, Client: req.client}
	res.Response = appendSwitchingProtocols(dst, req.key, req.subprotocol)
	return res, 0, nil
}

// requestEnd returns the length of the request line and headers in buf up to and including the empty line that
// ends them, or -1 when that line has not arrived. Lines end in CRLF; a bare LF is accepted as well, as RFC 7230
// §3.5 allows. Two vectorised substring searches keep a request that trickles in byte by byte cheap to re-check.
func requestEnd(buf []byte) int {
	end := -1
	if i := bytes.Index(buf, []byte("\n\r\n")); i >= 0 {
		end = i + 3
	}
	if i := bytes.Index(buf, []byte("\n\n")); i >= 0 && (end < 0 || i+2 < end) {
		end = i + 2
	}
	return end
}

// missingBytes is the fewest bytes that could complete the headers of buf.
func missingBytes(buf []byte) int {
	switch {
	case bytes.HasSuffix(buf, []byte("\n")), bytes.HasSuffix(buf, []byte("\n\r")):
		return 1
	default:
		return 2
	}
}

func refuse(dst []byte, consumed int, e *UpgradeError) (Result, int, error) {
	return Result{Response: appendError(dst, e), Status: e.Status, Consumed: consumed}, 0, e
}

// request is what Upgrade learns from the headers; its slices point into the caller's buffer.
type request struct {
	key         []byte
	subprotocol string
	client      netip.AddrPort
}

// Header presence counters, kept in one array to keep request small and the switch below short.
const (
	hHost = iota
	hUpgrade
	hConnection
	hKey
	hVersion
	hOrigin
	hCount
)

// parse validates the request line and headers in head (which ends with the empty line) per RFC 6455 §4.2.1.
func (r *request) parse(cfg *Config, head []byte, peer netip.AddrPort) *UpgradeError {
	line, rest := nextLine(head)
	method, target, version, ok := requestLine(line)
	switch {
	case !ok:
		return ErrBadRequestLine
	case string(method) != "GET":
		return ErrMethod
	case version < 11 || version > 19:
		return ErrHTTPVersion
	}
	path, ok := requestPath(target)
	if !ok {
		return ErrBadRequestLine
	}

	var (
		seen      [hCount]int
		versionOK bool
		origin    []byte
		offered   bool
		rank      = len(subprotocols)
		fwd       forwarded
		trusted   = trustedPeer(cfg.TrustedProxies, peer)
	)
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		name, value, ok := headerField(line)
		if !ok {
			return ErrBadHeader
		}
		switch {
		case asciiEqualFold(name, "Host"):
			seen[hHost]++
		case asciiEqualFold(name, "Upgrade"):
			if hasToken(value, "websocket") {
				seen[hUpgrade]++
			}
		case asciiEqualFold(name, "Connection"):
			if hasToken(value, "upgrade") {
				seen[hConnection]++
			}
		case asciiEqualFold(name, "Sec-WebSocket-Key"):
			seen[hKey]++
			r.key = value
		case asciiEqualFold(name, "Sec-WebSocket-Version"):
			seen[hVersion]++
			versionOK = string(value) == "13"
		case asciiEqualFold(name, "Sec-WebSocket-Protocol"):
			if len(value) == 0 {
				continue
			}
			offered = true
			for list := value; len(list) > 0; {
				var elem []byte
				elem, list = nextElement(list)
				if !isToken(elem) {
					return ErrBadHeader
				}
				for i, p := range subprotocols[:rank] {
					if string(elem) == p {
						rank = i
						break
					}
				}
			}
		case asciiEqualFold(name, "Content-Length"):
			if string(value) != "0" {
				return ErrRequestBody
			}
		case asciiEqualFold(name, "Transfer-Encoding"):
			return ErrRequestBody
		case asciiEqualFold(name, "Origin"):
			seen[hOrigin]++
			origin = value
		case trusted && asciiEqualFold(name, "X-Forwarded-For"):
			fwd.addList(value, cfg.TrustedProxies)
		case trusted && asciiEqualFold(name, "X-Real-IP"):
			fwd.realIP = value
		}
	}

	switch {
	case !cfg.AnyPath && string(path) != cmpOr(cfg.Path, DefaultPath):
		return ErrNotFound
	case seen[hHost] != 1:
		return ErrHost
	case seen[hUpgrade] == 0:
		return ErrUpgradeHeader
	case seen[hConnection] == 0:
		return ErrConnection
	case seen[hVersion] != 1 || !versionOK:
		return ErrVersion
	case seen[hKey] != 1 || !validKey(r.key):
		return ErrKey
	case seen[hOrigin] > 1 || (seen[hOrigin] == 1 && !originAllowed(cfg.AllowedOrigins, origin)):
		return ErrOrigin
	}
	switch {
	case rank < len(subprotocols):
		r.subprotocol = subprotocols[rank]
	case offered || !cfg.AllowNoSubprotocol:
		return ErrSubprotocol
	}
	r.client = peer
	if trusted {
		r.client = fwd.client(peer)
	}
	return nil
}

// subprotocols are the WebSocket subprotocols of MQTT in order of preference: "mqtt" is the name MQTT 3.1.1 and 5.0
// register [MQTT-6.0.0-3]; "mqttv3.1" is MQTT 3.1's; "mqttv3.1.1" and "mqtt-v5" are accepted as EMQX accepts them.
// Names are compared case-sensitively and the response repeats the client's own token.
var subprotocols = [...]string{"mqtt", "mqttv3.1", "mqttv3.1.1", "mqtt-v5"}

// validKey reports whether key is the base64 encoding of 16 bytes [RFC 6455 §4.1].
func validKey(key []byte) bool {
	var raw [18]byte
	if len(key) != 24 {
		return false
	}
	n, err := base64.StdEncoding.Decode(raw[:], key)
	return err == nil && n == 16
}

// originAllowed applies Config.AllowedOrigins to the Origin header's value.
func originAllowed(allowed []string, origin []byte) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, a := range allowed {
		if asciiEqualFold(origin, strings.TrimSuffix(a, "/")) {
			return true
		}
	}
	return false
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// appendSwitchingProtocols appends the 101 response that completes the handshake [RFC 6455 §4.2.2].
func appendSwitchingProtocols(dst, key []byte, subprotocol string) []byte {
	const magic = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
	var in [24 + len(magic)]byte
	copy(in[copy(in[:], key):], magic)
	sum := sha1.Sum(in[:])
	var accept [28]byte
	base64.StdEncoding.Encode(accept[:], sum[:])

	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = append(dst, accept[:]...)
	if subprotocol != "" {
		dst = append(dst, "\r\nSec-WebSocket-Protocol: "...)
		dst = append(dst, subprotocol...)
	}
	return append(dst, "\r\n\r\n"...)
}
