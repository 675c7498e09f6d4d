// Package httpstatus records the status an http.Handler wrote, for the
// front doors' audit records.
package httpstatus

import "net/http"

// Writer is an http.ResponseWriter that remembers the first status written
// (200 if the handler wrote a body without one, 0 if it wrote nothing).
type Writer struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records code and passes it on.
func (w *Writer) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 and passes b on.
func (w *Writer) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
