package compute

// SetRotationBatch makes rotations move n artifact keys per transaction
// until the returned function restores the default.
func SetRotationBatch(n int) (restore func()) {
	old := rotationBatch
	rotationBatch = n
	return func() { rotationBatch = old }
}
