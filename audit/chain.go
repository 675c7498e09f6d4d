package audit

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"sync"

	"github.com/tresorkms/tresor"
)

// RootKeySize is the length of the server's root key in bytes.
const RootKeySize = 32

// MACSize is the length of a record's MAC in bytes.
const MACSize = sha256.Size

// genesis is MAC_0, the value that record 1 chains from.
var genesis = make([]byte, MACSize)

// Chain computes the MACs that link records. It is safe for concurrent use.
type Chain struct {
	// pool holds *macStates: keyed HMACs and buffers to reuse, since the
	// Log's writer computes one MAC per record.
	pool sync.Pool
}

type macState struct {
	h   hash.Hash
	buf []byte
}

// NewMAC returns the Chain keyed by the audit key derived from root, the
// server's 32-byte root key. It returns Invalid if root has another length.
func NewMAC(root []byte) (*Chain, error) {
	if len(root) != RootKeySize {
		return nil, tresor.Errorf(tresor.Invalid, "audit: root key is %d bytes, want %d", len(root), RootKeySize)
	}
	key, err := hkdf.Key(sha256.New, root, nil, "tresor/audit/v1", sha256.Size)
	if err != nil {
		return nil, tresor.Wrap(err, "audit: derive key")
	}
	c := &Chain{}
	c.pool.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return c, nil
}

// Next returns the MAC of r given prev, the MAC of the record before it
// (nil or 32 zero bytes for the first record). r.MAC is ignored.
func (c *Chain) Next(prev []byte, r Record) []byte {
	if prev == nil {
		prev = genesis
	}
	st := c.pool.Get().(*macState)
	defer c.pool.Put(st)
	st.h.Reset()
	st.h.Write(prev)
	st.buf = canonical(st.buf[:0], r)
	st.h.Write(st.buf)
	return st.h.Sum(make([]byte, 0, MACSize))
}

// canonical appends to b an unambiguous encoding of r without its MAC:
// fixed-size integers and length-prefixed strings in a fixed order, the time
// as nanoseconds since the Unix epoch (which is independent of the time
// zone). A version byte leads so that a future encoding cannot collide with
// this one.
func canonical(b []byte, r Record) []byte {
	strs := [...]string{
		r.RequestID,
		r.Principal.TenantID, r.Principal.ObjectID, r.Principal.AppID, r.Principal.Name, string(r.Principal.Type),
		r.Operation, r.ResourceID, r.KeyVersion, r.Result,
	}
	b = append(b, 1)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Time.UnixNano()))
	for _, s := range strs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(int64(r.Status)))
	return b
}

// Head identifies the end of a log: the Seq and MAC of its last record.
// Because each MAC covers every record before it, a Head anchored outside
// the database proves the whole log up to it. The zero Head is an empty log.
type Head struct {
	Seq int64
	MAC []byte
}

// String formats h as "SEQ:MACHEX", the form ParseHead reads.
func (h Head) String() string {
	return strconv.FormatInt(h.Seq, 10) + ":" + hex.EncodeToString(h.MAC)
}

// ParseHead parses a Head formatted by Head.String. It returns Invalid if s
// is malformed.
func ParseHead(s string) (Head, error) {
	seq, mac, ok := strings.Cut(s, ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 0 {
		return Head{}, tresor.Errorf(tresor.Invalid, "audit: head %q is not SEQ:MACHEX", s)
	}
	b, err := hex.DecodeString(mac)
	if err != nil || (n > 0 && len(b) != MACSize) || (n == 0 && len(b) != 0 && len(b) != MACSize) {
		return Head{}, tresor.Errorf(tresor.Invalid, "audit: head %q: MAC is not %d hex-encoded bytes", s, MACSize)
	}
	return Head{Seq: n, MAC: b}, nil
}

// headOf returns the Head that ends with r.
func headOf(r Record) Head { return Head{Seq: r.Seq, MAC: r.MAC} }

func (h Head) mac() []byte {
	if h.Seq == 0 {
		return genesis
	}
	return h.MAC
}
