package main

import "github.com/charter-dev/charter/client"

// UploadClient returns a client that signs uploads with the user's key
// (--key): the server stores only signed uploads and charges them to the
// key's quota.
func (e *Env) UploadClient() (*client.Client, error) {
	c, err := e.Client()
	if err != nil {
		return nil, err
	}
	k, err := loadKey(e)
	if err != nil {
		return nil, err
	}
	return c.WithKey(k), nil
}
