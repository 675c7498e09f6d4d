package identitytest

import (
	"testing"

	"github.com/tresorkms/tresor/identity"
)

func TestMemStore(t *testing.T) {
	TestStore(t, func(testing.TB) identity.Store { return &MemStore{} })
}
