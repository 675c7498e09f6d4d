package armtest

import (
	"testing"

	"github.com/tresorkms/tresor/arm"
)

func TestMemStore(t *testing.T) {
	TestStore(t, func(*testing.T) arm.Store { return NewMemStore() })
}
