package sqlite

import (
	"testing"

	"github.com/tresorkms/tresor/rbac"
	"github.com/tresorkms/tresor/rbac/rbactest"
)

func TestRBACStore(t *testing.T) {
	rbactest.TestStore(t, func(t *testing.T) rbac.Store { return openTest(t) })
}
