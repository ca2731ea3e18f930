package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
)

// The on-disk format is described in the package documentation.
const (
	segHeaderSize   = 20
	frameHeaderSize = 12
	segVersion      = 1

	// MaxPayload bounds a payload, so that a damaged length can never make
	// recovery allocate more than this.
	MaxPayload = 64 << 20

	// DefaultSegmentBytes is the segment size when Options.SegmentBytes is 0.
	DefaultSegmentBytes = 64 << 20

	segSuffix = ".wal"
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	segMagic   = [6]byte{'C', 'M', 'Q', 'W', 'A', 'L'}
)

func segName(n uint64) string { return fmt.Sprintf("%020d%s", n, segSuffix) }

// parseSegName returns the number of a segment file name, or false for any
// other name.
func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}

func segHeader(n uint64) [segHeaderSize]byte {
	var h [segHeaderSize]byte
	copy(h[:], segMagic[:])
	binary.LittleEndian.PutUint16(h[6:], segVersion)
	binary.LittleEndian.PutUint64(h[8:], n)
	binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], castagnoli))
	return h
}

// checkSegHeader returns why h is not the header of segment n, or "".
func checkSegHeader(h []byte, n uint64) string {
	switch {
	case len(h) < segHeaderSize:
		return "file shorter than the segment header"
	case [6]byte(h[:6]) != segMagic:
		return "bad magic in the segment header"
	case binary.LittleEndian.Uint32(h[16:]) != crc32.Checksum(h[:16], castagnoli):
		return "segment header checksum mismatch"
	case binary.LittleEndian.Uint16(h[6:]) != segVersion:
		return fmt.Sprintf("unsupported segment version %d", binary.LittleEndian.Uint16(h[6:]))
	case binary.LittleEndian.Uint64(h[8:]) != n:
		return fmt.Sprintf("header of segment %d in the file of segment %d", binary.LittleEndian.Uint64(h[8:]), n)
	}
	return ""
}

// tornSegHeader reports whether b, the whole content of the last segment,
// is a header that was being written when the system went down: a prefix
// of the header of segment n followed by nothing but zero bytes.
func tornSegHeader(b []byte, n uint64) bool {
	h := segHeader(n)
	z := nonZeroLen(b)
	return z <= segHeaderSize && string(b[:z]) == string(h[:z])
}

// appendFrame appends the frame of payload to b.
func appendFrame(b, payload []byte) []byte {
	n := uint32(len(payload))
	b = binary.LittleEndian.AppendUint32(b, n)
	b = binary.LittleEndian.AppendUint32(b, ^n)
	b = binary.LittleEndian.AppendUint32(b, frameCRC(b[len(b)-8:len(b)-4], payload))
	return append(b, payload...)
}

// putFrame writes the frame of payload into b, which is exactly
// frameHeaderSize+len(payload) bytes long (a segment's mapping).
func putFrame(b, payload []byte) {
	n := uint32(len(payload))
	binary.LittleEndian.PutUint32(b, n)
	binary.LittleEndian.PutUint32(b[4:], ^n)
	copy(b[frameHeaderSize:], payload)
	binary.LittleEndian.PutUint32(b[8:], frameCRC(b[:4], payload))
}

func frameCRC(length, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, payload)
}

// nonZeroLen returns the length of b without its trailing zero bytes.
func nonZeroLen(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0 {
			return i + 1
		}
	}
	return 0
}

// tornFrame reports whether rest, everything from the start of a bad frame
// to the end of the last segment, is a frame that was being written when
// the system went down rather than damage: a frame header shorter than 12
// bytes, or a prefix of a frame (a consistent length, then any bytes up to
// the frame's declared end) followed by nothing but zero bytes. A frame
// whose declared end is past the end of the file is the second case.
func tornFrame(rest []byte) bool {
	if len(rest) < frameHeaderSize {
		return true
	}
	z := nonZeroLen(rest)
	// The written part of the length check must match the length.
	for i := 4; i < min(z, 8); i++ {
		if rest[i] != ^rest[i-4] {
			return false
		}
	}
	if z <= 8 {
		return true
	}
	n := binary.LittleEndian.Uint32(rest)
	return n <= MaxPayload && int64(z) <= frameHeaderSize+int64(n)
}

// badFrame is a frame that does not check, at offset off of its file.
type badFrame struct {
	off    int64
	reason string
}

