package blob

// DataKey unwraps the data key of block b of the blob at p under the
// account key aek, for tests that look for it on disk.
func DataKey(aek []byte, p Path, b Block) ([]byte, error) {
	k, err := deriveKeys(aek)
	if err != nil {
		return nil, err
	}
	return k.unwrapKey(p, b)
}

// Successor is successor, for tests.
var Successor = successor
