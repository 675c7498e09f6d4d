package audit

import "testing"

func TestResultOf(t *testing.T) {
	for status, want := range map[int]string{200: Allowed, 201: Allowed, 204: Allowed, 400: Failed, 401: Denied, 403: Denied, 404: Failed, 500: Failed} {
		if got := ResultOf(status); got != want {
			t.Errorf("ResultOf(%d) = %s, want %s", status, got, want)
		}
	}
}
