package auth

import (
	"crypto/pbkdf2"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// The hash kinds a Mosquitto password file holds. The names are the prefixes Mosquitto writes.
const (
	kindSHA512   = 6 // "$6$salt$hash": SHA-512 over password then salt (Mosquitto 1.x)
	kindPBKDF2   = 7 // "$7$iterations$salt$hash": PBKDF2-HMAC-SHA512 (mosquitto_passwd 2.0 default)
	kindArgon2id = 8 // "$argon2id$v=19$m=..,t=..,p=..$salt$hash": libargon2's encoding (mosquitto_passwd 2.1 default)
)

// Defaults of mosquitto_passwd 2.0 (src/password_mosq.h: SALT_LEN 12, PW_DEFAULT_ITERATIONS 101). Set
// writes entries with these, so a file stays byte-for-byte in the shape mosquitto_passwd produces.
const (
	DefaultIterations = 101
	saltLen           = 12
	hashLen           = 64 // SHA-512 output; Mosquitto refuses any other length
	saltLen21         = 64 // Mosquitto 2.1 writes 64-byte salts and also reads them
)

// hash is one decoded password entry.
type hash struct {
	kind       uint8
	iterations int    // PBKDF2 rounds, or Argon2 time cost
	memory     uint32 // Argon2 memory in KiB
	threads    uint8  // Argon2 parallelism
	salt       []byte
	sum        []byte
}

// parseHash decodes the part after the colon. It returns a message naming the broken rule, or "".
func parseHash(s string) (hash, string) {
	switch {
	case strings.HasPrefix(s, "$6$"):
		f := strings.Split(s[3:], "$")
		if len(f) != 2 {
			return hash{}, "a $6$ entry has the form $6$salt$hash"
		}
		h := hash{kind: kindSHA512}
		var msg string
		if h.salt, msg = decodeSalt(f[0]); msg != "" {
			return hash{}, msg
		}
		if h.sum, msg = decodeSum(f[1]); msg != "" {
			return hash{}, msg
		}
		return h, ""
	case strings.HasPrefix(s, "$7$"):
		f := strings.Split(s[3:], "$")
		if len(f) != 3 {
			return hash{}, "a $7$ entry has the form $7$iterations$salt$hash"
		}
		n, err := strconv.ParseInt(f[0], 10, 32)
		if err != nil || n < 1 {
			return hash{}, "PBKDF2 iterations must be a whole number from 1 to 2147483647"
		}
		h := hash{kind: kindPBKDF2, iterations: int(n)}
		var msg string
		if h.salt, msg = decodeSalt(f[1]); msg != "" {
			return hash{}, msg
		}
		if h.sum, msg = decodeSum(f[2]); msg != "" {
			return hash{}, msg
		}
		return h, ""
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s[len("$argon2id$"):])
	case strings.HasPrefix(s, "$"):
		return hash{}, "unknown hash type (want $6$, $7$ or $argon2id$)"
	}
	return hash{}, "password is not hashed (run mosquitto_passwd -U or loopmq passwd)"
}

// parseArgon2id decodes "v=19$m=47104,t=1,p=1$salt$hash" (the PHC string format libargon2 writes,
// salt and hash in unpadded base64).
func parseArgon2id(s string) (hash, string) {
	f := strings.Split(s, "$")
	if len(f) != 4 {
		return hash{}, "an argon2id entry has the form $argon2id$v=19$m=M,t=T,p=P$salt$hash"
	}
	if f[0] != "v=19" {
		return hash{}, "only Argon2 version 19 (v=19) is supported"
	}
	h := hash{kind: kindArgon2id}
	params := strings.Split(f[1], ",")
	if len(params) != 3 || !strings.HasPrefix(params[0], "m=") || !strings.HasPrefix(params[1], "t=") ||
		!strings.HasPrefix(params[2], "p=") {
		return hash{}, "argon2id parameters must read m=M,t=T,p=P"
	}
	m, errM := strconv.ParseUint(params[0][2:], 10, 32)
	t, errT := strconv.ParseUint(params[1][2:], 10, 32)
	p, errP := strconv.ParseUint(params[2][2:], 10, 8)
	if errM != nil || errT != nil || errP != nil || t < 1 || p < 1 || m < 8*p {
		return hash{}, "argon2id parameters out of range (t >= 1, 1 <= p <= 255, m >= 8p)"
	}
	h.memory, h.iterations, h.threads = uint32(m), int(t), uint8(p)
	var err error
	if h.salt, err = decodeBase64(f[2]); err != nil || len(h.salt) < 8 {
		return hash{}, "argon2id salt is not base64 of at least 8 bytes"
	}
	if h.sum, err = decodeBase64(f[3]); err != nil || len(h.sum) < 4 {
		return hash{}, "argon2id hash is not base64 of at least 4 bytes"
	}
	return h, ""
}

func decodeSalt(s string) ([]byte, string) {
	b, err := decodeBase64(s)
	if err != nil || (len(b) != saltLen && len(b) != saltLen21) {
		return nil, "salt is not base64 of 12 (or 64) bytes"
	}
	return b, ""
}

func decodeSum(s string) ([]byte, string) {
	b, err := decodeBase64(s)
	if err != nil || len(b) != hashLen {
		return nil, "hash is not base64 of 64 bytes"
	}
	return b, ""
}

// decodeBase64 accepts standard base64 with or without padding: mosquitto_passwd pads, libargon2 does not.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// verify hashes password with h's parameters and compares in constant time.
func (h *hash) verify(password []byte) bool {
	var sum []byte
	switch h.kind {
	case kindSHA512:
		d := sha512.New()
		d.Write(password)
		d.Write(h.salt)
		sum = d.Sum(nil)
	case kindPBKDF2:
		var err error
		sum, err = pbkdf2.Key(sha512.New, string(password), h.salt, h.iterations, len(h.sum))
		if err != nil {
			return false
		}
	case kindArgon2id:
		sum = argon2.IDKey(password, h.salt, uint32(h.iterations), h.memory, h.threads, uint32(len(h.sum)))
	default:
		return false
	}
	return subtle.ConstantTimeCompare(sum, h.sum) == 1
}

// encodePBKDF2 formats a $7$ entry exactly as mosquitto_passwd 2.0 prints it.
func encodePBKDF2(password, salt []byte, iterations int) (string, error) {
	sum, err := pbkdf2.Key(sha512.New, string(password), salt, iterations, hashLen)
	if err != nil {
		return "", err
	}
	return "$7$" + strconv.Itoa(iterations) + "$" + base64.StdEncoding.EncodeToString(salt) + "$" +
		base64.StdEncoding.EncodeToString(sum), nil
}
