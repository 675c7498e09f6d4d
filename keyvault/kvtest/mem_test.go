package kvtest

import (
	"testing"

	"github.com/tresorkms/tresor/keyvault"
)

func TestMemStore(t *testing.T) {
	TestStore(t, func(*testing.T) keyvault.Store { return NewMemStore() })
}

func TestCachedMemStore(t *testing.T) {
	TestStore(t, func(*testing.T) keyvault.Store { return keyvault.Cached(NewMemStore()) })
}
