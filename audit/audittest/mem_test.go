package audittest

import (
	"testing"

	"github.com/tresorkms/tresor/audit"
)

func TestMemStore(t *testing.T) {
	TestStore(t, func(*testing.T) audit.Store { return NewMemStore() })
}
