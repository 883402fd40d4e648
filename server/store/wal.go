package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	iofs "io/fs"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/vfs"
)

// ErrCorruptLog: a write-ahead log holds valid records after a damaged one.
var ErrCorruptLog = errors.New("store: write-ahead log corrupt in the middle")

// Pebble v1 replays the newest write-ahead log up to its first invalid chunk and treats that
// as the end of the log: a torn write at a crash looks like that. A flipped byte in the middle
// looks like that too, and pebble would then drop every later record, including acknowledged
// ones, without a word. checkLogs tells the two apart before pebble opens the directory: after
// a torn write nothing valid follows, so a valid chunk of the same log after the first invalid
// one means the log is corrupt.
//
// The chunk format is pebble's record package (v1.1): 32 KiB blocks; WAL chunks carry the
// recyclable header checksum:u32le length:u16le type:u8 logNum:u32le, types 5-8, and the
// checksum is the masked CRC-32C of type, logNum and payload.
const (
	logBlockSize  = 32 << 10
	logHeaderSize = 11
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func maskedCRC(b []byte) uint32 {
	c := crc32.Update(0, castagnoli, b)
	return (c>>15 | c<<17) + 0xa282ead8
}

// validChunk reports whether a well-formed chunk of log logNum starts at data[p:], and its size.
func validChunk(data []byte, p int, logNum uint32) (int, bool) {
	if p+logHeaderSize > len(data) || logBlockSize-p%logBlockSize < logHeaderSize {
		return 0, false
	}
	h := data[p:]
	typ := h[6]
	if typ < 5 || typ > 8 || binary.LittleEndian.Uint32(h[7:11]) != logNum {
		return 0, false
	}
	n := int(binary.LittleEndian.Uint16(h[4:6]))
	end := p + logHeaderSize + n
	if end > len(data) || p%logBlockSize+logHeaderSize+n > logBlockSize {
		return 0, false
	}
	if binary.LittleEndian.Uint32(h[0:4]) != maskedCRC(data[p+6:end]) {
		return 0, false
	}
	return logHeaderSize + n, true
}

// logEnd returns the offset of the first byte of data that is not a valid chunk of logNum
// (or block padding): where pebble stops replaying.
func logEnd(data []byte, logNum uint32) int {
	p := 0
	for p < len(data) {
		if rest := logBlockSize - p%logBlockSize; rest < logHeaderSize { // block padding
			p += rest
			continue
		}
		n, ok := validChunk(data, p, logNum)
		if !ok {
			break
		}
		p += n
	}
	return min(p, len(data))
}

// checkLog returns ErrCorruptLog if a valid chunk follows the first invalid one in data. A log
// closed cleanly ends in an EOF trailer chunk of the next log number, which is not valid here
// and ends the log as it should.
func checkLog(data []byte, logNum uint32) error {
	p := logEnd(data, logNum)
	for q := p + 1; q < len(data); q++ {
		if _, ok := validChunk(data, q, logNum); ok {
			return fmt.Errorf("%w: damaged at or after offset %d, valid record at offset %d", ErrCorruptLog, p, q)
		}
	}
	return nil
}

// checkLogs runs checkLog on every write-ahead log in dir.
func checkLogs(fs vfs.FS, dir string) error {
	names, err := fs.List(dir)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) { // a store still to be created
			return nil
		}
		return err
	}
	for _, name := range names {
		num, ok := strings.CutSuffix(name, ".log")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			continue
		}
		f, err := fs.Open(fs.PathJoin(dir, name))
		if err != nil {
			return err
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		if err := checkLog(data, uint32(n)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}
