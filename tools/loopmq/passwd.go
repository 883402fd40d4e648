package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"loopmq/server/auth"
)

const passwdUsage = `usage: loopmq passwd [-c | -D] FILE USER
       loopmq passwd -b [-c] FILE USER PASSWORD

Adds, changes (-b or a prompt) or deletes (-D) USER in a Mosquitto password file, as mosquitto_passwd does:
the entry is "$7$" PBKDF2-SHA512 with 101 iterations and a 12-byte salt, other lines are kept, and the file is
replaced atomically. -c creates the file, replacing one that exists.`

// runPasswd is `loopmq passwd`, mosquitto_passwd's -b, -c and -D. Without -b the password is asked twice on
// the terminal without echo (or read as two lines from in when it is not a terminal).
func runPasswd(args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet("loopmq passwd", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() { fmt.Fprintln(out, passwdUsage) }
	batch := fs.Bool("b", false, "take the password from the command line")
	create := fs.Bool("c", false, "create a new file, replacing an existing one")
	del := fs.Bool("D", false, "delete the user")
	if err := fs.Parse(args); err != nil {
		return err
	}
	a := fs.Args()
	want := 2
	if *batch {
		want = 3
	}
	switch {
	case *create && *del:
		return errors.New("passwd: -c and -D cannot be used together")
	case *batch && *del:
		return errors.New("passwd: -b and -D cannot be used together")
	case len(a) != want:
		fs.Usage()
		return errors.New("passwd: wrong number of arguments")
	}
	file, user := a[0], a[1]

	var pw *auth.Passwords
	if *create {
		pw, _ = auth.ParsePasswords(file, nil)
	} else {
		var err error
		if pw, err = auth.LoadPasswordFile(file); err != nil {
			return fmt.Errorf("passwd: %w", err)
		}
	}
	if *del {
		if err := pw.Delete(user); err != nil {
			return fmt.Errorf("passwd: %s: %w", user, err)
		}
		return pw.WriteFile(file)
	}
	var password []byte
	if *batch {
		password = []byte(a[2])
	} else {
		var err error
		if password, err = promptPassword(in, out); err != nil {
			return fmt.Errorf("passwd: %w", err)
		}
	}
	if err := pw.Set(user, password); err != nil {
		return fmt.Errorf("passwd: %w", err)
	}
	return pw.WriteFile(file)
}

// promptPassword asks for the password twice, as mosquitto_passwd does, and refuses an empty one or two that
// differ.
func promptPassword(in io.Reader, out io.Writer) ([]byte, error) {
	r := bufio.NewReader(in)
	first, err := readSecret(r, in, out, "Password: ")
	if err != nil {
		return nil, err
	}
	if len(first) == 0 {
		return nil, errors.New("empty password")
	}
	second, err := readSecret(r, in, out, "Reenter password: ")
	if err != nil {
		return nil, err
	}
	if string(first) != string(second) {
		return nil, errors.New("passwords do not match")
	}
	return first, nil
}

// readSecret prints prompt and reads one line, with echo turned off when in is a terminal.
func readSecret(r *bufio.Reader, in io.Reader, out io.Writer, prompt string) ([]byte, error) {
	fmt.Fprint(out, prompt)
	if f, ok := in.(*os.File); ok {
		fd := int(f.Fd())
		if old, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			quiet := *old
			quiet.Lflag &^= unix.ECHO
			quiet.Lflag |= unix.ICANON | unix.ISIG
			if err := unix.IoctlSetTermios(fd, unix.TCSETS, &quiet); err == nil {
				defer func() {
					_ = unix.IoctlSetTermios(fd, unix.TCSETS, old)
					fmt.Fprintln(out)
				}()
			}
		}
	}
	line, err := r.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		if err == io.EOF {
			return nil, errors.New("no password given")
		}
		return nil, err
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
	}
	return []byte(line), nil
}
