package auth

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Passwords is a Mosquitto password file in memory: one "user:hash" entry a line, with the file's other
// lines (comments, blank lines) kept so WriteFile gives them back unchanged.
//
// Check may be called from many goroutines at once. Set, Delete and WriteFile change or read the
// entries and must not run concurrently with anything else on the same value: to reload, load a new
// *Passwords and swap the pointer.
type Passwords struct {
	lines []pwLine
	users map[string]int // user name -> index in lines
}

// pwLine is one line of the file; h is nil for comments and blank lines, which are kept as text.
type pwLine struct {
	text string
	user string
	h    *hash
}

// LoadPasswordFile reads a password file written by mosquitto_passwd (any version) or by WriteFile.
func LoadPasswordFile(path string) (*Passwords, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePasswords(path, data)
}

// ParsePasswords reads a password file's contents; name appears in errors.
//
// Lines are read as Mosquitto's broker reads them (src/security_default.c, pwfile__parse): a line
// starting with '#' is a comment, the user name is what precedes the first ':', the hash what follows
// it up to the next ':', both trimmed of white space; CR LF line ends are accepted. Unlike Mosquitto,
// which logs a broken entry and drops that user, any line that is not blank, a comment or a valid
// entry is an error naming the line, as is a user listed twice (Mosquitto would keep one at random).
func ParsePasswords(name string, data []byte) (*Passwords, error) {
	p := &Passwords{users: make(map[string]int)}
	for n := 1; len(data) > 0; n++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		if z := bytes.IndexByte(line, 0); z >= 0 {
			line = line[:z] // Mosquitto reads the line as a C string
		}
		text := string(bytes.TrimRight(line, "\r"))
		trimmed := strings.Trim(text, cSpace)
		if trimmed == "" || trimmed[0] == '#' {
			p.lines = append(p.lines, pwLine{text: text})
			continue
		}
		user, rest, found := strings.Cut(text, ":")
		if !found {
			return nil, &FileError{name, n, "no ':' between user name and password hash"}
		}
		user = strings.Trim(user, cSpace)
		if user == "" {
			return nil, &FileError{name, n, "empty user name"}
		}
		if len(user) > 65535 {
			return nil, &FileError{name, n, "user name longer than 65535 bytes"}
		}
		enc, _, _ := strings.Cut(rest, ":")
		h, msg := parseHash(strings.Trim(enc, cSpace))
		if msg != "" {
			return nil, &FileError{name, n, "user " + strconv.Quote(user) + ": " + msg}
		}
		if prev, dup := p.users[user]; dup {
			return nil, &FileError{name, n, "user " + strconv.Quote(user) + " already has an entry on line " +
				strconv.Itoa(prev+1)}
		}
		p.users[user] = len(p.lines)
		p.lines = append(p.lines, pwLine{text: text, user: user, h: &h})
	}
	return p, nil
}

// Len is the number of users.
func (p *Passwords) Len() int { return len(p.users) }

// Has reports whether user has an entry.
func (p *Passwords) Has(user string) bool {
	_, ok := p.users[user]
	return ok
}

// Check reports whether password is user's password. A nil password (the client sent none) never
// matches; an empty non-nil one is checked like any other. As in Mosquitto, which hashes the password
// as a C string, bytes from the first NUL on are ignored.
//
// Check is deliberately slow (a PBKDF2 or Argon2id derivation; an Argon2id entry as mosquitto_passwd
// 2.1 writes it needs 46 MiB for the duration): callers run it on a worker pool, never on an event loop.
// It takes the same time whether the password is right or wrong; an unknown user returns at once.
func (p *Passwords) Check(user string, password []byte) bool {
	i, ok := p.users[user]
	if !ok || password == nil {
		return false
	}
	if z := bytes.IndexByte(password, 0); z >= 0 {
		password = password[:z]
	}
	return p.lines[i].h.verify(password)
}

// Set gives user the password, replacing the user's entry in place or appending a new one, as
// mosquitto_passwd 2.0 does: a "$7$" PBKDF2-SHA512 entry with DefaultIterations and a fresh 12-byte salt.
func (p *Passwords) Set(user string, password []byte) error {
	return p.SetIterations(user, password, DefaultIterations)
}

// SetIterations is Set with a chosen PBKDF2 iteration count (mosquitto_passwd -I).
func (p *Passwords) SetIterations(user string, password []byte, iterations int) error {
	if user == "" || strings.ContainsAny(user, ":\r\n\x00") || strings.Trim(user, cSpace) != user ||
		strings.HasPrefix(user, "#") {
		return ErrBadUsername
	}
	if bytes.IndexByte(password, 0) >= 0 {
		return ErrBadPassword
	}
	if iterations < 1 || iterations > 1<<31-1 {
		return &FileError{Msg: "PBKDF2 iterations must be a whole number from 1 to 2147483647"}
	}
	salt := make([]byte, saltLen)
	rand.Read(salt)
	enc, err := encodePBKDF2(password, salt, iterations)
	if err != nil {
		return err
	}
	h, _ := parseHash(enc)
	line := pwLine{text: user + ":" + enc, user: user, h: &h}
	if p.users == nil {
		p.users = make(map[string]int)
	}
	if i, ok := p.users[user]; ok {
		p.lines[i] = line
		return nil
	}
	p.users[user] = len(p.lines)
	p.lines = append(p.lines, line)
	return nil
}

// Delete removes user's entry (mosquitto_passwd -D).
func (p *Passwords) Delete(user string) error {
	i, ok := p.users[user]
	if !ok {
		return ErrUnknownUser
	}
	p.lines = append(p.lines[:i], p.lines[i+1:]...)
	delete(p.users, user)
	for u, j := range p.users {
		if j > i {
			p.users[u] = j - 1
		}
	}
	return nil
}

// WriteTo writes the file: every line as it was read, changed entries in their place, new ones at the
// end, each line ended by '\n'.
func (p *Passwords) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	for _, l := range p.lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.WriteTo(w)
}

// WriteFile replaces the file at path atomically (a temporary file in the same directory, renamed over
// it), keeping an existing file's permissions, or 0600 for a new one as mosquitto_passwd does.
func (p *Passwords) WriteFile(path string) error {
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := p.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
