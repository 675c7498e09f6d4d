package rbactest

import (
	"testing"

	"github.com/tresorkms/tresor/rbac"
)

func TestMemStore(t *testing.T) {
	TestStore(t, func(*testing.T) rbac.Store { return NewMemStore() })
}
