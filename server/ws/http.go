package ws

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/gobwas/httphead"
)

// The HTTP/1.1 syntax an upgrade request needs (RFC 7230), read from and written to byte slices without
// allocating. Anything that is not well formed is refused rather than guessed at.

// requestLine splits "method SP request-target SP HTTP-version" (RFC 7230 §3.1.1) and returns the version as
// 10*major+minor; HTTP-version is "HTTP/" DIGIT "." DIGIT.
func requestLine(line []byte) (method, target []byte, version int, ok bool) {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return nil, nil, 0, false
	}
	method, line = line[:sp1], line[sp1+1:]
	sp2 := bytes.IndexByte(line, ' ')
	if sp2 <= 0 || !isToken(method) {
		return nil, nil, 0, false
	}
	target, v := line[:sp2], line[sp2+1:]
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return nil, nil, 0, false
	}
	return method, target, int(v[5]-'0')*10 + int(v[7]-'0'), true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// nextLine splits the first line off b, without its CRLF or LF.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// headerField splits a header line into its name and its value without surrounding whitespace. It refuses what
// RFC 7230 §3.2.4 tells a server to refuse: a folded line, whitespace before the colon, and control characters.
func headerField(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name = line[:colon]
	if !isToken(name) {
		return nil, nil, false
	}
	value = bytes.Trim(line[colon+1:], " \t")
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return nil, nil, false
		}
	}
	return name, value, true
}

// requestPath returns the path of an origin-form or absolute-form request target, without its query.
func requestPath(uri []byte) ([]byte, bool) {
	if !validTarget(uri) {
		return nil, false
	}
	if len(uri) > 0 && uri[0] != '/' {
		// absolute-form, as sent to proxies: scheme "://" authority path
		i := bytes.Index(uri, []byte("://"))
		if i <= 0 {
			return nil, false
		}
		uri = uri[i+3:]
		j := bytes.IndexByte(uri, '/')
		if j < 0 {
			return []byte("/"), true
		}
		uri = uri[j:]
	}
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	if len(uri) == 0 {
		return nil, false
	}
	return uri, true
}

// validTarget reports whether a request target holds only the characters RFC 3986 allows in a URI without a
// fragment, with each '%' starting a two-digit hex escape.
func validTarget(uri []byte) bool {
	for i := 0; i < len(uri); i++ {
		c := uri[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:@/?[]", c) >= 0:
		case c == '%' && i+2 < len(uri) && isHex(uri[i+1]) && isHex(uri[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// hasToken reports whether the comma-separated list value holds token, compared case-insensitively.
func hasToken(value []byte, token string) bool {
	for len(value) > 0 {
		var elem []byte
		elem, value = nextElement(value)
		if asciiEqualFold(elem, token) {
			return true
		}
	}
	return false
}

// nextElement splits the first element off a comma-separated header list (RFC 7230 §7), without the whitespace
// around it; empty elements come back empty, and recipients ignore them.
func nextElement(list []byte) (elem, rest []byte) {
	if i := bytes.IndexByte(list, ','); i >= 0 {
		elem, rest = list[:i], list[i+1:]
	} else {
		elem = list
	}
	return bytes.Trim(elem, " \t"), rest
}

// isToken reports whether b is empty (an ignored list element) or an RFC 7230 token.
func isToken(b []byte) bool {
	for _, c := range b {
		if !httphead.OctetTypes[c].IsToken() {
			return false
		}
	}
	return true
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// appendError appends a complete HTTP error response whose body is the reason, and which tells the client that the
// connection closes; a 426 names the WebSocket version this server speaks [RFC 6455 §4.2.2].
func appendError(dst []byte, e *UpgradeError) []byte {
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendInt(dst, int64(e.Status), 10)
	dst = append(dst, ' ')
	dst = append(dst, statusText(e.Status)...)
	dst = append(dst, "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n"...)
	if e.Status == 426 {
		dst = append(dst, "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"...)
	}
	dst = append(dst, "Content-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(e.Reason)+1), 10)
	dst = append(dst, "\r\n\r\n"...)
	dst = append(dst, e.Reason...)
	return append(dst, '\n')
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 426:
		return "Upgrade Required"
	case 431:
		return "Request Header Fields Too Large"
	}
	return "Error"
}