func (b *badFrame) Error() string { return fmt.Sprintf("offset %d: %s", b.off, b.reason) }

// frameReader reads the frames of one segment file from segHeaderSize to
// size through a buffer it reuses; a payload it returns is valid until the
// next call.
type frameReader struct {
	f      io.ReaderAt
	size   int64  // end of the frames
	buf    []byte // file bytes [bufOff, bufOff+end)
	bufOff int64
	pos    int // index in buf of the next frame
	end    int
}

const readChunk = 1 << 20

func newFrameReader(f io.ReaderAt, size int64, buf []byte) *frameReader {
	if buf == nil {
		buf = make([]byte, min(readChunk, max(size-segHeaderSize, frameHeaderSize)))
	}
	return &frameReader{f: f, size: size, buf: buf, bufOff: segHeaderSize}
}

// offset returns the file offset of the next frame.
func (r *frameReader) offset() int64 { return r.bufOff + int64(r.pos) }

// fill makes buf[pos:end] hold at least need bytes; the caller has checked
// that the file has them.
func (r *frameReader) fill(need int) error {
	if r.end-r.pos >= need {
		return nil
	}
	if r.pos > 0 {
		copy(r.buf, r.buf[r.pos:r.end])
		r.end -= r.pos
		r.bufOff += int64(r.pos)
		r.pos = 0
	}
	if need > len(r.buf) {
		nb := make([]byte, need)
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	want := min(int64(len(r.buf)-r.end), r.size-r.bufOff-int64(r.end))
	n, err := r.f.ReadAt(r.buf[r.end:r.end+int(want)], r.bufOff+int64(r.end))
	r.end += n
	if r.end-r.pos >= need {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// next returns the next payload, io.EOF at the end, a *badFrame for a frame
// that does not check, or a read error.
func (r *frameReader) next() ([]byte, error) {
	off := r.offset()
	if off >= r.size {
		return nil, io.EOF
	}
	if r.size-off < frameHeaderSize {
		return nil, &badFrame{off, "incomplete frame header"}
	}
	if err := r.fill(frameHeaderSize); err != nil {
		return nil, err
	}
	h := r.buf[r.pos : r.pos+frameHeaderSize]
	n := binary.LittleEndian.Uint32(h)
	if binary.LittleEndian.Uint32(h[4:]) != ^n {
		return nil, &badFrame{off, "bad frame length check"}
	}
	if n > MaxPayload {
		return nil, &badFrame{off, fmt.Sprintf("frame length %d over the bound %d", n, MaxPayload)}
	}
	if end := off + frameHeaderSize + int64(n); end > r.size {
		return nil, &badFrame{off, fmt.Sprintf("frame ends at %d, past the end of the file at %d", end, r.size)}
	}
	if err := r.fill(frameHeaderSize + int(n)); err != nil {
		return nil, err
	}
	h = r.buf[r.pos : r.pos+frameHeaderSize]
	p := r.buf[r.pos+frameHeaderSize : r.pos+frameHeaderSize+int(n)]
	if binary.LittleEndian.Uint32(h[8:]) != frameCRC(h[:4], p) {
		return nil, &badFrame{off, "frame checksum mismatch"}
	}
	r.pos += frameHeaderSize + int(n)
	return p, nil
}

var errShortRead = errors.New("wal: short read")

// readAll reads [off, off+n) of f.
func readAll(f io.ReaderAt, off, n int64) ([]byte, error) {
	b := make([]byte, n)
	m, err := f.ReadAt(b, off)
	if int64(m) == n {
		return b, nil
	}
	if err == nil || err == io.EOF {
		err = errShortRead
	}
	return nil, err
}

// zeroPadding reports whether [off, size) of f is a zero frame header
// followed by nothing but zero bytes: the unused end of a preallocated
// segment. It reads in chunks, so a large padding costs no large buffer.
func zeroPadding(f io.ReaderAt, off, size int64) (bool, error) {
	if size-off < frameHeaderSize {
		return false, nil
	}
	buf := make([]byte, min(size-off, 64<<10))
	for off < size {
		b := buf[:min(int64(len(buf)), size-off)]
		m, err := f.ReadAt(b, off)
		if m < len(b) {
			if err == nil || err == io.EOF {
				err = errShortRead
			}
			return false, err
		}
		if nonZeroLen(b) != 0 {
			return false, nil
		}
		off += int64(m)
	}
	return true, nil
}
