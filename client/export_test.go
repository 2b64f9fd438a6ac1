package client

// SetSerialHash makes a put hash its input on one goroutine at every size,
// as before content.Hash, and returns the previous setting.
func SetSerialHash(on bool) (was bool) { was, serialHash = serialHash, on; return was }
