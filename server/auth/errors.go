package auth

import (
	"errors"
	"strconv"
)

// FileError is a line of a password or ACL file that cannot be read. File and Line (1-based) say
// where; Msg says which rule of the format the line breaks.
type FileError struct {
	File string
	Line int
	Msg  string
}

// Error formats the error as "file:line: what was wrong", the form editors and compilers use.
func (e *FileError) Error() string {
	name := e.File
	if name == "" {
		name = "<input>"
	}
	return name + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// ErrUnknownUser is returned by Delete for a user name that has no entry.
var ErrUnknownUser = errors.New("auth: no such user in the password file")

// ErrBadUsername is returned by Set for a user name the password file cannot hold: empty, with a colon,
// a line break or a NUL, or with leading or trailing white space (Mosquitto trims it when reading).
var ErrBadUsername = errors.New("auth: user name is empty, starts with '#' or contains ':', white space at its ends, a line break or NUL")

// ErrBadPassword is returned by Set for a password with a NUL byte: Mosquitto hashes the password as a
// C string, so the bytes after the NUL would never count.
var ErrBadPassword = errors.New("auth: password contains a NUL byte")
