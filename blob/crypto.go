package blob

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/tresorkms/tresor"
)

// ChunkSize is the plaintext size of the chunks that blocks are sealed in.
// 64 KiB keeps the overhead of a chunk (its 16-byte tag) at 0.02% and a
// small ranged read from decrypting much more than it returns.
const ChunkSize = 64 << 10

// Sizes of the key hierarchy.
const (
	AccountKeySize = 32 // an encryption scope's key, such as the account encryption key
	dataKeySize    = 32 // a block's data key
	tagSize        = 16 // AES-GCM tag
	nonceSize      = 12 // AES-GCM nonce
)

// format is the version of the sealing scheme; it prefixes all additional
// data so that a later scheme cannot be confused with this one.
const format = 1

// scopeKeys are the subkeys of an encryption scope's key.
type scopeKeys struct {
	scope string      // "" is the account encryption key
	wrap  cipher.AEAD // wraps data keys
	meta  cipher.AEAD // seals blob metadata
}

// deriveKeys derives the subkeys of an encryption scope's key, the same way
// for every scope.
func deriveKeys(key []byte) (*scopeKeys, error) {
	if len(key) != AccountKeySize {
		return nil, tresor.Wrap(fmt.Errorf("scope key is %d bytes, want %d", len(key), AccountKeySize), "blob: derive keys")
	}
	var k scopeKeys
	for _, sub := range []struct {
		purpose string
		aead    *cipher.AEAD
	}{{"data keys", &k.wrap}, {"metadata", &k.meta}} {
		subkey, err := hkdf.Key(sha256.New, key, nil, "tresor blob v1: "+sub.purpose, 32)
		if err != nil {
			return nil, tresor.Wrap(err, "blob: derive keys")
		}
		if *sub.aead, err = newGCM(subkey); err != nil {
			return nil, err
		}
	}
	return &k, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, tresor.Wrap(err, "blob: cipher")
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, tresor.Wrap(err, "blob: cipher")
	}
	return aead, nil
}

// binding builds additional data: the format, a purpose, and each field
// prefixed with its length, so that no two field lists give the same bytes.
func binding(purpose string, p Path, extra []byte) []byte {
	b := []byte{format}
	for _, f := range []string{purpose, p.Account, p.Container, p.Blob} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return append(b, extra...)
}

// blockBinding binds a data key to its blob and to the block's ID, size and
// chunk size.
func blockBinding(p Path, b Block) []byte {
	extra := make([]byte, 0, len(b.ID)+16)
	extra = append(extra, b.ID[:]...)
	extra = binary.BigEndian.AppendUint64(extra, uint64(b.Size))
	extra = binary.BigEndian.AppendUint64(extra, uint64(b.ChunkSize))
	return binding("data key", p, extra)
}

// wrapKey wraps the data key of block b of the blob at p. It returns the
// nonce followed by the sealed key.
func (k *scopeKeys) wrapKey(p Path, b Block, dataKey []byte) []byte {
	return sealRandom(k.wrap, dataKey, blockBinding(p, b))
}

// unwrapKey returns the data key of block b of the blob at p. An error
// means the block was not written for p or in this scope: the store was
// tampered with or damaged.
func (k *scopeKeys) unwrapKey(p Path, b Block) ([]byte, error) {
	key, err := openRandom(k.wrap, b.Key, blockBinding(p, b))
	if err != nil {
		return nil, tresor.Wrap(fmt.Errorf("data key of block %s of %s does not open", b.ID, p), "blob: unwrap")
	}
	return key, nil
}

// sealMetadata seals md for the blob at p; nil if md is empty.
func (k *scopeKeys) sealMetadata(p Path, md Metadata) []byte {
	if len(md) == 0 {
		return nil
	}
	plain, err := json.Marshal(md) // sorted keys, so equal metadata seals the same way
	if err != nil {
		panic("blob: marshal metadata: " + err.Error()) // a map of strings always marshals
	}
	return sealRandom(k.meta, plain, binding("metadata", p, nil))
}

// openMetadata opens the metadata of the blob at p.
func (k *scopeKeys) openMetadata(p Path, sealed []byte) (Metadata, error) {
	if sealed == nil {
		return nil, nil
	}
	plain, err := openRandom(k.meta, sealed, binding("metadata", p, nil))
	if err != nil {
		return nil, tresor.Wrap(fmt.Errorf("metadata of %s does not open", p), "blob: open metadata")
	}
	var md Metadata
	if err := json.Unmarshal(plain, &md); err != nil {
		return nil, tresor.Wrap(err, "blob: open metadata")
	}
	return md, nil
}

func sealRandom(aead cipher.AEAD, plain, ad []byte) []byte {
	out := make([]byte, nonceSize, nonceSize+len(plain)+tagSize)
	rand.Read(out) // never fails
	return aead.Seal(out, out, plain, ad)
}

func openRandom(aead cipher.AEAD, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < nonceSize+tagSize {
		return nil, fmt.Errorf("sealed value is %d bytes", len(sealed))
	}
	return aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], ad)
}

// A chunkCipher seals and opens the chunks of one block under its data key.
type chunkCipher struct {
	aead cipher.AEAD
	id   BlockID
}

func newChunkCipher(id BlockID, dataKey []byte) (chunkCipher, error) {
	aead, err := newGCM(dataKey)
	return chunkCipher{aead: aead, id: id}, err
}

// nonceAndAD returns chunk i's nonce (its index: a data key seals one block
// once) and additional data (the block ID and the index).
func (c chunkCipher) nonceAndAD(i int64) (nonce, ad []byte) {
	var buf [nonceSize + 1 + len(BlockID{}) + 8]byte
	binary.BigEndian.PutUint64(buf[4:nonceSize], uint64(i))
	ad = buf[nonceSize:nonceSize]
	ad = append(ad, format)
	ad = append(ad, c.id[:]...)
	ad = binary.BigEndian.AppendUint64(ad, uint64(i))
	return buf[:nonceSize], ad
}

// seal appends chunk i, sealed, to dst.
func (c chunkCipher) seal(dst, plain []byte, i int64) []byte {
	nonce, ad := c.nonceAndAD(i)
	return c.aead.Seal(dst, nonce, plain, ad)
}

// open appends the plaintext of sealed chunk i to dst.
func (c chunkCipher) open(dst, sealed []byte, i int64) ([]byte, error) {
	nonce, ad := c.nonceAndAD(i)
	out, err := c.aead.Open(dst, nonce, sealed, ad)
	if err != nil {
		return nil, tresor.Wrap(fmt.Errorf("chunk %d of block %s does not open", i, c.id), "blob: open chunk")
	}
	return out, nil
}

// sealedSize returns the size of a block of size plaintext bytes sealed in
// chunks of chunkSize.
func sealedSize(size int64, chunkSize int) int64 {
	n := (size + int64(chunkSize) - 1) / int64(chunkSize)
	return size + n*tagSize
}
