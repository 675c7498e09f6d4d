package keyvault_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"math/big"

	"github.com/tresorkms/tresor/hsm"
)

func rsaPublic(p hsm.PublicKey) *rsa.PublicKey {
	return &rsa.PublicKey{N: new(big.Int).SetBytes(p.N), E: int(new(big.Int).SetBytes(p.E).Int64())}
}

func rsaEncryptOAEP256(pub *rsa.PublicKey, msg []byte) ([]byte, error) {
	return rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, msg, nil)
}

func asError[T error](err error, target *T) bool { return errors.As(err, target) }
