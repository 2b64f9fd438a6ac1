package lease_test

import (
	"testing"

	"github.com/charter-dev/charter/lease"
	"github.com/charter-dev/charter/lease/leasetest"
)

func TestLocal(t *testing.T) {
	shared := &lease.Local{}
	leasetest.Test(t, func(t *testing.T) lease.Store { return shared })
}
